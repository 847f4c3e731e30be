/* test_logfd.c - the library's own descriptors and its one-owner state
 * (issue 12): the log holds no descriptor and never writes into one the
 * program owns, log and rules files that are not regular files are refused
 * without blocking, dlopen/dlclose leaks nothing, settings made before our
 * constructor survive it, and a second copy of the library stays out of the
 * way. The oracle is the same program run without the library. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define T         20 /* seconds a spawned program may take */
#define T_REFUSED 5  /* seconds a refused configuration may take: it must not block */

TestSuite(logfd, .timeout = 120);
TestSuite(early, .timeout = 60);
TestSuite(copies, .timeout = 60);

static void run_ok(struct run_result *r, const char *const argv[], const char *const env[], int preload)
{
    cr_assert_eq(run(r, argv, env, preload, NULL, T), 0, "could not run %s", argv[0]);
    cr_assert(!r->timed_out, "%s timed out", argv[0]);
}

/* The whole file (malloc'd, NUL-terminated; "" when it cannot be read). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = calloc(1, 65536);
    cr_assert(text);
    if (f) {
        size_t n = fread(text, 1, 65535, f);
        text[n] = '\0';
        fclose(f);
    }
    return text;
}

struct scratch {
    char dir[64];
    char log[128];     /* dir/trace.log */
    char env_log[160]; /* SENDSHIM_LOG=dir/trace.log */
};

static void scratch_make(struct scratch *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/sendshim-logfd-XXXXXX");
    cr_assert(mkdtemp(s->dir));
    snprintf(s->log, sizeof s->log, "%s/trace.log", s->dir);
    snprintf(s->env_log, sizeof s->env_log, "SENDSHIM_LOG=%s", s->log);
}

static void scratch_remove(struct scratch *s)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    cr_expect_eq(system(cmd), 0);
}

/* --- the log holds no descriptor -------------------------------------------------- */

Test(logfd, log_file_leaves_the_program_only_its_own_descriptors)
{
    struct scratch s;
    scratch_make(&s);
    const char *argv[] = {target_path("logfd_prog"), "fds", NULL};
    const char *env[] = {s.env_log, "SENDSHIM_TRACE=1", "SENDSHIM_STATS=1", NULL};
    struct run_result plain, pre;
    run_ok(&plain, argv, NULL, 0);
    run_ok(&pre, argv, env, 1);
    cr_expect_eq(pre.status, 0, "%s", pre.err);
    cr_expect_str_eq(plain.out, "fds 0 1 2 3 4\n");
    cr_expect_str_eq(pre.out, plain.out, "the library left a descriptor open: %s", pre.out);
    char *log = slurp(s.log);
    cr_expect_eq(count_lines(log, "trace: send(fd=3, 1 byte, flags=0) = 1"), 1, "%s", log);
    cr_expect_eq(count_lines(log, "stats: send calls=1 failed=0 bytes=1"), 1, "%s", log);
    free(log);
    run_free(&plain);
    run_free(&pre);
    scratch_remove(&s);
}

/* CPython's test_subprocess (test_pass_fds_redirected) checks exactly this:
 * the descriptors a child sees are the ones it was given. */
Test(logfd, python3_lists_the_same_descriptors_with_a_log_file)
{
    if (!have_program("python3"))
        cr_skip_test("python3 is not installed");
    struct scratch s;
    scratch_make(&s);
    const char *argv[] = {"python3", "-c",
                          "import os, socket\n"
                          "a, b = socket.socketpair()\n"
                          "a.send(b'x')\n"
                          "print(sorted(int(f) for f in os.listdir('/proc/self/fd')))\n",
                          NULL};
    const char *env[] = {s.env_log, "SENDSHIM_TRACE=1", "SENDSHIM_STATS=1", NULL};
    struct run_result plain, pre;
    run_ok(&plain, argv, NULL, 0);
    run_ok(&pre, argv, env, 1);
    cr_expect_eq(pre.status, 0, "%s", pre.err);
    cr_expect_str_eq(pre.out, plain.out);
    char *log = slurp(s.log);
    cr_expect_geq(count_lines(log, "trace: send(fd="), 1, "%s", log);
    free(log);
    run_free(&plain);
    run_free(&pre);
    scratch_remove(&s);
}

/* closefrom(3) closes whatever the library held without a close() call; a
 * file the program then puts at 700 (where the log descriptor used to live)
 * must get the program's line only. */
Test(logfd, closefrom_then_a_program_file_at_700_gets_no_log_line)
{
    struct scratch s;
    scratch_make(&s);
    char file[160];
    snprintf(file, sizeof file, "%s/program.out", s.dir);
    const char *argv[] = {target_path("logfd_prog"), "closefrom", file, NULL};
    const char *env[] = {s.env_log, "SENDSHIM_TRACE=1", NULL};
    struct run_result plain, pre;
    run_ok(&plain, argv, NULL, 0);
    cr_expect_eq(plain.status, 0, "%s", plain.err);
    char *want = slurp(file);
    cr_expect_str_eq(want, "program line\n");
    run_ok(&pre, argv, env, 1);
    cr_expect_eq(pre.status, 0, "%s", pre.err);
    char *got = slurp(file);
    cr_expect_str_eq(got, want, "the program's file got: %s", got);
    char *log = slurp(s.log);
    cr_expect_eq(count_lines(log, "trace: send(fd=3, 1 byte, flags=0) = 1"), 1, "the log lost its line: %s",
                 log);
    free(want);
    free(got);
    free(log);
    run_free(&plain);
    run_free(&pre);
    scratch_remove(&s);
}

/* stderr (the default log) closed by the program, and descriptor 2 reused
 * for a socket: the peer must receive the program's bytes only. */
Test(logfd, stderr_reused_for_a_socket_gets_no_trace_bytes)
{
    struct scratch s;
    scratch_make(&s);
    char out[160];
    snprintf(out, sizeof out, "%s/peer.out", s.dir);
    const char *argv[] = {target_path("logfd_prog"), "stderr-socket", out, NULL};
    const char *env[] = {"SENDSHIM_TRACE=1", NULL};
    struct run_result plain, pre;
    run_ok(&plain, argv, NULL, 0);
    cr_expect_eq(plain.status, 0);
    char *want = slurp(out);
    cr_expect_str_eq(want, "sent 4, peer got 4 'data'\n");
    run_ok(&pre, argv, env, 1);
    cr_expect_eq(pre.status, 0);
    char *got = slurp(out);
    cr_expect_str_eq(got, want);
    free(want);
    free(got);
    run_free(&plain);
    run_free(&pre);
    scratch_remove(&s);
}

/* stderr that stays what it was still gets the lines. */
Test(logfd, stderr_unchanged_still_gets_the_lines)
{
    const char *argv[] = {target_path("logfd_prog"), "fds", NULL};
    const char *env[] = {"SENDSHIM_TRACE=1", NULL};
    struct run_result r;
    run_ok(&r, argv, env, 1);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(count_lines(r.err, "trace: send(fd=3, 1 byte, flags=0) = 1"), 1, "%s", r.err);
    run_free(&r);
}

/* A descriptor 2 that is already a socket when the program starts (inetd
 * puts the client there) gets no line: it would be data to the peer. */
Test(logfd, python3_child_whose_stderr_is_a_socket_at_start_gets_no_line)
{
    if (!have_program("python3"))
        cr_skip_test("python3 is not installed");
    const char *argv[] = {
        "python3", "-c",
        "import socket, subprocess, sys\n"
        "a, b = socket.socketpair()\n"
        "subprocess.run([sys.argv[1], 'fds'], stderr=b.fileno(), stdout=subprocess.DEVNULL)\n"
        "b.close()\n"
        "print(repr(a.recv(4096)))\n",
        target_path("logfd_prog"), NULL};
    const char *env[] = {"SENDSHIM_TRACE=1", NULL};
    struct run_result plain, pre;
    run_ok(&plain, argv, NULL, 0);
    run_ok(&pre, argv, env, 1);
    cr_expect_eq(pre.status, 0, "%s", pre.err);
    cr_expect_str_eq(plain.out, "b''\n");
    cr_expect_str_eq(pre.out, plain.out, "the peer on stderr got our line");
    run_free(&plain);
    run_free(&pre);
}

/* A relative SENDSHIM_LOG names a file under the directory the program
 * started in, even after the program changes directory. */
Test(logfd, python3_relative_log_path_stays_where_the_program_started)
{
    if (!have_program("python3"))
        cr_skip_test("python3 is not installed");
    struct scratch s;
    scratch_make(&s);
    char elsewhere[160], moved[200], script[2048];
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", s.dir);
    cr_assert_eq(mkdir(elsewhere, 0700), 0);
    snprintf(moved, sizeof moved, "%s/trace.log", elsewhere);
    /* Only python3 gets the library and the relative path: a preloaded
     * shell would create trace.log in the runner's own directory. */
    snprintf(script, sizeof script,
             "cd '%s' && LD_PRELOAD='%s' SENDSHIM_LOG=trace.log SENDSHIM_TRACE=1 exec python3 -c "
             "\"import os, socket; os.chdir('elsewhere'); a, b = socket.socketpair(); a.send(b'x')\"",
             s.dir, lib_path());
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    struct run_result r;
    run_ok(&r, argv, NULL, 0);
    cr_expect_eq(r.status, 0, "%s", r.err);
    char *log = slurp(s.log);
    cr_expect_geq(count_lines(log, "trace: send(fd="), 1, "%s", log);
    cr_expect_neq(access(moved, F_OK), 0, "the log moved with the program's chdir");
    free(log);
    run_free(&r);
    scratch_remove(&s);
}

/* --- files that are not regular files ---------------------------------------------------- */

struct refused {
    const char *var;  /* SENDSHIM_LOG or SENDSHIM_FAULTS_FILE */
    const char *path; /* NULL: the FIFO made by the test */
    const char *kind; /* what the line calls it */
};

Test(logfd, fifo_device_or_directory_is_refused_at_once_with_status_2)
{
    struct scratch s;
    scratch_make(&s);
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/fifo", s.dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    static const struct refused cases[] = {
        {"SENDSHIM_LOG", NULL, "a FIFO"},
        {"SENDSHIM_FAULTS_FILE", NULL, "a FIFO"},
        {"SENDSHIM_LOG", "/dev/null", "a character device"},
        {"SENDSHIM_FAULTS_FILE", "/dev/zero", "a character device"},
        {"SENDSHIM_LOG", "/tmp", "a directory"},
        {"SENDSHIM_FAULTS_FILE", "/tmp", "a directory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = cases[i].path ? cases[i].path : fifo;
        char assignment[256], want[512];
        snprintf(assignment, sizeof assignment, "%s=%s", cases[i].var, path);
        snprintf(want, sizeof want, "]: %s: cannot %s '%s' (%s); accepted: ", cases[i].var,
                 !strcmp(cases[i].var, "SENDSHIM_LOG") ? "open" : "read", path, cases[i].kind);
        const char *argv[] = {target_path("sendprog"), "udp", "send:x", NULL};
        const char *env[] = {assignment, NULL};
        struct run_result r;
        cr_assert_eq(run(&r, argv, env, 1, NULL, T_REFUSED), 0);
        cr_expect(!r.timed_out, "%s: blocked", assignment);
        cr_expect(r.exited && r.status == 2, "%s: status %d", assignment, r.status);
        cr_expect_str_empty(r.out, "%s: main ran", assignment);
        cr_expect(r.err_len > 0 && strchr(r.err, '\n') == r.err + r.err_len - 1, "%s: not one line: %s",
                  assignment, r.err);
        cr_expect(strstr(r.err, want), "%s: want '%s', got %s", assignment, want, r.err);
        run_free(&r);
    }
    scratch_remove(&s);
}

/* --- dlopen ------------------------------------------------------------------------------ */

Test(logfd, dlopen_dlclose_cycles_leak_no_descriptor)
{
    struct scratch s;
    scratch_make(&s);
    char faults_file[160], env_faults[200];
    snprintf(faults_file, sizeof faults_file, "%s/rules", s.dir);
    FILE *f = fopen(faults_file, "w");
    cr_assert(f);
    fputs("send:error=EAGAIN:when=1000\n", f);
    fclose(f);
    snprintf(env_faults, sizeof env_faults, "SENDSHIM_FAULTS_FILE=%s", faults_file);
    const char *argv[] = {target_path("logfd_prog"), "dlopen", lib_path(), "20", NULL};
    const char *env[] = {s.env_log, env_faults, "SENDSHIM_STATS=1", NULL};
    struct run_result r;
    run_ok(&r, argv, env, 0);
    cr_expect_eq(r.status, 0, "%s", r.err);
    /* glibc unmaps the library at each dlclose, so each cycle runs the
     * constructor and destructor again (else the count would prove
     * nothing); musl's dlclose unmaps nothing, so they run once. */
    int glibc = strncmp(r.out, "glibc ", 6) == 0;
    cr_expect_str_eq(r.out, glibc ? "glibc unloaded yes\nfds before 3 after 3\n"
                                  : "other unloaded no\nfds before 3 after 3\n");
    char *log = slurp(s.log);
    cr_expect_eq(
        count_lines(log, glibc ? "stats: send calls=1 failed=0 bytes=1" : "stats: send calls=20 failed=0"),
        glibc ? 20 : 1, "%s", log);
    free(log);
    run_free(&r);
    scratch_remove(&s);
}

/* --- settings made before our constructor ---------------------------------------------- */

/* libearly's constructor runs before ours; no SENDSHIM_* variable is set,
 * so our constructor finds nothing configured and must not undo what was
 * set before it. */
Test(early, so_nosigpipe_set_before_our_constructor_still_holds)
{
    const char *argv[] = {target_path("early"), NULL};
    const char *env[] = {"EARLY_MODE=nosigpipe", NULL};
    struct run_result r;
    run_ok(&r, argv, env, 1);
    cr_expect(r.exited && r.status == 0, "status %d (SIGPIPE is 141): %s", r.status, r.err);
    cr_expect_str_eq(r.out, "early send 5, received 5 'early'\n"
                            "setsockopt 0 getsockopt 1\n"
                            "send -1 EPIPE\n"
                            "alive\n");
    run_free(&r);
}

Test(early, rules_set_before_our_constructor_still_fire)
{
    const char *argv[] = {target_path("early"), NULL};
    static const char *const settings[] = {NULL, "SENDSHIM_FLAGS=linux", "SENDSHIM_FAULTS=sendto:drop"};
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const char *env[] = {"EARLY_MODE=faults", settings[i], NULL};
        struct run_result r;
        run_ok(&r, argv, env, 1);
        cr_expect_eq(r.status, 0, "%s", r.err);
        /* The early datagram meets the rule too: it was in force already. */
        cr_expect_str_eq(r.out,
                         "early send -1, received -1 ''\n"
                         "set_faults 0\n"
                         "send -1 EAGAIN\n",
                         "with %s", settings[i] ? settings[i] : "nothing set");
        cr_expect_eq(count_lines(r.err, "fault rule 1 (send:error=EAGAIN): send("), 2, "%s", r.err);
        run_free(&r);
    }
}

/* --- two copies --------------------------------------------------------------------------- */

/* A copy of the library under another file name (the loader maps one file
 * once, so the same path twice is one copy). */
static void copy_library(const char *dir, char *out, size_t outlen)
{
    char cmd[PATH_MAX * 2 + 32];
    snprintf(out, outlen, "%s/libsendshim.so", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", lib_path(), out);
    cr_assert_eq(system(cmd), 0);
}

Test(copies, two_copies_in_ld_preload_act_once)
{
    struct scratch s;
    scratch_make(&s);
    char copy[PATH_MAX], both[2][2 * PATH_MAX + 16];
    copy_library(s.dir, copy, sizeof copy);
    snprintf(both[0], sizeof both[0], "LD_PRELOAD=%s:%s", lib_path(), copy);
    snprintf(both[1], sizeof both[1], "LD_PRELOAD=%s:%s", copy, lib_path());
    const char *argv[] = {target_path("sendprog"), "udp", "send:a", "send:b", "send:c", NULL};
    for (int i = 0; i < 2; i++) {
        const char *env[] = {both[i], "SENDSHIM_FAULTS=send:error=EAGAIN:when=2", "SENDSHIM_STATS=1", NULL};
        struct run_result r;
        run_ok(&r, argv, env, 0);
        cr_expect_eq(r.status, 0, "%s", r.err);
        cr_expect_str_eq(r.out, "send 1\nsend -1 EAGAIN\nsend 1\n", "%s", both[i]);
        cr_expect_eq(count_lines(r.err, "another copy of the library is loaded first"), 1, "%s", r.err);
        cr_expect_eq(count_lines(r.err, "fault rule 1 "), 1, "%s", r.err);
        cr_expect_eq(count_lines(r.err, "stats: send calls="), 1, "one summary, not two: %s", r.err);
        run_free(&r);
    }
    scratch_remove(&s);
}
