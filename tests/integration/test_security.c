/* test_security.c - what the library does with input it must not trust
 * (issue 7): secure-execution mode ignores the environment, the log file
 * refuses symlinks and is created 0600, the library writes nowhere but its
 * log, and every input of the bad-input corpus (tests/bad_inputs) stops the
 * program with exit status 2 and one clear line, never a crash. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define T               20   /* seconds a spawned program may take */
#define MIN_BAD_INPUTS  100  /* the corpus must hold at least this many */
#define MAX_ENV_VARS    16   /* variables in one .env input */
#define LINE_LIMIT      512  /* SS_LINE_MAX: a diagnostic line is never longer */
#define ENV_VALUE_MAX   8192 /* longest value in a .env input */
#define PRINTABLE_FIRST 0x20
#define PRINTABLE_LAST  0x7e

static void run_ok(struct run_result *r, const char *const argv[], const char *const env[], int preload)
{
    cr_assert_eq(run(r, argv, env, preload, NULL, T), 0, "could not run %s", argv[0]);
    cr_assert(!r->timed_out, "%s timed out", argv[0]);
}

static void sh(const char *cmd)
{
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void make_dir(char *path, const char *stem)
{
    sprintf(path, "/tmp/sendshim-sec-%s-XXXXXX", stem);
    cr_assert_not_null(mkdtemp(path));
}

static void remove_tree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    sh(cmd);
}

/* --- secure-execution mode ------------------------------------------------------------- */

/* Run `prog` (a copy of stress_secure) with a configuration that would, if
 * obeyed, inject ENOBUFS, trace, create a log in dir, and (SENDSHIM_FLAGS)
 * even stop the program: in secure mode none of it may happen. */
static void run_secure_probe(struct run_result *r, const char *prog, const char *lib, const char *log,
                             const char *flags)
{
    char logvar[256];
    snprintf(logvar, sizeof logvar, "SENDSHIM_LOG=%s", log);
    const char *argv[] = {prog, lib, NULL};
    const char *env[] = {
        "SENDSHIM_FAULTS=send:error=ENOBUFS", "SENDSHIM_TRACE=1", "SENDSHIM_STATS=1", logvar, flags, NULL};
    run_ok(r, argv, env, 0);
}

Test(security, secure_execution_mode_ignores_the_environment)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to make a setuid copy");
    struct passwd *nobody = getpwnam("nobody");
    if (!nobody)
        cr_skip_test("no user nobody");
    char dir[64], prog_uid[128], prog_gid[128], prog_plain[128], lib[128], log[128], cmd[8192];
    make_dir(dir, "suid");
    /* World-writable, so the setuid copy could create its log here if it
     * obeyed SENDSHIM_LOG: the missing file is then the library's doing. */
    cr_assert_eq(chmod(dir, 0777), 0);
    snprintf(prog_uid, sizeof prog_uid, "%s/prog-setuid", dir);
    snprintf(prog_gid, sizeof prog_gid, "%s/prog-setgid", dir);
    snprintf(prog_plain, sizeof prog_plain, "%s/prog-plain", dir);
    snprintf(lib, sizeof lib, "%s/libsendshim.so", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(cmd, sizeof cmd,
             "cp '%s' '%s' && cp '%s' '%s' && cp '%s' '%s' && cp '%s' '%s' && chmod 0755 '%s' '%s' && "
             "chown %u:%u '%s' && chmod 4755 '%s' && chown 0:%u '%s' && chmod 2755 '%s'",
             target_path("stress_secure"), prog_uid, target_path("stress_secure"), prog_gid,
             target_path("stress_secure"), prog_plain, lib_path(), lib, prog_plain, lib,
             (unsigned)nobody->pw_uid, (unsigned)nobody->pw_gid, prog_uid, prog_uid, (unsigned)nobody->pw_gid,
             prog_gid, prog_gid);
    sh(cmd);

    /* The control: the same program, not setuid, obeys the environment. */
    struct run_result r;
    run_secure_probe(&r, prog_plain, lib, log, "SENDSHIM_SEED=1");
    cr_expect_str_eq(r.out, "secure=0 send -1 ENOBUFS\n", "%s", r.err);
    cr_expect_eq(access(log, F_OK), 0, "the control run made no log");
    run_free(&r);
    unlink(log);

    const char *progs[] = {prog_uid, prog_gid};
    for (int i = 0; i < 2; i++) {
        run_secure_probe(&r, progs[i], lib, log, "SENDSHIM_SEED=1");
        if (!strncmp(r.out, "secure=0", 8)) {
            remove_tree(dir);
            cr_skip_test("%s is not in secure-execution mode (nosuid mount?)", progs[i]);
        }
        cr_expect_str_eq(r.out, "secure=1 send 2\n", "%s: %s", progs[i], r.err);
        cr_expect_eq(count_lines(r.err, "sendshim["), 0, "%s: %s", progs[i], r.err);
        cr_expect_neq(access(log, F_OK), 0, "%s created the log of SENDSHIM_LOG", progs[i]);
        run_free(&r);
        /* A bad value would stop a normal program with status 2; here it is
         * never read. */
        run_secure_probe(&r, progs[i], lib, log, "SENDSHIM_FLAGS=no-such-style");
        cr_expect(r.exited && r.status == 0, "%s: status %d %s", progs[i], r.status, r.err);
        cr_expect_str_eq(r.out, "secure=1 send 2\n", "%s", r.err);
        run_free(&r);
    }
    run_secure_probe(&r, prog_plain, lib, log, "SENDSHIM_FLAGS=no-such-style");
    cr_expect(r.exited && r.status == 2, "the control run accepted a bad style: %s", r.err);
    run_free(&r);
    remove_tree(dir);
}

/* --- the log file ---------------------------------------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(security, log_refuses_symlinks)
{
    char dir[64], target[128], link_[128], dangling[128], created[128], var[256];
    make_dir(dir, "log");
    snprintf(target, sizeof target, "%s/target", dir);
    snprintf(link_, sizeof link_, "%s/link", dir);
    snprintf(dangling, sizeof dangling, "%s/dangling", dir);
    snprintf(created, sizeof created, "%s/never-created", dir);
    FILE *f = fopen(target, "w");
    fputs("keep\n", f);
    fclose(f);
    cr_assert_eq(symlink(target, link_), 0);
    cr_assert_eq(symlink(created, dangling), 0);
    const char *links[] = {link_, dangling};
    for (int i = 0; i < 2; i++) {
        snprintf(var, sizeof var, "SENDSHIM_LOG=%s", links[i]);
        const char *argv[] = {target_path("sendprog"), "udp", "send:x", NULL};
        const char *env[] = {var, "SENDSHIM_TRACE=1", NULL};
        struct run_result r;
        run_ok(&r, argv, env, 1);
        cr_expect(r.exited && r.status == 2, "a symlinked log was accepted: %s", r.err);
        cr_expect(r.err_len && strchr(r.err, '\n') == r.err + r.err_len - 1, "not one line: %s", r.err);
        cr_expect(strstr(r.err, "symbolic link"), "%s", r.err);
        cr_expect_str_eq(r.out, "");
        run_free(&r);
    }
    cr_expect_str_eq(read_file(target), "keep\n", "the symlink's target was written");
    cr_expect_neq(access(created, F_OK), 0, "the dangling symlink's target was created");

    remove_tree(dir);
}

/* Created 0600 even under umask 0 (the runner's worker sets it; the child
 * inherits it); an existing file is appended to and keeps its mode. */
Test(security, log_is_created_0600_and_an_existing_one_keeps_its_mode)
{
    char dir[64], log[128], var[256];
    make_dir(dir, "mode");
    snprintf(log, sizeof log, "%s/new.log", dir);
    snprintf(var, sizeof var, "SENDSHIM_LOG=%s", log);
    const char *argv[] = {target_path("sendprog"), "udp", "send:x", NULL};
    const char *env[] = {var, "SENDSHIM_TRACE=1", NULL};
    struct run_result r;
    mode_t old = umask(0);
    run_ok(&r, argv, env, 1);
    umask(old);
    cr_expect_eq(r.status, 0, "%s", r.err);
    struct stat st;
    cr_assert_eq(stat(log, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
    run_free(&r);
    cr_assert_eq(chmod(log, 0640), 0);
    run_ok(&r, argv, env, 1);
    cr_assert_eq(stat(log, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0640, "the mode of an existing log changed");
    cr_expect_eq(count_lines(read_file(log), "trace: send(fd="), 2, "not appended: %s", read_file(log));
    run_free(&r);
    remove_tree(dir);
}

/* --- the bad-input corpus --------------------------------------------------------------------- */

/* A .env input's escapes: \n \t \r \\ \xHH. */
static void unescape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < cap; p++) {
        if (*p != '\\' || !p[1]) {
            out[n++] = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'n':
            out[n++] = '\n';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 'x': {
            char hex[3] = {p[1], p[1] ? p[2] : 0, 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            p += 2;
            break;
        }
        default:
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

struct input {
    char name[256];
    char *env[MAX_ENV_VARS + 1]; /* "VAR=value", malloc'd */
    int n;
};

static void load_input(struct input *in, const char *dir, const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(in->name, sizeof in->name, "%s", file);
    in->n = 0;
    if (strstr(file, ".rules")) {
        cr_assert(asprintf(&in->env[in->n++], "SENDSHIM_FAULTS_FILE=%s", path) > 0);
    } else {
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        static char line[ENV_VALUE_MAX], value[ENV_VALUE_MAX];
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            if (!line[0] || line[0] == '#')
                continue;
            cr_assert_lt(in->n, MAX_ENV_VARS);
            unescape(line, value, sizeof value);
            in->env[in->n++] = strdup(value);
        }
        fclose(f);
    }
    in->env[in->n] = NULL;
}

static void free_input(struct input *in)
{
    for (int i = 0; i < in->n; i++)
        free(in->env[i]);
}

/* The one line names a variable the input set. */
static int names_a_given_variable(const struct input *in, const char *msg)
{
    for (int i = 0; i < in->n; i++) {
        size_t len = strcspn(in->env[i], "=");
        if (!strncmp(msg, in->env[i], len) && (msg[len] == ':' || msg[len] == ' '))
            return 1;
    }
    return 0;
}

static void expect_one_clear_line(const struct input *in, const char *prog, const struct run_result *r)
{
    cr_expect(!r->signaled, "%s under %s: killed by signal %d", in->name, prog, r->sig);
    cr_expect(r->exited && r->status == 2, "%s under %s: status %d\n%s", in->name, prog, r->status, r->err);
    cr_expect_str_eq(r->out, "", "%s under %s: the program ran", in->name, prog);
    cr_expect(r->err_len > 0 && r->err[r->err_len - 1] == '\n' &&
                  strchr(r->err, '\n') == r->err + r->err_len - 1,
              "%s under %s: not exactly one line:\n%s", in->name, prog, r->err);
    cr_expect_leq(r->err_len, LINE_LIMIT, "%s: a line of %zu bytes", in->name, r->err_len);
    for (size_t i = 0; i + 1 < r->err_len; i++)
        if ((unsigned char)r->err[i] < PRINTABLE_FIRST || (unsigned char)r->err[i] > PRINTABLE_LAST) {
            cr_expect_fail("%s: byte 0x%02x at %zu is not printable: %s", in->name, (unsigned char)r->err[i],
                           i, r->err);
            break;
        }
    unsigned pid;
    int off = 0;
    cr_expect(sscanf(r->err, "sendshim[%u]: %n", &pid, &off) == 1 && off > 0, "%s: %s", in->name, r->err);
    if (off > 0)
        cr_expect(names_a_given_variable(in, r->err + off), "%s: the line names no variable it set: %s",
                  in->name, r->err);
}

/* Every input of the corpus, run under the library with `prog`. */
static void run_corpus(const char *const prog_argv[], const char *prog_name)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tests/bad_inputs", top_dir());
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *e;
    int tried = 0;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".env") && !strstr(e->d_name, ".rules"))
            continue;
        struct input in;
        load_input(&in, dir, e->d_name);
        struct run_result r;
        run_ok(&r, prog_argv, (const char *const *)in.env, 1);
        expect_one_clear_line(&in, prog_name, &r);
        run_free(&r);
        free_input(&in);
        tried++;
    }
    closedir(d);
    cr_expect_geq(tried, MIN_BAD_INPUTS, "only %d bad inputs", tried);
    cr_log_info("bad inputs tried under %s: %d", prog_name, tried);
}

Test(security, every_bad_input_gives_status_2_and_one_clear_line, .timeout = 300)
{
    const char *argv[] = {target_path("sendprog"), "udp", "send:x", NULL};
    run_corpus(argv, "sendprog");
}

/* The same under a program that is not ours (and a glibc one, also when the
 * targets are built with musl). */
Test(security, every_bad_input_stops_bin_true_too, .timeout = 300)
{
    const char *argv[] = {"/bin/true", NULL};
    run_corpus(argv, "/bin/true");
}

/* --- nowhere but the log ----------------------------------------------------------------------- */

/* strace every system call that can create or change a file, and every
 * write, for a run with the whole configuration in use: the library opens
 * its log (and reads its rules file), writes only there, and touches nothing
 * else. The same for a sample of bad inputs: nothing is created at all. */
static void expect_writes_only_to(const char *trace_path, const char *log)
{
    FILE *f = fopen(trace_path, "r");
    cr_assert_not_null(f);
    char line[4096];
    int log_fd = -1, checked = 0;
    while (fgets(line, sizeof line, f)) {
        char *call = strchr(line, ' ');
        if (!call)
            continue;
        while (*call == ' ')
            call++;
        if (!strncmp(call, "openat(", 7) || !strncmp(call, "open(", 5) || !strncmp(call, "creat(", 6)) {
            int writes = strstr(call, "O_WRONLY") || strstr(call, "O_RDWR") || strstr(call, "O_CREAT") ||
                         strstr(call, "O_TRUNC") || !strncmp(call, "creat(", 6);
            if (!writes || strstr(call, ") = -1 ")) /* a failed open creates nothing */
                continue;
            checked++;
            cr_expect(log && strstr(call, log), "opened for writing: %s", line);
            const char *eq = strrchr(call, '=');
            if (log && strstr(call, log) && eq)
                log_fd = atoi(eq + 1);
            continue;
        }
        if (!strncmp(call, "fcntl(", 6)) { /* the log moves to a high descriptor */
            const char *eq = strrchr(call, '=');
            if (strstr(call, "F_DUPFD") && eq && atoi(call + 6) == log_fd)
                log_fd = atoi(eq + 1);
            continue;
        }
        if (!strncmp(call, "write(", 6) || !strncmp(call, "writev(", 7) || !strncmp(call, "pwrite64(", 9)) {
            int fd = atoi(strchr(call, '(') + 1);
            checked++;
            cr_expect(fd == 1 || fd == 2 || fd == log_fd, "a write to fd %d (log fd %d): %s", fd, log_fd,
                      line);
            continue;
        }
        if (strstr(call, "resumed>") || strstr(call, "+++") || strstr(call, "---"))
            continue;
        cr_expect_fail("a file-changing call: %s", line);
    }
    fclose(f);
    cr_log_info("%s: %d opens/writes checked", trace_path, checked);
}

#define STRACE_CALLS                                                                                         \
    "trace=open,openat,openat2,creat,write,writev,pwrite64,pwritev,pwritev2,truncate,ftruncate,mkdir,"       \
    "mkdirat,"                                                                                               \
    "rename,renameat,renameat2,unlink,unlinkat,link,linkat,symlink,symlinkat,chmod,fchmod,fchmodat,chown,"   \
    "fchown,"                                                                                                \
    "fchownat,lchown,mknod,mknodat,fcntl"

Test(security, the_library_writes_nowhere_but_its_log, .timeout = 120)
{
    if (!have_program("strace"))
        cr_skip_test("strace is not installed");
    char dir[64], log[128], rules[128], trace[128], logvar[256], rulesvar[256];
    make_dir(dir, "writes");
    snprintf(log, sizeof log, "%s/the.log", dir);
    snprintf(rules, sizeof rules, "%s/rules", dir);
    snprintf(trace, sizeof trace, "%s/strace.out", dir);
    FILE *f = fopen(rules, "w");
    fputs("# rules\nsendto:error=EAGAIN:when=1\nsend:short=1:when=1\nsendmmsg:batch=1\n", f);
    fclose(f);
    snprintf(logvar, sizeof logvar, "SENDSHIM_LOG=%s", log);
    snprintf(rulesvar, sizeof rulesvar, "SENDSHIM_FAULTS_FILE=%s", rules);
    /* The library goes to the traced program only (-E): preloaded into
     * strace itself, a bad configuration would stop strace before it runs. */
    char preload[1024];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib_path());
    const char *argv[] = {"strace",     "-f",         "-qq",         "-o",
                          trace,        "-E",         preload,       "-e",
                          STRACE_CALLS, "-e",         "signal=none", target_path("sendprog"),
                          "tcp",        "sendto:abc", "send:abc",    "sendmmsg:a,b,c",
                          "recv",       NULL};
    const char *env[] = {logvar,
                         rulesvar,
                         "SENDSHIM_TRACE=1",
                         "SENDSHIM_STATS=1",
                         "SENDSHIM_SEED=5",
                         "SENDSHIM_FLAGS=freebsd",
                         "SENDSHIM_NOSIGPIPE=1",
                         "SENDSHIM_FAULTS=send:delay=1ms:p=0.5",
                         NULL};
    struct run_result r;
    run_ok(&r, argv, env, 0);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_gt(count_lines(read_file(log), "trace: "), 2, "the log got no trace");
    expect_writes_only_to(trace, log);
    run_free(&r);

    /* Bad inputs, among them a log that cannot be opened: no file is made. */
    static const char *const bad[] = {"SENDSHIM_FAULTS=send:error=EISDIR", "SENDSHIM_LOG=/proc/self/nope/x",
                                      "SENDSHIM_FAULTS_FILE=/dev/zero", "SENDSHIM_SEED=-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *bargv[] = {"strace", "-f",     "-qq",        "-o", trace,         "-E",
                               preload,  "-e",     STRACE_CALLS, "-e", "signal=none", target_path("sendprog"),
                               "udp",    "send:x", NULL};
        const char *benv[] = {bad[i], NULL};
        unlink(trace);
        run_ok(&r, bargv, benv, 0);
        cr_expect_eq(r.status, 2, "%s: %s", bad[i], r.err);
        expect_writes_only_to(trace, NULL);
        run_free(&r);
    }
    remove_tree(dir);
}
