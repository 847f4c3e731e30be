/* test_control.c - live control (SPEC 14, issue 15): `sendshim ctl` changes
 * the rules of running programs and reads their counters, through the
 * control file. The programs run on real sockets (tests/targets/ctl_target.c)
 * with the library preloaded, started in the background so that the test can
 * act on them while they run; the oracle is what each call of theirs
 * returned, written down by the program itself with the time it began. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control_layout.h" /* where the generation and the text lie in the file */
#include "harness.h"

#define T             20 /* seconds a synchronous run may take */
#define SETTLE_S      15 /* seconds a background program gets to show something */
#define MIN_CALLS     5  /* calls each process must make after a change before it is judged */
#define MAX_LINES     200000
#define CONTROL_BYTES 4096 /* a random write over the control file: at most this many bytes */

extern char **environ;

static char dir[64];

static void make_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/sendshim-ctl-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static const char *tmp(const char *name)
{
    static char paths[8][PATH_MAX];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, PATH_MAX, "%s/%s", dir, name);
    return p;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* `sendshim ctl CONTROL ARGS...` through the launcher, as users run it. */
static void ctl(struct run_result *r, const char *control, ...)
{
    const char *argv[16] = {script_path(), "ctl", control};
    int n = 3;
    va_list ap;
    va_start(ap, control);
    for (const char *a; n < 15 && (a = va_arg(ap, const char *));)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    cr_assert_eq(run(r, argv, NULL, 0, NULL, T), 0, "could not run sendshim ctl");
    cr_assert(!r->timed_out, "sendshim ctl %s timed out", argv[3]);
}

#define CTL_OK(control, ...)                                                                                 \
    do {                                                                                                     \
        struct run_result r_;                                                                                \
        ctl(&r_, control, __VA_ARGS__, (const char *)NULL);                                                  \
        cr_assert(r_.exited &&r_.status == 0, "sendshim ctl failed (%d): %s", r_.status, r_.err);            \
        run_free(&r_);                                                                                       \
    } while (0)

/* `sendshim ctl` refuses: exit 2, with one line that names `needle`. */
#define CTL_REFUSED(needle, control, ...)                                                                    \
    do {                                                                                                     \
        struct run_result r_;                                                                                \
        ctl(&r_, control, __VA_ARGS__, (const char *)NULL);                                                  \
        cr_expect(r_.exited &&r_.status == 2, "status %d: %s", r_.status, r_.err);                           \
        cr_expect_eq(count_lines(r_.err, needle), 1, "%s", r_.err);                                          \
        run_free(&r_);                                                                                       \
    } while (0)

/* The runner's environment without SENDSHIM_* and LD_PRELOAD, plus extra. */
static char **child_env(const char *const extra[])
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 16, sizeof *env);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SENDSHIM_", 9) && strncmp(environ[i], "LD_PRELOAD=", 11))
            env[k++] = environ[i];
    for (size_t i = 0; extra && extra[i]; i++)
        env[k++] = (char *)extra[i];
    env[k] = NULL;
    return env;
}

/* Start argv in the background, in a process group of its own, stdin from
 * the descriptor `in` (-1: /dev/null), stdout and stderr into files. */
static pid_t spawn_in(const char *const argv[], const char *const extra_env[], int in, const char *out,
                      const char *err)
{
    char **env = child_env(extra_env);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600),
            e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0)
            in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execve(argv[0], (char *const *)argv, env);
        _exit(127);
    }
    setpgid(pid, pid);
    free(env);
    return pid;
}

static pid_t spawn(const char *const argv[], const char *const extra_env[], const char *out, const char *err)
{
    return spawn_in(argv, extra_env, -1, out, err);
}

/* Wait for pid up to `seconds`; -1 when it did not end (it is then killed). */
static int reap(pid_t pid, int seconds)
{
    int status;
    for (int i = 0; i < seconds * 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        usleep(10000);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* The port python3 -m http.server announces in its output file `out`
 * ("Serving HTTP on 127.0.0.1 port N"), waited for up to SETTLE_S. */
static int http_server_port(const char *out)
{
    int port = 0;
    for (int i = 0; i < SETTLE_S * 100 && !port; i++, usleep(10000)) {
        char *text = slurp(out);
        const char *p = strstr(text, " port ");
        if (p)
            port = atoi(p + 6);
        free(text);
    }
    cr_assert_gt(port, 0, "http.server did not start");
    return port;
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
}

/* One line of ctl_target's log. */
struct call {
    char role[8];
    int pid;
    uint64_t t;
    char result[16];
};

static int read_calls(const char *path, struct call *calls, int max)
{
    char *text = slurp(path);
    int n = 0;
    for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        unsigned long long t;
        if (sscanf(line, "%7s %d %llu %15s", calls[n].role, &calls[n].pid, &t, calls[n].result) == 4) {
            calls[n].t = t;
            n++;
        }
    }
    free(text);
    return n;
}

/* Calls of `role` that began after t. */
static int calls_after(const struct call *c, int n, const char *role, uint64_t t)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += !strcmp(c[i].role, role) && c[i].t > t;
    return k;
}

/* Wait until each role has made MIN_CALLS calls that began after t. */
static void wait_calls_after(const char *out, const char *const roles[], uint64_t t)
{
    static struct call calls[MAX_LINES];
    for (int tries = 0; tries < SETTLE_S * 100; tries++) {
        int n = read_calls(out, calls, MAX_LINES), done = 1;
        for (int i = 0; roles[i]; i++)
            done &= calls_after(calls, n, roles[i], t) >= MIN_CALLS;
        if (done)
            return;
        usleep(10000);
    }
    cr_assert_fail("the processes made no calls after the change");
}

static const char *lib_env(void)
{
    static char v[PATH_MAX + 16];
    snprintf(v, sizeof v, "LD_PRELOAD=%s", lib_path());
    return v;
}

static const char *control_env(const char *control)
{
    static char v[PATH_MAX + 32];
    snprintf(v, sizeof v, "SENDSHIM_CONTROL=%s", control);
    return v;
}

/* --- set and clear reach a running tree ------------------------------------------------ */

Test(control, set_and_clear_reach_a_process_its_forked_and_its_execd_child)
{
    make_tmp();
    const char *control = tmp("control"), *out = tmp("calls"), *stop = tmp("stop");
    CTL_OK(control, "init");
    const char *argv[] = {target_path("ctl_target"), "tree", out, stop, NULL};
    const char *env[] = {lib_env(), control_env(control), NULL};
    pid_t pid = spawn(argv, env, tmp("out"), tmp("err"));
    const char *roles[] = {"main", "fork", "exec", NULL};
    wait_calls_after(out, roles, 0);

    uint64_t before_set = now_ns();
    CTL_OK(control, "set", "send:error=ENOBUFS");
    uint64_t set = now_ns();
    wait_calls_after(out, roles, set);
    uint64_t before_clear = now_ns();
    CTL_OK(control, "clear");
    uint64_t cleared = now_ns();
    wait_calls_after(out, roles, cleared);
    touch(stop);
    int status = reap(pid, T);
    cr_assert(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the tree ended with %d", status);

    /* Every call that began after `ctl set` returned failed as the rule says;
     * every call that began after `ctl clear` returned went through; before
     * the set, none failed. (Stronger than "within 100 ms": the change is
     * seen by the very next call.) */
    static struct call calls[MAX_LINES];
    int n = read_calls(out, calls, MAX_LINES);
    uint64_t first_fault[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        const struct call *c = &calls[i];
        int fault = !strcmp(c->result, "ENOBUFS");
        if (c->t < before_set || c->t > cleared)
            cr_expect(!strcmp(c->result, "ok"), "%s %d at %llu: %s outside the set", c->role, c->pid,
                      (unsigned long long)c->t, c->result);
        else if (c->t > set && c->t < before_clear)
            cr_expect(fault, "%s %d at +%llu ns after the set: %s", c->role, c->pid,
                      (unsigned long long)(c->t - set), c->result);
        for (int r = 0; r < 3; r++)
            if (fault && !strcmp(c->role, roles[r]) && !first_fault[r])
                first_fault[r] = c->t;
    }
    for (int r = 0; r < 3; r++) {
        cr_expect_neq(first_fault[r], 0, "%s never saw the rule", roles[r]);
        cr_expect_lt(first_fault[r] > set ? first_fault[r] - set : 0, 100000000ull,
                     "%s took more than 100 ms to see the rule", roles[r]);
    }
    remove_tmp();
}

/* --- stats and show ----------------------------------------------------------------------- */

struct counts {
    int pid;
    unsigned long calls, failed;
};

/* Per process: the calls it made and how many failed, from its own log. */
static int count_by_pid(const char *out, struct counts *per, int max)
{
    static struct call calls[MAX_LINES];
    int n = read_calls(out, calls, MAX_LINES), k = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < k && per[j].pid != calls[i].pid)
            j++;
        if (j == k) {
            cr_assert_lt(k, max);
            per[k++] = (struct counts){calls[i].pid, 0, 0};
        }
        per[j].calls++;
        per[j].failed += strcmp(calls[i].result, "ok") != 0;
    }
    return k;
}

Test(control, stats_text_and_json_match_the_calls_made)
{
    make_tmp();
    const char *control = tmp("control"), *out = tmp("calls"), *stop = tmp("stop");
    CTL_OK(control, "init");
    /* Set before the program starts: every process applies the set at its
     * first call. Every 3rd matching call fails: matched and fired differ. */
    CTL_OK(control, "set", "send:error=ENOBUFS:when=3+3", "sendto:error=EPIPE");
    const char *argv[] = {target_path("ctl_target"), "tree", out, stop, NULL};
    const char *env[] = {lib_env(), control_env(control), NULL};
    pid_t pid = spawn(argv, env, tmp("out"), tmp("err"));
    const char *roles[] = {"main", "fork", "exec", NULL};
    wait_calls_after(out, roles, now_ns());
    touch(stop);
    int status = reap(pid, T);
    cr_assert(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);

    struct counts per[8];
    int procs = count_by_pid(out, per, 8);
    cr_assert_eq(procs, 3);
    struct run_result r;
    ctl(&r, control, "stats", (const char *)NULL);
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    unsigned long total_calls = 0, total_failed = 0;
    for (int i = 0; i < procs; i++) {
        char head[64], line[256];
        snprintf(head, sizeof head, "process %d ctl_target gone\n", per[i].pid);
        const char *block = strstr(r.out, head);
        cr_assert_not_null(block, "no block for %d in:\n%s", per[i].pid, r.out);
        /* Each call sent 1 byte when it went through; no rule was in force
         * before the set, which came before the first call (the set is
         * applied by the call that sees it). */
        snprintf(line, sizeof line, "%s  send calls=%lu failed=%lu bytes=%lu\n", head, per[i].calls,
                 per[i].failed, per[i].calls - per[i].failed);
        cr_expect(!strncmp(block, line, strlen(line)), "expected\n%s\nin\n%s", line, r.out);
        total_calls += per[i].calls;
        total_failed += per[i].failed;
    }
    char line[256];
    snprintf(line, sizeof line, "total of 3 processes\n  send calls=%lu failed=%lu bytes=%lu\n", total_calls,
             total_failed, total_calls - total_failed);
    cr_expect(strstr(r.out, line), "expected\n%s\nin\n%s", line, r.out);
    snprintf(line, sizeof line, "  rule 1 (send:error=ENOBUFS:when=3+3) matched=%lu fired=%lu\n", total_calls,
             total_failed);
    cr_expect(strstr(r.out, line), "expected\n%s\nin\n%s", line, r.out);
    cr_expect(strstr(r.out, "  rule 2 (sendto:error=EPIPE) matched=0 fired=0\n"), "%s", r.out);
    cr_expect_eq(count_lines(r.out, "process "), 3, "%s", r.out);
    run_free(&r);

    /* The same in JSON, read by Python's parser. */
    ctl(&r, control, "stats", "--json", (const char *)NULL);
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    const char *json = tmp("stats.json");
    FILE *f = fopen(json, "w");
    fputs(r.out, f);
    fclose(f);
    run_free(&r);
    char expected[256];
    snprintf(expected, sizeof expected, "3 %lu %lu %lu %lu %lu\n", total_calls, total_failed,
             total_calls - total_failed, total_calls, total_failed);
    const char *py[] = {
        "python3", "-c",
        "import json,sys; d=json.load(open(sys.argv[1])); t=d['total']; s=t['calls']['send'];"
        "r=t['rules'][0]; assert len(d['processes'])==3;"
        "assert sum(p['calls']['send']['calls'] for p in d['processes'])==s['calls'];"
        "print(t['processes'], s['calls'], s['failed'], s['bytes'], r['matched'], r['fired'])",
        json, NULL};
    cr_assert_eq(run(&r, py, NULL, 0, NULL, T), 0);
    cr_expect(r.exited && r.status == 0, "python3 rejected the JSON: %s", r.err);
    cr_expect_str_eq(r.out, expected);
    run_free(&r);

    /* show: the rules, and every process as gone. */
    ctl(&r, control, "show", (const char *)NULL);
    cr_expect(r.exited && r.status == 0);
    cr_expect(strstr(r.out, "rules:\n  1 send:error=ENOBUFS:when=3+3\n  2 sendto:error=EPIPE\nprocesses:\n"),
              "%s", r.out);
    cr_expect_eq(count_lines(r.out, " ctl_target gone"), 3, "%s", r.out);
    run_free(&r);
    remove_tmp();
}

/* --- wait ----------------------------------------------------------------------------------- */

Test(control, wait_returns_at_the_firing_and_exits_1_at_its_timeout)
{
    make_tmp();
    const char *control = tmp("control"), *out = tmp("calls"), *stop = tmp("stop");
    CTL_OK(control, "init");
    const char *argv[] = {target_path("ctl_target"), "loop", out, stop, NULL};
    const char *env[] = {lib_env(), control_env(control), NULL};
    pid_t pid = spawn(argv, env, tmp("out"), tmp("err"));
    const char *roles[] = {"main", NULL};
    wait_calls_after(out, roles, 0);

    /* The rule fires from the 300th call on, some 300 ms after the set (a
     * call a millisecond): wait must not return before it fired twice. */
    CTL_OK(control, "set", "send:error=ENOBUFS:when=300..");
    struct run_result r;
    ctl(&r, control, "wait", "--rule", "1", "--fired", "2", "--timeout", "20s", (const char *)NULL);
    uint64_t returned = now_ns();
    cr_expect(r.exited && r.status == 0, "wait: %d %s", r.status, r.err);
    run_free(&r);
    static struct call calls[MAX_LINES];
    int n = 0, faults = 0;
    uint64_t second = 0;
    /* The line of a call is written after it returns: give it a moment. */
    for (int tries = 0; tries < 100 && faults < 2; tries++, usleep(10000)) {
        n = read_calls(out, calls, MAX_LINES);
        faults = 0;
        for (int i = 0; i < n && faults < 2; i++)
            if (!strcmp(calls[i].result, "ENOBUFS") && ++faults == 2)
                second = calls[i].t;
    }
    cr_assert_eq(faults, 2, "wait returned before the rule fired twice");
    cr_expect_lt(second, returned, "wait returned before the second firing began");
    cr_expect_lt(returned - second, 2000000000ull, "wait returned %llu ns after the firing",
                 (unsigned long long)(returned - second));

    /* A count never reached: exit 1 at the timeout, not before. */
    uint64_t start = now_ns();
    ctl(&r, control, "wait", "--fired", "100000000", "--timeout", "300ms", (const char *)NULL);
    uint64_t took = now_ns() - start;
    cr_expect(r.exited && r.status == 1, "wait: %d %s", r.status, r.err);
    cr_expect_geq(took, 300000000ull);
    cr_expect_lt(took, 5000000000ull);
    run_free(&r);

    /* A rule that matches no call of the program never fires. */
    CTL_OK(control, "set", "sendto:error=ENOBUFS");
    ctl(&r, control, "wait", "--fired", "1", "--timeout", "200ms", (const char *)NULL);
    cr_expect(r.exited && r.status == 1, "wait: %d %s", r.status, r.err);
    run_free(&r);
    /* No such rule: a usage error. */
    ctl(&r, control, "wait", "--rule", "2", "--fired", "1", (const char *)NULL);
    cr_expect(r.exited && r.status == 2, "wait: %d %s", r.status, r.err);
    cr_expect_eq(count_lines(r.err, "names no rule"), 1, "%s", r.err);
    run_free(&r);

    touch(stop);
    cr_expect_geq(reap(pid, T), 0);
    remove_tmp();
}

/* --- bad rules ----------------------------------------------------------------------------- */

Test(control, a_bad_rule_is_exit_2_with_one_line_and_changes_nothing)
{
    make_tmp();
    const char *control = tmp("control");
    CTL_OK(control, "init");
    CTL_OK(control, "set", "send:error=ENOBUFS");
    struct run_result before, r, after;
    ctl(&before, control, "show", (const char *)NULL);
    char *bytes_before = slurp(control);
    ctl(&r, control, "set", "send:delay=1ms", "sendto:error=EISDIR", (const char *)NULL);
    cr_expect(r.exited && r.status == 2, "status %d", r.status);
    /* Section 10's line, from the library's own parser. */
    const char *expected = "sendshim: ctl: set rule 2: 'EISDIR' is not an error sendto can return (EACCES, ";
    cr_expect(!strncmp(r.err, expected, strlen(expected)), "%s", r.err);
    cr_expect(r.err_len && strchr(r.err, '\n') == r.err + r.err_len - 1, "not one line: %s", r.err);
    run_free(&r);
    ctl(&after, control, "show", (const char *)NULL);
    cr_expect_str_eq(after.out, before.out);
    char *bytes_after = slurp(control);
    cr_expect_eq(memcmp(bytes_before, bytes_after, 4096), 0, "the file changed");
    free(bytes_before);
    free(bytes_after);
    run_free(&before);
    run_free(&after);

    /* The program still runs the rules that were set. */
    const char *argv[] = {target_path("ctl_target"), "once", NULL};
    const char *env[] = {control_env(control), NULL};
    cr_assert_eq(run(&r, argv, env, 1, NULL, T), 0);
    cr_expect_str_eq(r.out, "send -1 ENOBUFS\n", "%s", r.err);
    run_free(&r);

    /* Usage errors: exit 2, one line. */
    ctl(&r, control, "frobnicate", (const char *)NULL);
    cr_expect(r.exited && r.status == 2);
    cr_expect(r.err_len && strchr(r.err, '\n') == r.err + r.err_len - 1, "not one line: %s", r.err);
    cr_expect_eq(count_lines(r.err, "'frobnicate' is not a command"), 1, "%s", r.err);
    run_free(&r);
    CTL_REFUSED("'x' is not a count", control, "wait", "--fired", "x");
    CTL_REFUSED("'5' is not a duration", control, "wait", "--fired", "1", "--timeout", "5");
    /* init never takes over an existing file. */
    CTL_REFUSED("File exists", control, "init");
    remove_tmp();
}

/* A rule set written into the file by hand that the library's parser refuses:
 * the program logs one line and keeps the rules it had. */
Test(control, a_malformed_set_in_the_file_is_refused_by_the_program)
{
    make_tmp();
    const char *control = tmp("control"), *out = tmp("calls"), *stop = tmp("stop");
    CTL_OK(control, "init");
    CTL_OK(control, "set", "send:error=ENOBUFS");
    const char *argv[] = {target_path("ctl_target"), "loop", out, stop, NULL};
    const char *env[] = {lib_env(), control_env(control), NULL};
    pid_t pid = spawn(argv, env, tmp("out"), tmp("err"));
    const char *roles[] = {"main", NULL};
    wait_calls_after(out, roles, 0);
    /* Generation 2 -> 4 with text the parser refuses, as a careless or hostile
     * writer would leave it. */
    int fd = open(control, O_WRONLY);
    cr_assert_geq(fd, 0);
    const char text[] = "send:error=EISDIR";
    uint32_t len = sizeof text - 1;
    uint64_t gen = 4;
    cr_assert_eq(pwrite(fd, text, len, offsetof(struct ss_ctl_file, text)), (ssize_t)len);
    cr_assert_eq(pwrite(fd, &len, sizeof len, offsetof(struct ss_ctl_file, len)), (ssize_t)sizeof len);
    cr_assert_eq(pwrite(fd, &gen, sizeof gen, offsetof(struct ss_ctl_file, gen)), (ssize_t)sizeof gen);
    close(fd);
    uint64_t written = now_ns();
    wait_calls_after(out, roles, written);
    touch(stop);
    cr_expect_geq(reap(pid, T), 0);
    static struct call calls[MAX_LINES];
    int n = read_calls(out, calls, MAX_LINES);
    for (int i = 0; i < n; i++)
        cr_expect_str_eq(calls[i].result, "ENOBUFS", "call at %llu", (unsigned long long)calls[i].t);
    char *err = slurp(tmp("err"));
    cr_expect_eq(count_lines(err, "SENDSHIM_CONTROL"), 1, "%s", err);
    cr_expect_eq(count_lines(err, "rules refused, the rules in force stay: rule 1: 'EISDIR'"), 1, "%s", err);
    free(err);
    remove_tmp();
}

/* --- random bytes over the file ------------------------------------------------------- */

Test(control, random_bytes_over_the_file_while_8_threads_send_leave_the_program_correct, .timeout = 120)
{
    make_tmp();
    const char *control = tmp("control"), *stop = tmp("stop");
    CTL_OK(control, "init");
    const char *argv[] = {target_path("ctl_target"), "threads", "8", stop, NULL};
    const char *env[] = {lib_env(), control_env(control), NULL};
    pid_t pid = spawn(argv, env, tmp("out"), tmp("err"));
    usleep(200000);
    struct stat st;
    cr_assert_eq(stat(control, &st), 0);
    int fd = open(control, O_WRONLY); /* never O_TRUNC: see README's Limits */
    cr_assert_geq(fd, 0);
    unsigned seed = 12345;
    char junk[CONTROL_BYTES];
    uint64_t end = now_ns() + 2000000000ull;
    unsigned long writes = 0;
    while (now_ns() < end) {
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (char)rand_r(&seed);
        size_t len = 1 + (size_t)rand_r(&seed) % sizeof junk;
        /* Half the writes hit the header and the rule text, where a change
         * makes the program look. */
        off_t off = (rand_r(&seed) & 1) ? (off_t)(rand_r(&seed) % 512)
                                        : (off_t)((size_t)rand_r(&seed) % ((size_t)st.st_size - len));
        cr_assert_eq(pwrite(fd, junk, len, off), (ssize_t)len);
        writes++;
        if (writes % 16 == 0)
            usleep(1000);
    }
    close(fd);
    touch(stop);
    int status = reap(pid, 60);
    char *out = slurp(tmp("out")), *err = slurp(tmp("err"));
    cr_assert(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s %s", status, out,
              err);
    cr_expect(!strncmp(out, "threads ok ", 11), "%s", out);
    cr_expect_gt(strtoul(out + 11, NULL, 10), 1000, "%s", out);
    cr_log_info("%lu random writes; %d refusals logged", writes, count_lines(err, "SENDSHIM_CONTROL"));
    free(out);
    free(err);
    remove_tmp();
}

/* --- files the library must not attach to ---------------------------------------------------- */

static void expect_not_attached(const char *control, const char *why)
{
    struct run_result r;
    const char *argv[] = {target_path("ctl_target"), "once", NULL};
    const char *env[] = {control_env(control), NULL};
    cr_assert_eq(run(&r, argv, env, 1, NULL, T), 0);
    cr_expect(r.exited && r.status == 0, "%d %s", r.status, r.err);
    cr_expect_str_eq(r.out, "send 1\n", "the rules of a refused file were applied: %s", r.err);
    cr_expect_eq(count_lines(r.err, "sendshim["), 1, "%s", r.err);
    cr_expect_eq(count_lines(r.err, why), 1, "%s", r.err);
    run_free(&r);
}

Test(control, a_file_writable_by_others_or_owned_by_another_user_is_not_attached)
{
    make_tmp();
    const char *control = tmp("control");
    CTL_OK(control, "init");
    CTL_OK(control, "set", "send:error=ENOBUFS");
    /* The control: as made, the file is attached and its rule applies. */
    struct run_result r;
    const char *argv[] = {target_path("ctl_target"), "once", NULL};
    const char *env[] = {control_env(control), NULL};
    cr_assert_eq(run(&r, argv, env, 1, NULL, T), 0);
    cr_expect_str_eq(r.out, "send -1 ENOBUFS\n", "%s", r.err);
    run_free(&r);

    cr_assert_eq(chmod(control, 0666), 0);
    expect_not_attached(control, "is writable by group or others; running without live control");
    cr_assert_eq(chmod(control, 0620), 0);
    expect_not_attached(control, "is writable by group or others");
    cr_assert_eq(chmod(control, 0600), 0);

    char link[PATH_MAX];
    snprintf(link, sizeof link, "%s/link", dir);
    cr_assert_eq(symlink(control, link), 0);
    expect_not_attached(link, "cannot be opened (ELOOP");
    expect_not_attached(dir, "cannot be opened (EISDIR)");
    const char *fifo = tmp("fifo"); /* opened without blocking, then refused */
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    expect_not_attached(fifo, "is not a regular file");
    expect_not_attached(tmp("missing"), "cannot be opened (ENOENT");
    const char *small = tmp("small");
    touch(small);
    expect_not_attached(small, "is not a control file");

    if (geteuid() == 0) {
        struct passwd *nobody = getpwnam("nobody");
        if (nobody) {
            cr_assert_eq(chown(control, nobody->pw_uid, nobody->pw_gid), 0);
            expect_not_attached(control, "is not owned by this user");
            /* ctl refuses it too. */
            CTL_REFUSED("is not owned by you", control, "show");
        }
    }
    remove_tmp();
}

Test(control, secure_execution_mode_ignores_sendshim_control)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to make a setuid copy");
    struct passwd *nobody = getpwnam("nobody");
    if (!nobody)
        cr_skip_test("no user nobody");
    make_tmp();
    cr_assert_eq(chmod(dir, 0755), 0);
    const char *control = tmp("control"), *prog_suid = tmp("prog-setuid"), *prog_plain = tmp("prog-plain");
    const char *lib = tmp("libsendshim.so");
    CTL_OK(control, "init");
    CTL_OK(control, "set", "send:error=ENOBUFS");
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof cmd,
             "cp '%s' '%s' && cp '%s' '%s' && cp '%s' '%s' && chown %u '%s' && chmod 4755 '%s'",
             target_path("stress_secure"), prog_suid, target_path("stress_secure"), prog_plain, lib_path(),
             lib, (unsigned)nobody->pw_uid, prog_suid, prog_suid);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    const char *env[] = {control_env(control), NULL};
    struct run_result r;
    /* The control: not setuid, the rule of the control file applies. */
    const char *plain[] = {prog_plain, lib, NULL};
    cr_assert_eq(run(&r, plain, env, 0, NULL, T), 0);
    cr_expect_str_eq(r.out, "secure=0 send -1 ENOBUFS\n", "%s", r.err);
    run_free(&r);
    const char *suid[] = {prog_suid, lib, NULL};
    cr_assert_eq(run(&r, suid, env, 0, NULL, T), 0);
    if (!strncmp(r.out, "secure=0", 8)) {
        remove_tmp();
        cr_skip_test("the setuid copy is not in secure-execution mode (nosuid mount?)");
    }
    cr_expect_str_eq(r.out, "secure=1 send 2\n", "%s", r.err);
    cr_expect_eq(count_lines(r.err, "sendshim["), 0, "%s", r.err);
    run_free(&r);
    /* It never attached: only the control run is listed. */
    ctl(&r, control, "show", (const char *)NULL);
    cr_expect_eq(count_lines(r.out, " gone"), 1, "%s", r.out);
    run_free(&r);
    remove_tmp();
}

/* --- the launcher's --stats and --control ------------------------------------------------------ */

Test(control, stats_of_python_http_server_killed_by_sigterm, .timeout = 60)
{
    if (!have_program("python3") || !have_program("curl"))
        cr_skip_test("needs python3 and curl");
    make_tmp();
    const char *argv[] = {script_path(), "--stats", "--",        "python3", "-u", "-m",
                          "http.server", "--bind",  "127.0.0.1", "0",       NULL};
    const char *out = tmp("out"), *err = tmp("err");
    pid_t pid = spawn(argv, NULL, out, err);
    int port = http_server_port(out);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    struct run_result r;
    for (int i = 0; i < 3; i++) {
        const char *curl[] = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url, NULL};
        cr_assert_eq(run(&r, curl, NULL, 0, NULL, T), 0);
        cr_expect_str_eq(r.out, "200");
        run_free(&r);
    }
    /* SIGTERM's default action ends the server: no destructor, no atexit. */
    kill(pid, SIGTERM);
    int status = reap(pid, T);
    char *text = slurp(err);
    cr_assert(status >= 0, "the launcher did not end");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM, "status %d: %s", status, text);
    /* One send (sendall) of headers and listing a request, at least. */
    const char *line = strstr(text, "sendshim: stats: send calls=");
    cr_assert_not_null(line, "%s", text);
    cr_expect_geq(atoi(line + strlen("sendshim: stats: send calls=")), 3, "%s", text);
    cr_expect_eq(count_lines(text, "sendshim: stats: processes="), 1, "%s", text);
    free(text);
    /* The temporary control file is gone with its directory. */
    remove_tmp();
}

/* README's "Breaking a running service", as a test: python3's http.server
 * under --control, curl against it before, during and after. */
static void curl_get(struct run_result *r, int port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    const char *curl[] = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", url, NULL};
    cr_assert_eq(run(r, curl, NULL, 0, NULL, T), 0);
}

Test(control, python3_http_server_broken_and_healed_while_it_runs, .timeout = 60)
{
    if (!have_program("python3") || !have_program("curl"))
        cr_skip_test("needs python3 and curl");
    make_tmp();
    const char *control = tmp("control"), *out = tmp("out");
    const char *argv[] = {script_path(), "--control",   control,  "--",        "python3", "-u",
                          "-m",          "http.server", "--bind", "127.0.0.1", "0",       NULL};
    pid_t pid = spawn(argv, NULL, out, tmp("err"));
    int port = http_server_port(out);
    struct run_result r;
    curl_get(&r, port);
    cr_expect(r.exited && r.status == 0 && !strncmp(r.out, "200 ", 4), "before: %s", r.out);
    run_free(&r);

    CTL_OK(control, "set", "*:error=ECONNRESET:type=stream:family=inet");
    curl_get(&r, port);
    cr_expect(r.exited && r.status == 52, "during: curl exit %d (expected 52, empty reply)", r.status);
    run_free(&r);
    ctl(&r, control, "wait", "--fired", "1", "--timeout", "5s", (const char *)NULL);
    cr_expect(r.exited && r.status == 0);
    run_free(&r);

    CTL_OK(control, "set", "*:delay=200ms");
    curl_get(&r, port);
    cr_expect(r.exited && r.status == 0 && !strncmp(r.out, "200 ", 4), "delayed: %s", r.out);
    cr_expect_geq(strtod(r.out + 4, NULL), 0.2, "not delayed: %s", r.out);
    run_free(&r);

    CTL_OK(control, "clear");
    curl_get(&r, port);
    cr_expect(r.exited && r.status == 0 && !strncmp(r.out, "200 ", 4), "after: %s", r.out);
    cr_expect_lt(strtod(r.out + 4, NULL), 0.2, "still delayed: %s", r.out);
    run_free(&r);

    kill(pid, SIGTERM);
    cr_expect_geq(reap(pid, T), 0);
    remove_tmp();
}

Test(control, launcher_control_sets_fault_rules_in_the_file)
{
    make_tmp();
    const char *control = tmp("control");
    struct run_result r;
    const char *argv[] = {script_path(),
                          "--control",
                          control,
                          "--fault",
                          "send:error=ENOBUFS:when=1",
                          "--",
                          target_path("ctl_target"),
                          "once",
                          NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
    cr_expect(r.exited && r.status == 0, "%d %s", r.status, r.err);
    cr_expect_str_eq(r.out, "send -1 ENOBUFS\n", "%s", r.err);
    run_free(&r);
    ctl(&r, control, "stats", (const char *)NULL);
    cr_expect(strstr(r.out, "total of 1 process\n  send calls=1 failed=1 bytes=0\n"), "%s", r.out);
    cr_expect(strstr(r.out, "  rule 1 (send:error=ENOBUFS:when=1) matched=1 fired=1\n"), "%s", r.out);
    run_free(&r);
    /* The file exists now: a second run reuses it, and its rules. */
    const char *again[] = {script_path(), "--control", control, "--", target_path("ctl_target"),
                           "once",        NULL};
    cr_assert_eq(run(&r, again, NULL, 0, NULL, T), 0);
    cr_expect_str_eq(r.out, "send -1 ENOBUFS\n", "%s", r.err);
    run_free(&r);
    /* Not a control file: refused before PROGRAM runs. */
    const char *other = tmp("other");
    touch(other);
    const char *bad[] = {script_path(), "--control", other, "--", target_path("ctl_target"), "once", NULL};
    cr_assert_eq(run(&r, bad, NULL, 0, NULL, T), 0);
    cr_expect(r.exited && r.status == 2, "%d", r.status);
    cr_expect_str_eq(r.out, "");
    cr_expect_eq(count_lines(r.err, "is not a control file"), 1, "%s", r.err);
    run_free(&r);
    remove_tmp();
}

/* --- no system call per call ------------------------------------------------------------ */

/* System calls of `ctl_target sends N` under strace. */
static int syscalls_of(const char *control, const char *n)
{
    const char *argv[] = {target_path("ctl_target"), "sends", n, NULL};
    const char *env[] = {control_env(control), NULL};
    struct run_result r;
    char *trace;
    cr_assert_eq(run_strace(&r, "all", argv, env, 1, T, &trace), 0);
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    int calls = count_lines(trace, "(");
    run_free(&r);
    free(trace);
    return calls;
}

Test(control, an_attached_process_makes_no_extra_system_call_per_send)
{
    if (!have_program("strace"))
        cr_skip_test("needs strace");
    make_tmp();
    const char *control = tmp("control");
    CTL_OK(control, "init");
    CTL_OK(control, "set", "sendto:error=ENOBUFS"); /* in force, never firing on send */
    /* 990 more sends cost exactly their own sendto and recvfrom: the version
     * check, the counters and the rule set add none. (Applying the set at the
     * first call maps memory once, in both runs.) */
    cr_expect_eq(syscalls_of(control, "1000") - syscalls_of(control, "10"), 2 * 990);
    remove_tmp();
}

/* --- real programs broken and healed while they run (README's matrix) ----------------------- */

/* The server of a test, killed with its whole process group however the
 * test ends (a failed cr_assert too: .fini runs after it). */
static pid_t server;

static void kill_server(void)
{
    if (server > 0) {
        kill(-server, SIGKILL);
        waitpid(server, NULL, 0);
        server = 0;
    }
}

/* `ctl wait --fired N` with a 5 s timeout: its exit status. */
static int ctl_wait_fired(const char *control, const char *n)
{
    struct run_result r;
    ctl(&r, control, "wait", "--fired", n, "--timeout", "5s", (const char *)NULL);
    int status = r.exited ? r.status : -1;
    run_free(&r);
    return status;
}

/* A UDP socket on 127.0.0.1 (an ephemeral port) that the test reads itself. */
static int udp_receiver(int *port)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof a) &&
              !getsockname(s, (struct sockaddr *)&a, &len));
    *port = ntohs(a.sin_port);
    return s;
}

/* The next datagram that arrives within ms milliseconds, as a string ("" when none). */
static void recv_datagram(int s, char *buf, size_t size, int ms)
{
    struct pollfd p = {.fd = s, .events = POLLIN};
    ssize_t n = poll(&p, 1, ms) == 1 ? recv(s, buf, size - 1, MSG_DONTWAIT) : 0;
    buf[n > 0 ? n : 0] = '\0';
}

static void feed(int fd, const char *line)
{
    cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line), "socat's stdin is closed");
}

/* socat sends each line it reads from its stdin as a datagram with sendto
 * (strace: sendto(5, "a\n", 2, 0, {AF_INET...}, 16)). Line two is dropped
 * while the rule is set, line three goes out once it is cleared, and socat
 * never notices (drop reports the length as sent). */
Test(control, program_socat_udp_sender_drops_while_set, .timeout = 60, .fini = kill_server)
{
    if (!have_program("socat"))
        cr_skip_test("needs socat");
    make_tmp();
    signal(SIGPIPE, SIG_IGN); /* a dead socat is an assertion, not a dead runner */
    int port, rx = udp_receiver(&port), in[2];
    char dest[64], got[64];
    snprintf(dest, sizeof dest, "UDP-SENDTO:127.0.0.1:%d", port);
    const char *control = tmp("control"), *err = tmp("err");
    const char *argv[] = {script_path(), "--control", control, "--", "socat", "-u", "STDIN", dest, NULL};
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
    server = spawn_in(argv, NULL, in[0], tmp("out"), err);
    close(in[0]);

    feed(in[1], "one\n");
    recv_datagram(rx, got, sizeof got, SETTLE_S * 1000);
    cr_expect_str_eq(got, "one\n", "before: line one did not arrive");

    CTL_OK(control, "set", "sendto:drop:family=inet");
    feed(in[1], "two\n");
    cr_expect_eq(ctl_wait_fired(control, "1"), 0, "the drop did not fire on line two");
    recv_datagram(rx, got, sizeof got, 0);
    cr_expect_str_eq(got, "", "during: line two arrived");

    CTL_OK(control, "clear");
    feed(in[1], "three\n");
    recv_datagram(rx, got, sizeof got, SETTLE_S * 1000);
    cr_expect_str_eq(got, "three\n", "after: line three did not arrive next");

    close(in[1]); /* end of input: socat ends */
    int status = reap(server, T);
    server = 0;
    char *text = slurp(err);
    cr_expect(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "socat status %d: %s", status,
              text);
    free(text);
    close(rx);
    remove_tmp();
}

/* A TCP port on 127.0.0.1 that was free a moment ago, for a server that
 * cannot be given port 0 and tell which one it got. */
static int free_tcp_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof a) &&
              !getsockname(s, (struct sockaddr *)&a, &len));
    close(s);
    return ntohs(a.sin_port);
}

static void redis_ping(struct run_result *r, int port)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    const char *argv[] = {"redis-cli", "-h", "127.0.0.1", "-p", p, "PING", NULL};
    cr_assert_eq(run(r, argv, NULL, 0, NULL, T), 0);
}

/* redis-server answers with write(2) on the client's socket (strace: write(7,
 * "+PONG\r\n", 7)), which `*` matches on a socket: while the rule is set the
 * reply fails ECONNRESET, redis drops that client and redis-cli sees the
 * connection closed; once cleared the same server answers again. */
Test(control, program_redis_server_broken_and_healed_while_it_runs, .timeout = 60, .fini = kill_server)
{
    if (!have_program("redis-server") || !have_program("redis-cli"))
        cr_skip_test("needs redis-server and redis-cli (Debian packages redis-server, redis-tools)");
    make_tmp();
    const char *control = tmp("control"), *out = tmp("out");
    char port_s[16];
    int port = free_tcp_port();
    snprintf(port_s, sizeof port_s, "%d", port);
    const char *argv[] = {script_path(), "--control", control,  "--", "redis-server", "--port", port_s,
                          "--bind",      "127.0.0.1", "--save", "",   "--appendonly", "no",     "--dir",
                          dir,           NULL};
    server = spawn(argv, NULL, out, out);
    int ready = 0;
    for (int i = 0; i < SETTLE_S * 100 && !ready; i++, usleep(10000)) {
        char *text = slurp(out);
        ready = strstr(text, "Ready to accept connections") != NULL;
        free(text);
    }
    cr_assert(ready, "redis-server did not start");
    struct run_result r;
    redis_ping(&r, port);
    cr_expect(r.exited && r.status == 0 && !strcmp(r.out, "PONG\n"), "before: %d %s%s", r.status, r.out,
              r.err);
    run_free(&r);

    const char *rule = "*:error=ECONNRESET:type=stream:family=inet";
    CTL_OK(control, "set", rule);
    redis_ping(&r, port);
    cr_expect(r.exited && r.status == 1 && strstr(r.err, "Server closed the connection"), "during: %d %s%s",
              r.status, r.out, r.err);
    run_free(&r);
    cr_expect_eq(ctl_wait_fired(control, "1"), 0, "the rule did not fire");
    ctl(&r, control, "stats", (const char *)NULL);
    char want[128];
    snprintf(want, sizeof want, "rule 1 (%s) matched=1 fired=1", rule);
    /* once for the process, once in the total */
    cr_expect_eq(count_lines(r.out, want), 2, "%s", r.out);
    run_free(&r);

    CTL_OK(control, "clear");
    redis_ping(&r, port);
    cr_expect(r.exited && r.status == 0 && !strcmp(r.out, "PONG\n"), "after: %d %s%s", r.status, r.out,
              r.err);
    run_free(&r);
    char *text = slurp(out);
    cr_expect_eq(count_lines(text, "Ready to accept connections"), 1, "redis-server restarted: %s", text);
    free(text);
    kill_server();
    remove_tmp();
}

/* curl is the preloaded program here, attached by hand (SENDSHIM_CONTROL on a
 * file made by `ctl init`), against a python3 http.server that is not:
 * curl lives for one request, so the rule is switched between two runs of
 * it, both attached to the same file. */
Test(control, program_curl_attached_by_hand_fails_while_set, .timeout = 60, .fini = kill_server)
{
    if (!have_program("python3") || !have_program("curl"))
        cr_skip_test("needs python3 and curl");
    make_tmp();
    const char *control = tmp("control"), *out = tmp("out");
    const char *argv[] = {"/usr/bin/env", "python3",   "-u", "-m", "http.server",
                          "--bind",       "127.0.0.1", "0",  NULL};
    server = spawn(argv, NULL, out, tmp("err"));
    int port = http_server_port(out);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    const char *curl[] = {"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", url, NULL};
    const char *env[] = {control_env(control), NULL};
    struct run_result r;
    CTL_OK(control, "init");

    CTL_OK(control, "set", "*:error=ECONNRESET:type=stream:family=inet");
    cr_assert_eq(run(&r, curl, env, 1, NULL, T), 0);
    cr_expect(r.exited && r.status == 55 && strstr(r.err, "Connection reset by peer"), "during: %d %s%s",
              r.status, r.out, r.err);
    run_free(&r);
    cr_expect_eq(ctl_wait_fired(control, "1"), 0, "the rule did not fire");

    CTL_OK(control, "clear");
    cr_assert_eq(run(&r, curl, env, 1, NULL, T), 0);
    cr_expect(r.exited && r.status == 0 && !strcmp(r.out, "200"), "after: %d %s%s", r.status, r.out, r.err);
    run_free(&r);
    ctl(&r, control, "stats", (const char *)NULL);
    cr_expect(strstr(r.out, "total of 2 processes") != NULL, "both curls attached: %s", r.out);
    run_free(&r);
    kill_server();
    remove_tmp();
}
