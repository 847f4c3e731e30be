/* test_core.c - the interposer core (issue 2): exports, pass-through
 * exactness, syscalls seen by strace, trace and stats lines, configuration
 * errors, the log file, calls before our constructor, dlopen, fork, threads,
 * and real programs (python3, socat) run with the library preloaded. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define T 20 /* seconds a spawned program may take */

static void run_ok(struct run_result *r, const char *const argv[], const char *const env[], int preload)
{
    cr_assert_eq(run(r, argv, env, preload, NULL, T), 0, "could not run %s", argv[0]);
    cr_assert(!r->timed_out, "%s timed out", argv[0]);
}

/* run_ok with the library preloaded and the one setting `setting` ("K=V"). */
static void run_with(struct run_result *r, const char *const argv[], const char *setting)
{
    const char *const env[] = {setting, NULL};
    run_ok(r, argv, env, 1);
}

/* --- exports --------------------------------------------------------------- */

Test(core, exports_are_exactly_the_interposed_functions_and_the_api)
{
    static const char *const expected[] = {
        "__send",
        "__sigaction",
        "__sysv_signal",
        "accept",
        "accept4",
        "bsd_signal",
        "close",
        "close_range",
        "closefrom",
        "connect",
        "dup",
        "dup2",
        "dup3",
        "fcntl",
        "fcntl64",
        "getsockopt",
        "recvmsg",
        "send",
        "sendfile",
        "sendfile64",
        "sendmmsg",
        "sendmsg",
        "sendshim_active",
        "sendshim_set_faults",
        "sendto",
        "setsockopt",
        "shutdown",
        "sigaction",
        "signal",
        "sigset",
        "socket",
        "socketpair",
        "splice",
        "ssignal",
        "sysv_signal",
        "write",
        "writev",
    };
    struct run_result r;
    const char *argv[] = {"nm", "-D", "--defined-only", "--format=posix", lib_path(), NULL};
    run_ok(&r, argv, NULL, 0);
    cr_assert_eq(r.status, 0, "nm failed: %s", r.err);
    /* Every defined dynamic symbol must be on the list, with no version. */
    int found = 0;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128];
        if (sscanf(line, "%127s", name) != 1)
            continue;
        cr_expect(strchr(name, '@') == NULL, "versioned export %s", name);
        int known = 0;
        for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
            known |= !strcmp(name, expected[i]);
        cr_expect(known, "unexpected export '%s'", name);
        found += known;
    }
    cr_expect_eq(found, (int)(sizeof expected / sizeof expected[0]), "exported %d of the %zu expected", found,
                 sizeof expected / sizeof expected[0]);
    run_free(&r);
}

/* --- pass-through exactness ----------------------------------------------- */

/* Run sendprog with ops without the library, with it and nothing configured,
 * and with it active (trace on, so every call takes the pipeline): stdout
 * (results, errno names, msg_len values, bytes received) must be identical. */
static void same_three_ways(const char *const argv[])
{
    struct run_result plain, pre, active;
    const char *env_trace[] = {"SENDSHIM_TRACE=1", "SENDSHIM_LOG=none", NULL};
    run_ok(&plain, argv, NULL, 0);
    run_ok(&pre, argv, NULL, 1);
    run_ok(&active, argv, env_trace, 1);
    cr_assert_eq(plain.status, 0, "target failed: %s", plain.err);
    cr_expect_str_eq(pre.out, plain.out, "nothing configured differs:\n%s\nvs\n%s", pre.out, plain.out);
    cr_expect_str_eq(active.out, plain.out, "active pipeline differs:\n%s\nvs\n%s", active.out, plain.out);
    cr_expect_eq(pre.status, plain.status);
    cr_expect_eq(active.status, plain.status);
    cr_expect(strstr(plain.out, "errno-changed") == NULL, "%s", plain.out);
    run_free(&plain);
    run_free(&pre);
    run_free(&active);
}

Test(core, passthrough_tcp)
{
    const char *argv[] = {target_path("sendprog"),
                          "tcp",
                          "send:hello",
                          "sendto:to",
                          "sendmsg:a,b,c",
                          "sendmmsg:m1,m2,m3",
                          "write:w",
                          "writev:v1,v2",
                          "send::0x40",
                          "recv",
                          NULL};
    same_three_ways(argv);
}

Test(core, passthrough_udp)
{
    const char *argv[] = {target_path("sendprog"), "udp",     "send:hello",   "sendto:to", "sendmsg:a,b,c",
                          "sendmmsg:m1,m2,m3",     "write:w", "writev:v1,v2", "recv",      NULL};
    same_three_ways(argv);
}

Test(core, passthrough_unix_kinds)
{
    const char *kinds[] = {"unix-stream", "unix-dgram", "unix-seqpacket"};
    for (size_t i = 0; i < 3; i++) {
        const char *argv[] = {target_path("sendprog"), kinds[i],  "send:hello", "sendmsg:a,b",
                              "sendmmsg:x,yy",         "write:w", "recv",       NULL};
        same_three_ways(argv);
    }
}

Test(core, passthrough_errnos)
{
    /* EBADF, ENOTSOCK, EMSGSIZE, EAGAIN, EPIPE (with MSG_NOSIGNAL = 0x4000),
     * on every call of the family. */
    const char *ebadf[] = {target_path("sendprog"),
                           "udp",
                           "fd:999",
                           "send:x",
                           "sendto:x",
                           "sendmsg:x",
                           "sendmmsg:x",
                           "fd:-1",
                           "send:x",
                           NULL};
    const char *enotsock[] = {target_path("sendprog"),
                              "udp",
                              "fd:pipe",
                              "send:x",
                              "sendto:x",
                              "sendmsg:x",
                              "sendmmsg:x",
                              "write:fine",
                              NULL};
    const char *emsgsize[] = {target_path("sendprog"), "udp", "big:70000", "big:65507", "recv", NULL};
    const char *eagain[] = {target_path("sendprog"), "unix-stream", "nonblock", "fill", "send:x", "sendmsg:x",
                            "sendmmsg:x,y",          NULL};
    const char *epipe[] = {target_path("sendprog"), "unix-stream",       "close-peer", "send:x:0x4000",
                           "sendmsg:x:0x4000",      "sendmmsg:x:0x4000", NULL};
    same_three_ways(ebadf);
    same_three_ways(enotsock);
    same_three_ways(emsgsize);
    same_three_ways(eagain);
    same_three_ways(epipe);
}

/* A sendmmsg that sends part of its batch succeeds, and a success leaves
 * errno as the program had it (SPEC 4), configured or not: 64 messages of
 * 60,000 bytes on a non-blocking unix datagram socket fill it after a few.
 * (musl's sendmmsg is a loop of sendmsg that returns the count with the
 * failed message's errno still set; the library must not pass that on.) */
Test(core, a_partly_sent_sendmmsg_leaves_errno_alone)
{
    const char *argv[] = {target_path("sendprog"), "unix-dgram", "nonblock", "bigmmsg:64:60000", NULL};
    const char *configs[][2] = {{"SENDSHIM_NOSIGPIPE=1", NULL},
                                {"SENDSHIM_FLAGS=freebsd", "SENDSHIM_STATS=1"}};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        const char *env[] = {configs[i][0], configs[i][1], NULL};
        struct run_result r;
        cr_assert_eq(run(&r, argv, env, 1, NULL, T), 0);
        int sent = 0;
        cr_expect_eq(sscanf(r.out, "bigmmsg %d", &sent), 1, "%s", r.out);
        cr_expect(sent > 0 && sent < 64, "not a partial batch: %s", r.out);
        cr_expect_null(strstr(r.out, "errno-changed"), "%s with %s", r.out, configs[i][0]);
        run_free(&r);
    }
}

Test(core, sigpipe_kills_the_same_way)
{
    /* Without MSG_NOSIGNAL a send to a closed peer raises SIGPIPE, with the
     * library as without it. */
    const char *argv[] = {target_path("sendprog"), "unix-stream", "close-peer", "send:x", NULL};
    struct run_result plain, pre;
    run_ok(&plain, argv, NULL, 0);
    run_ok(&pre, argv, NULL, 1);
    cr_expect(plain.signaled && plain.sig == SIGPIPE);
    cr_expect(pre.signaled && pre.sig == SIGPIPE);
    run_free(&plain);
    run_free(&pre);
}

/* --- strace as the oracle -------------------------------------------------- */

/* The send-family system calls strace saw, without pids. */
static char *strace_calls(const char *const prog_argv[], const char *preload_env, const char *extra_env)
{
    char path[] = "/tmp/sendshim-strace-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    const char *argv[32];
    int n = 0;
    argv[n++] = "strace";
    argv[n++] = "-qq";
    argv[n++] = "-e";
    argv[n++] = "trace=sendto,sendmsg,sendmmsg,write,writev,shutdown";
    argv[n++] = "-o";
    argv[n++] = path;
    if (preload_env) {
        argv[n++] = "-E";
        argv[n++] = preload_env;
    }
    if (extra_env) {
        argv[n++] = "-E";
        argv[n++] = extra_env;
    }
    for (int i = 0; prog_argv[i] && n < 31; i++)
        argv[n++] = prog_argv[i];
    argv[n] = NULL;
    struct run_result r;
    run_ok(&r, argv, NULL, 0);
    cr_assert_eq(r.status, 0, "strace run failed: %s", r.err);
    run_free(&r);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    static char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    unlink(path);
    /* Drop the writes of stdout (fd 1) and stderr (fd 2): they are the
     * target's own printing and our log lines. */
    char *out = calloc(1, len + 1);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "write(1,", 8) || !strncmp(line, "write(2,", 8))
            continue;
        /* Ephemeral ports differ from run to run. */
        char *port = strstr(line, "sin_port=htons(");
        if (port)
            memmove(port + 15, strchr(port, ')'), strlen(strchr(port, ')')) + 1);
        strcat(out, line);
        strcat(out, "\n");
    }
    return out;
}

Test(core, strace_sees_the_same_syscalls)
{
    if (!have_program("strace"))
        cr_skip_test("strace is not installed");
    char preload[4200];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib_path());
    const char *prog[] = {target_path("sendprog"),
                          "udp",
                          "send:hello",
                          "sendto:to",
                          "sendmsg:a,b",
                          "sendmmsg:m1,m2,m3",
                          "write:w",
                          "writev:x,y",
                          "fd:999",
                          "send:bad",
                          "recv",
                          NULL};
    char *plain = strace_calls(prog, NULL, NULL);
    char *pre = strace_calls(prog, preload, NULL);
    char *active = strace_calls(prog, preload, "SENDSHIM_STATS=1");
    cr_expect(count_lines(plain, "sendmmsg(") == 1, "%s", plain);
    cr_expect_str_eq(pre, plain, "nothing configured:\n%s\nwithout:\n%s", pre, plain);
    cr_expect_str_eq(active, plain, "stats on:\n%s\nwithout:\n%s", active, plain);
    free(plain);
    free(pre);
    free(active);
}

/* --- trace and stats ------------------------------------------------------- */

/* Each of `lines` (NULL-terminated) stands in the run's stderr. */
static void expect_in_stderr(const struct run_result *r, const char *const lines[])
{
    for (size_t i = 0; lines[i]; i++)
        cr_expect(strstr(r->err, lines[i]), "missing: %s in:\n%s", lines[i], r->err);
}

Test(core, trace_one_line_per_call)
{
    const char *argv[] = {target_path("sendprog"), "udp",    "send:hello:0x40", "sendto:to", "sendmsg:a,b",
                          "sendmmsg:m1,m2,m3",     "fd:999", "send:x",          NULL};
    static const char *const lines[] = {"trace: send(fd=4, 5 bytes, flags=MSG_DONTWAIT) = 5\n",
                                        "trace: sendto(fd=4, 2 bytes, flags=0) = 2\n",
                                        "trace: sendmsg(fd=4, 2 iov, 2 bytes, flags=0) = 2\n",
                                        "trace: sendmmsg(fd=4, 3 msgs, 6 bytes, flags=0) = 3\n",
                                        "trace: send(fd=999, 1 byte, flags=0) = -1 EBADF\n",
                                        NULL};
    struct run_result r;
    run_with(&r, argv, "SENDSHIM_TRACE=1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(count_lines(r.err, "]: trace: "), 5, "%s", r.err);
    expect_in_stderr(&r, lines);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "sendshim[");
    cr_expect_eq(count_lines(r.err, prefix), 5, "every line starts sendshim[PID]: %s", r.err);
    run_free(&r);
}

Test(core, stats_summary_at_exit)
{
    const char *argv[] = {target_path("sendprog"), "unix-dgram", "send:hello", "send:x", "sendmsg:ab,c",
                          "sendmmsg:1,22,333",     "fd:999",     "send:fail",  NULL};
    static const char *const lines[] = {
        "stats: send calls=3 failed=1 bytes=6\n",
        "stats: sendmsg calls=1 failed=0 bytes=3\n",
        "stats: sendmmsg calls=1 failed=0 bytes=6\n",
        "stats: sendto calls=0 failed=0 bytes=0\n",
        NULL,
    };
    struct run_result r;
    run_with(&r, argv, "SENDSHIM_STATS=1");
    expect_in_stderr(&r, lines);
    run_free(&r);
}

/* seen_writer (tests/targets) writes to a socket with write, writev,
 * sendfile, sendfile64 and splice, and the same to a file and a pipe. Its
 * descriptors, from its first line. */
struct seen_fds {
    int sock, file, pipe, source;
    long received; /* what the socket's peer read: the oracle */
};

static void seen_writer(struct run_result *r, const char *kind, const char *setting, struct seen_fds *fds)
{
    const char *argv[] = {target_path("seen_writer"), kind, NULL};
    run_with(r, argv, setting);
    cr_assert_eq(r->status, 0, "seen_writer %s: %s", kind, r->err);
    cr_assert_eq(sscanf(r->out, "socket %d file %d pipe %d source %d", &fds->sock, &fds->file, &fds->pipe,
                        &fds->source),
                 4, "%s", r->out);
    const char *peer = strstr(r->out, "peer received ");
    cr_assert(peer && sscanf(peer, "peer received %ld", &fds->received) == 1, "%s", r->out);
    /* Without the library: the same bytes reach the peer. */
    cr_assert_eq(fds->received, 100 + 200 + 3000 + 1000 + 400, "%s", r->out);
}

/* Trace sees every write, writev, sendfile and splice on a socket, and no
 * other: the file's and the pipe's calls make no line. */
Test(core, trace_sees_write_writev_sendfile_splice_on_sockets_only)
{
    static const char *const kinds[] = {"tcp", "unix-stream"};
    for (size_t k = 0; k < 2; k++) {
        struct run_result r;
        struct seen_fds fd;
        seen_writer(&r, kinds[k], "SENDSHIM_TRACE=1", &fd);
        char want[6][128];
        snprintf(want[0], sizeof want[0], "trace: write(fd=%d, 100 bytes) = 100\n", fd.sock);
        snprintf(want[1], sizeof want[1], "trace: writev(fd=%d, 3 iov, 200 bytes) = 200\n", fd.sock);
        snprintf(want[2], sizeof want[2], "trace: sendfile(fd=%d, in_fd=%d, 3000 bytes) = 3000\n", fd.sock,
                 fd.source);
        snprintf(want[3], sizeof want[3], "trace: sendfile(fd=%d, in_fd=%d, 1000 bytes) = 1000\n", fd.sock,
                 fd.source);
        snprintf(want[4], sizeof want[4], ", 400 bytes, flags=0) = 400\n");
        snprintf(want[5], sizeof want[5], ", 10 bytes) = -1 EBADF\n");
        for (int i = 0; i < 6; i++)
            cr_expect(strstr(r.err, want[i]), "%s: missing %s in:\n%s", kinds[k], want[i], r.err);
        cr_expect_eq(count_lines(r.err, "]: trace: "), 6, "%s: exactly the socket calls:\n%s", kinds[k],
                     r.err);
        char on_sock[32];
        snprintf(on_sock, sizeof on_sock, "(fd=%d, ", fd.sock);
        cr_expect_eq(count_lines(r.err, on_sock), 6, "%s:\n%s", kinds[k], r.err);
        /* The results traced add up to what the peer received. */
        long traced = 0;
        for (const char *l = strstr(r.err, "trace: "); l; l = strstr(l + 1, "trace: ")) {
            const char *eq = strstr(l, ") = ");
            long v = eq ? strtol(eq + 4, NULL, 10) : 0;
            traced += v > 0 ? v : 0;
        }
        cr_expect_eq(traced, fd.received, "%s: traced %ld bytes, the peer received %ld", kinds[k], traced,
                     fd.received);
        run_free(&r);
    }
}

/* Stats count the same calls: the bytes per function add up to what the
 * peer received; the file's and the pipe's writes are not counted. */
Test(core, stats_count_write_writev_sendfile_splice_on_sockets_only)
{
    static const char *const lines[] = {
        "stats: write calls=1 failed=0 bytes=100\n",     "stats: writev calls=1 failed=0 bytes=200\n",
        "stats: sendfile calls=3 failed=1 bytes=4000\n", "stats: splice calls=1 failed=0 bytes=400\n",
        "stats: send calls=0 failed=0 bytes=0\n",        NULL,
    };
    static const char *const kinds[] = {"tcp", "unix-stream"};
    for (size_t k = 0; k < 2; k++) {
        struct run_result r;
        struct seen_fds fd;
        seen_writer(&r, kinds[k], "SENDSHIM_STATS=1", &fd);
        expect_in_stderr(&r, lines);
        cr_expect_eq(count_lines(r.err, "]: trace: "), 0, "%s", r.err);
        run_free(&r);
    }
}

/* --- configuration errors -------------------------------------------------- */

struct bad_env {
    const char *assignment;
    const char *message; /* expected part of the one line */
};

Test(core, bad_configuration_stops_before_main_with_status_2)
{
    static const struct bad_env cases[] = {
        {"SENDSHIM_FLAGS=bsd",
         "SENDSHIM_FLAGS: 'bsd' is not a flag style (linux, freebsd, netbsd, openbsd, macos)"},
        {"SENDSHIM_FLAGS=free\nbsd", "SENDSHIM_FLAGS: 'free\\x0absd' is not a flag style"},
        {"SENDSHIM_UNKNOWN_FLAGS=drop", "SENDSHIM_UNKNOWN_FLAGS: 'drop' is not a mode (pass, strip, reject)"},
        {"SENDSHIM_NOSIGPIPE=yes", "SENDSHIM_NOSIGPIPE: 'yes' is not a switch (0, 1)"},
        {"SENDSHIM_TRACE=2", "SENDSHIM_TRACE: '2' is not a switch (0, 1)"},
        {"SENDSHIM_STATS=on", "SENDSHIM_STATS: 'on' is not a switch (0, 1)"},
        {"SENDSHIM_SEED=-5", "SENDSHIM_SEED: '-5' is not a seed"},
        {"SENDSHIM_SEED=18446744073709551616", "SENDSHIM_SEED: '18446744073709551616' is not a seed"},
        {"SENDSHIM_FAULTS=sendto:error=EISDIR",
         "SENDSHIM_FAULTS rule 1: 'EISDIR' is not an error sendto can return"},
        {"SENDSHIM_FAULTS=send:error=EAGAIN;bogus:drop", "SENDSHIM_FAULTS rule 2: 'bogus'"},
        {"SENDSHIM_FAULTS_FILE=/nonexistent/rules",
         "SENDSHIM_FAULTS_FILE: cannot read '/nonexistent/rules' (ENOENT)"},
        {"SENDSHIM_LOG=/nonexistent/dir/log", "SENDSHIM_LOG: cannot open '/nonexistent/dir/log' (ENOENT)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[] = {target_path("sendprog"), "udp", "send:x", NULL};
        const char *env[] = {cases[i].assignment, NULL};
        struct run_result r;
        run_ok(&r, argv, env, 1);
        cr_expect(r.exited && r.status == 2, "%s: status %d", cases[i].assignment, r.status);
        cr_expect_str_empty(r.out, "%s: main ran: %s", cases[i].assignment, r.out);
        cr_expect(r.err_len > 0 && strchr(r.err, '\n') == r.err + r.err_len - 1, "%s: not one line: %s",
                  cases[i].assignment, r.err);
        cr_expect(strncmp(r.err, "sendshim[", 9) == 0, "%s", r.err);
        cr_expect(strstr(r.err, cases[i].message), "%s: got %s", cases[i].assignment, r.err);
        run_free(&r);
    }
}

/* A NUL byte in a rules file would end the text there and silently drop every
 * rule after it: the file is refused, with the byte's offset and line (the
 * launcher's --faults-file: test_launcher.c). */
Test(core, rules_file_with_a_nul_byte_is_refused)
{
    static const char text[] = "# rules\nsend:error=EAGAIN\n\0send:error=EINTR\n";
    char path[] = "/tmp/sendshim-nul-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    char var[64], want[160];
    snprintf(var, sizeof var, "SENDSHIM_FAULTS_FILE=%s", path);
    snprintf(want, sizeof want,
             "]: SENDSHIM_FAULTS_FILE: '%s' has a NUL byte at offset 26 (line 3); accepted: a text file of "
             "rules, one per line\n",
             path);
    const char *argv[] = {target_path("sendprog"), "udp", "send:x", NULL};
    const char *env[] = {var, NULL};
    struct run_result r;
    run_ok(&r, argv, env, 1);
    cr_expect(r.exited && r.status == 2, "status %d", r.status);
    cr_expect_str_empty(r.out, "main ran: %s", r.out);
    cr_expect(strncmp(r.err, "sendshim[", 9) == 0 && strchr(r.err, '\n') == r.err + r.err_len - 1, "%s",
              r.err);
    cr_expect(strstr(r.err, want), "got %s", r.err);
    run_free(&r);
    unlink(path);
}

Test(core, empty_values_mean_defaults)
{
    const char *argv[] = {target_path("sendprog"), "udp", "send:x", "recv", NULL};
    const char *env[] = {"SENDSHIM_FLAGS=", "SENDSHIM_FAULTS=", "SENDSHIM_TRACE=", "SENDSHIM_LOG=", NULL};
    struct run_result r;
    run_ok(&r, argv, env, 1);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "send 1\nrecv 1 x\n");
    cr_expect_str_empty(r.err);
    run_free(&r);
}

/* --- the log file ---------------------------------------------------------- */

Test(core, log_file_gets_the_lines_mode_0600_and_refuses_symlinks)
{
    char dir[] = "/tmp/sendshim-log-XXXXXX";
    cr_assert(mkdtemp(dir));
    char log[256], link_path[256], target[256], env_log[300], env_link[300];
    snprintf(log, sizeof log, "%s/trace.log", dir);
    snprintf(link_path, sizeof link_path, "%s/link.log", dir);
    snprintf(target, sizeof target, "%s/victim", dir);
    snprintf(env_log, sizeof env_log, "SENDSHIM_LOG=%s", log);
    snprintf(env_link, sizeof env_link, "SENDSHIM_LOG=%s", link_path);
    cr_assert_eq(symlink(target, link_path), 0);

    const char *argv[] = {target_path("sendprog"), "udp", "send:x", NULL};
    const char *env[] = {env_log, "SENDSHIM_TRACE=1", NULL};
    struct run_result r;
    run_ok(&r, argv, env, 1);
    cr_expect_eq(r.status, 0);
    cr_expect_str_empty(r.err, "trace went to stderr: %s", r.err);
    run_free(&r);
    run_ok(&r, argv, env, 1); /* appends */
    run_free(&r);
    struct stat st;
    cr_assert_eq(stat(log, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
    FILE *f = fopen(log, "r");
    char text[4096] = {0};
    cr_assert(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    cr_expect_eq(count_lines(text, "trace: send(fd=4, 1 byte, flags=0) = 1"), 2, "%s", text);

    const char *env2[] = {env_link, NULL};
    run_ok(&r, argv, env2, 1);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "a symbolic link is refused"), "%s", r.err);
    cr_expect_neq(access(target, F_OK), 0, "the symlink's target was created");
    run_free(&r);
    unlink(log);
    unlink(link_path);
    rmdir(dir);
}

/* --- load order, dlopen, fork, threads ------------------------------------- */

Test(core, calls_before_our_constructor_pass_through)
{
    const char *argv[] = {target_path("early"), NULL};
    struct run_result r;
    run_with(&r, argv, "SENDSHIM_TRACE=1");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "early send 5, received 5 'early'\n");
    run_free(&r);
}

Test(core, dlopened_library_falls_back_to_rtld_default)
{
    const char *argv[] = {target_path("dlopen_prog"), lib_path(), NULL};
    struct run_result r;
    run_ok(&r, argv, NULL, 0);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "active 1 sent 2 received 2 'dl'\n", "%s %s", r.out, r.err);
    run_free(&r);
}

Test(core, fork_child_logs_with_its_own_pid)
{
    const char *argv[] = {
        target_path("sendprog"), "unix-dgram", "send:parent", "fork", "send:child", "recv", NULL};
    struct run_result r;
    run_with(&r, argv, "SENDSHIM_TRACE=1");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "recv 6 parent\nrecv 5 child\n"), "%s", r.out);
    int p1 = 0, p2 = 0;
    char *second = strstr(r.err, "send(fd=3, 5 bytes");
    cr_assert(second, "%s", r.err);
    sscanf(r.err, "sendshim[%d]", &p1);
    while (second > r.err && second[-1] != '\n')
        second--;
    sscanf(second, "sendshim[%d]", &p2);
    cr_expect(p1 > 0 && p2 > 0 && p1 != p2, "parent %d child %d: %s", p1, p2, r.err);
    run_free(&r);
}

Test(core, threads_every_call_counted)
{
    const char *argv[] = {target_path("sendprog"), "unix-dgram", "threads:8:20000", NULL};
    struct run_result r;
    run_with(&r, argv, "SENDSHIM_STATS=1");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "threads 160000\n");
    cr_expect(strstr(r.err, "stats: send calls=160000 failed=0 bytes=160000\n"), "%s", r.err);
    run_free(&r);
}

/* --- real programs ---------------------------------------------------------- */

static const char py_sender[] = "import socket\n"
                                "a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                                "print(a.send(b'one'), a.sendmsg([b'tw', b'o']))\n"
                                "c, d = socket.socketpair()\n"
                                "c.sendall(b'x' * 100000)\n"
                                "got = 0\n"
                                "while got < 100000:\n"
                                "    got += len(d.recv(65536))\n"
                                "print(b.recv(10), b.recv(10), got)\n";

Test(core, python3_runs_unchanged_and_is_traced)
{
    if (!have_program("python3"))
        cr_skip_test("python3 is not installed");
    const char *argv[] = {"python3", "-c", py_sender, NULL};
    struct run_result plain, pre;
    run_ok(&plain, argv, NULL, 0);
    run_with(&pre, argv, "SENDSHIM_TRACE=1");
    cr_expect_eq(pre.status, 0, "%s", pre.err);
    cr_expect_str_eq(plain.out, "3 3\nb'one' b'two' 100000\n");
    cr_expect_str_eq(pre.out, plain.out);
    cr_expect_geq(count_lines(pre.err, "trace: send(fd="), 2, "%s", pre.err);
    cr_expect_eq(count_lines(pre.err, "trace: sendmsg(fd="), 1, "%s", pre.err);
    run_free(&plain);
    run_free(&pre);
}

Test(core, socat_sends_through_the_library)
{
    if (!have_program("socat"))
        cr_skip_test("socat is not installed");
    int rx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cr_assert_eq(bind(rx, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(rx, (struct sockaddr *)&a, &al), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "UDP-SENDTO:127.0.0.1:%d", ntohs(a.sin_port));
    const char *argv[] = {"socat", "-u", "STDIN", addr, NULL};
    const char *env[] = {"SENDSHIM_TRACE=1", NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, env, 1, "via socat\n", T), 0);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_geq(count_lines(r.err, "trace: sendto(fd="), 1, "%s", r.err);
    char buf[64] = {0};
    ssize_t n = recv(rx, buf, sizeof buf - 1, MSG_DONTWAIT);
    cr_expect_eq(n, 10);
    cr_expect_str_eq(buf, "via socat\n");
    close(rx);
    run_free(&r);
}
