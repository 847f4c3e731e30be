/* test_reliability.c - the library under load (issue 7): many threads with
 * rules replaced at run time, sends from a signal handler, fork storms and
 * exec chains, large transfers through real programs under every fault a
 * correct program survives, and valgrind memcheck.
 *
 * Sizes: SENDSHIM_RELIABILITY_MIB (read by this runner, default 16) sets the
 * size of each real-program transfer; `make stress` runs it with 64.
 * SENDSHIM_RELIABILITY_CALLS (default 200000) sets the calls per thread,
 * SENDSHIM_RELIABILITY_SIGNAL_MIB (default 64) the stream sent while SIGALRM
 * fires, SENDSHIM_RELIABILITY_FORKS (default 200) the children of the storm. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define T                 60     /* seconds a spawned program may take */
#define STRESS_THREADS    8      /* sender threads */
#define STRESS_CALLS      200000 /* calls per thread (default) */
#define FORK_STORM        200    /* children in the fork storm */
#define FORKS_PER_SECOND  10     /* the slowest fork rate the storm's timeout allows */
#define FORK_THREADS      4      /* threads sending meanwhile */
#define CHAIN_LINKS       5      /* execs in the exec chain */
#define SIGNAL_STREAM_MIB 64     /* MiB the main loop sends while SIGALRM fires */
#define TRANSFER_MIB      16     /* default real-program transfer */
#define LINE_MAX_LEN      4096   /* longest log line read back */

static void run_ok_within(struct run_result *r, const char *const argv[], const char *const env[],
                          int preload, int timeout_s)
{
    cr_assert_eq(run(r, argv, env, preload, NULL, timeout_s), 0, "could not run %s", argv[0]);
    cr_assert(!r->timed_out, "%s timed out after %d s (deadlock?)", argv[0], timeout_s);
}

static void run_ok(struct run_result *r, const char *const argv[], const char *const env[], int preload)
{
    run_ok_within(r, argv, env, preload, T);
}

/* Run argv with the library preloaded; it must exit with status 0. */
static void run_preloaded_exit0(struct run_result *r, const char *const argv[], const char *const env[])
{
    run_ok(r, argv, env, 1);
    cr_assert(r->exited && r->status == 0, "status %d signal %d\n%s", r->status, r->sig, r->err);
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? atol(v) : dflt;
}

/* A fresh file name under /tmp (the file itself removed). */
static void temp_name(char *path, const char *stem)
{
    sprintf(path, "/tmp/sendshim-rel-%s-XXXXXX", stem);
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    unlink(path);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* The number after "key=" on the first line containing `line_has`. */
static uint64_t field(const char *text, const char *line_has, const char *key)
{
    const char *l = strstr(text, line_has);
    cr_assert_not_null(l, "no line with '%s' in:\n%.3000s", line_has, text);
    const char *nl = strchr(l, '\n');
    char k[64];
    snprintf(k, sizeof k, " %s=", key);
    /* Find the line's start, so a key that begins the line is found too. */
    while (l > text && l[-1] != '\n')
        l--;
    const char *v = memmem(l, nl ? (size_t)(nl - l) : strlen(l), k + 1, strlen(k + 1));
    if (v && v != l && v[-1] != ' ')
        v = memmem(l, nl ? (size_t)(nl - l) : strlen(l), k, strlen(k));
    else if (v)
        v--; /* as if preceded by the space */
    cr_assert_not_null(v, "no %s= on the line with '%s'", key, line_has);
    return strtoull(v + strlen(k), NULL, 10);
}

/* Every line is one whole diagnostic: "sendshim[PID]: ..." and a newline. */
static void expect_whole_lines(const char *log)
{
    size_t bad = 0, lines = 0;
    for (const char *p = log; *p;) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "the log ends inside a line");
        /* sscanf on a copy of the line's start: on the whole log it would
         * measure the rest of the text at every line. */
        char head[32];
        size_t n = (size_t)(nl - p) < sizeof head - 1 ? (size_t)(nl - p) : sizeof head - 1;
        memcpy(head, p, n);
        head[n] = '\0';
        unsigned pid;
        char rest[2];
        if (sscanf(head, "sendshim[%u]: %1s", &pid, rest) != 2)
            bad++;
        lines++;
        p = nl + 1;
    }
    cr_expect_eq(bad, 0, "%zu of %zu log lines are not whole diagnostics", bad, lines);
}

/* --- threads ------------------------------------------------------------------------------ */

/* 8 threads x 200,000 calls on unix dgram, UDP and TCP pairs, rules firing
 * (short, EINTR, drop, batch, delay) and replaced every 200 us by another
 * thread: the per-function stats equal the calls the program made, every
 * fault has its line, no stream byte is wrong, no unix datagram is lost. */
Test(reliability, threads_with_rule_replacement_stats_equal_calls, .timeout = 240)
{
    long calls = env_long("SENDSHIM_RELIABILITY_CALLS", STRESS_CALLS);
    char log[64], n_threads[16], n_calls[16], logvar[96];
    temp_name(log, "threads");
    snprintf(n_threads, sizeof n_threads, "%d", STRESS_THREADS);
    snprintf(n_calls, sizeof n_calls, "%ld", calls);
    snprintf(logvar, sizeof logvar, "SENDSHIM_LOG=%s", log);
    const char *argv[] = {target_path("stress_threads"), n_threads, n_calls, NULL};
    /* NOSIGPIPE: write on a socket always takes the pipeline, so it is
     * counted whatever rules are in force at the moment. */
    const char *env[] = {"SENDSHIM_STATS=1",
                         "SENDSHIM_NOSIGPIPE=1",
                         "SENDSHIM_SEED=77",
                         logvar,
                         "SENDSHIM_FAULTS=*:error=EINTR:p=0.01;send:short=25%:type=stream",
                         NULL};
    struct run_result r;
    run_preloaded_exit0(&r, argv, env);
    char *text = slurp(log);
    static const char *const fns[] = {"send", "sendto", "sendmsg", "sendmmsg", "write"};
    uint64_t total = 0;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        char stat_line[64];
        snprintf(stat_line, sizeof stat_line, "stats: %s calls=", fns[i]);
        uint64_t made = field(r.out, "calls ", fns[i]);
        uint64_t failed = field(r.out, "failed ", fns[i]);
        cr_expect_eq(field(text, stat_line, "calls"), made, "%s: stats calls vs made", fns[i]);
        cr_expect_eq(field(text, stat_line, "failed"), failed, "%s: stats failed vs seen", fns[i]);
        total += made;
    }
    cr_expect_eq(total, (uint64_t)STRESS_THREADS * (uint64_t)calls, "%s", r.out);
    uint64_t faults = field(text, "stats: flags_rewritten=", "faults");
    cr_expect_eq((uint64_t)count_lines(text, "]: fault rule "), faults, "one line per injected fault");
    cr_expect_gt(faults, 1000);
    cr_expect_eq(field(r.out, "unix-dgram ", "sent"), field(r.out, "unix-dgram ", "received"), "%s", r.out);
    cr_expect_eq(field(r.out, "tcp sent", "sent"), field(r.out, "tcp sent", "received"), "%s", r.out);
    cr_expect_eq(field(r.out, "tcp corrupt", "corrupt"), 0, "%s", r.out);
    cr_expect_gt(field(r.out, "swaps=", "swaps") + 1, 10, "%s", r.out);
    cr_expect(strstr(r.out, " rejected=0\n"), "%s", r.out);
    expect_whole_lines(text);
    cr_log_info("threads: %d x %ld calls, %llu faults injected, %s", STRESS_THREADS, calls,
                (unsigned long long)faults, r.out);
    free(text);
    unlink(log);
    run_free(&r);
}

/* The descriptor step (shim/core/path.h) counts calls with one atomic add
 * per rule group and no lock: 8 threads x 20,000 sends on one unix datagram
 * socket. Rules 1 and 2 match the same calls,
 * so they share one counter: it gives each call its own number, and they
 * fire on 1000, 2000, ... and on 500, 1500, ...: exactly 320 failures,
 * whatever the interleaving. A lost or doubled count would move a firing.
 * Rule 3, a second group that never fires, is counted on every call too.
 * (Rules of two groups due near the same count may both fire, or not, as
 * the threads interleave: each group's counter numbers the calls in its own
 * order.) */
Test(reliability, threads_count_exactly_through_the_descriptor_step, .timeout = 120)
{
    const char *argv[] = {target_path("sendprog"), "unix-dgram", "threads:8:20000", NULL};
    const char *env[] = {"SENDSHIM_NOSIGPIPE=1", "SENDSHIM_FLAGS=freebsd", "SENDSHIM_LOG=none",
                         "SENDSHIM_FAULTS=send:error=ENOBUFS:when=1000+1000;send:error=EINTR:when=500+1000;"
                         "send:error=EPIPE:when=1000000000:type=dgram",
                         NULL};
    struct run_result r;
    run_preloaded_exit0(&r, argv, env);
    cr_expect_str_eq(r.out, "threads 159680\n", "160,000 sends, 320 failed");
    run_free(&r);
}

/* --- stack --------------------------------------------------------------------------------- */

/* How much stack a call takes through the library (README, Limits): the
 * depth below a signal handler's frame, with the library minus without, for
 * a send with trace and a fault firing, and for the normalizer's deep cases
 * (sendmsg and sendmmsg with control data and 1500 iovecs). LD_BIND_NOW, so
 * the loader's first resolution of a symbol is not counted. */
#define STACK_SEND_MAX (4 * 1024)  /* send, sendto: measured 3.8 KiB */
#define STACK_NORM_MAX (10 * 1024) /* sendmsg, sendmmsg rewritten: measured 10.0 KiB */

static long depth_of(const char *out, const char *call)
{
    char key[32];
    snprintf(key, sizeof key, "%s ", call);
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, key, strlen(key)))
            return atol(p + strlen(key));
    return -1;
}

Test(reliability, stack_taken_by_a_call_is_bounded)
{
    const char *argv[] = {target_path("stack_depth"), NULL};
    const char *plain[] = {"LD_BIND_NOW=1", NULL};
    const char *deep[] = {"LD_BIND_NOW=1", "SENDSHIM_TRACE=1", "SENDSHIM_FLAGS=freebsd",
                          "SENDSHIM_FAULTS=*:delay=1ns", NULL};
    struct run_result without, with;
    run_ok(&without, argv, plain, 0);
    run_preloaded_exit0(&with, argv, deep);
    static const char *const calls[] = {"send", "sendto", "sendmsg", "sendmmsg"};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        long base = depth_of(without.out, calls[i]), lib = depth_of(with.out, calls[i]);
        cr_assert(base > 0 && lib > 0, "%s\n%s", without.out, with.out);
        long max = i < 2 ? STACK_SEND_MAX : STACK_NORM_MAX;
        cr_expect_leq(lib - base, max, "%s takes %ld bytes of stack in the library (at most %ld)", calls[i],
                      lib - base, max);
        cr_log_info("stack: %s %ld bytes in the library", calls[i], lib - base);
    }
    /* The deep cases really were rewritten: 1500 iovecs gathered into one datagram. */
    cr_expect(strstr(with.out, "sendmsg ") && strstr(with.out, " 1500\n"), "%s", with.out);
    run_free(&without);
    run_free(&with);
}

/* --- signals ------------------------------------------------------------------------------- */

/* SIGALRM every 100 us; its handler sends datagrams while the main loop
 * sends 64 MiB over TCP with short/EINTR faults, trace and stats on. */
Test(reliability, sends_from_a_signal_handler_at_a_high_rate, .timeout = 120)
{
    char log[64], logvar[96], mib[16];
    temp_name(log, "signals");
    snprintf(logvar, sizeof logvar, "SENDSHIM_LOG=%s", log);
    long stream_mib = env_long("SENDSHIM_RELIABILITY_SIGNAL_MIB", SIGNAL_STREAM_MIB);
    snprintf(mib, sizeof mib, "%ld", stream_mib);
    const char *argv[] = {target_path("stress_signals"), mib, "100", NULL};
    const char *env[] = {"SENDSHIM_TRACE=1",
                         "SENDSHIM_STATS=1",
                         "SENDSHIM_SEED=9",
                         logvar,
                         "SENDSHIM_FAULTS=send,sendmsg:short=30%:p=0.3:type=stream;"
                         "send,sendmsg:error=EINTR:p=0.1:type=stream;"
                         "sendto,sendmsg:error=EINTR:p=0.05:type=dgram;"
                         "sendto,sendmsg:drop:p=0.02:type=dgram;"
                         "sendto:error=EAGAIN:p=0.01",
                         NULL};
    struct run_result r;
    run_preloaded_exit0(&r, argv, env);
    char *text = slurp(log);
    uint64_t h_calls = field(r.out, "handler ", "calls"), h_sent = field(r.out, "handler ", "sent");
    uint64_t m_calls = field(r.out, "main ", "calls");
    uint64_t dropped = field(text, "stats: rule 4 ", "fired");
    cr_expect_gt(h_calls, 1000, "the handler ran too rarely: %s", r.out);
    cr_expect_eq(field(r.out, "dgram ", "bad"), 0, "%s", r.out);
    cr_expect_eq(field(r.out, "dgram ", "received") + dropped, h_sent, "lost datagrams: %s", r.out);
    cr_expect_eq(field(r.out, "stream ", "sent"), (uint64_t)stream_mib << 20, "%s", r.out);
    cr_expect_eq(field(r.out, "stream ", "received"), (uint64_t)stream_mib << 20, "%s", r.out);
    cr_expect_eq(field(r.out, "stream ", "corrupt"), 0, "%s", r.out);
    /* One trace line per call, from the handler as from the main loop. */
    cr_expect_eq((uint64_t)count_lines(text, "]: trace: "), h_calls + m_calls);
    uint64_t counted = field(text, "stats: send calls=", "calls") +
                       field(text, "stats: sendto calls=", "calls") +
                       field(text, "stats: sendmsg calls=", "calls");
    cr_expect_eq(counted, h_calls + m_calls);
    expect_whole_lines(text);
    cr_log_info("signals: %s", r.out);
    free(text);
    unlink(log);
    run_free(&r);
}

/* --- fork and exec ----------------------------------------------------------------------------- */

Test(reliability, fork_storm_while_threads_send_and_rules_change, .timeout = 600)
{
    long n_forks = env_long("SENDSHIM_RELIABILITY_FORKS", FORK_STORM);
    char forks[16], threads[16], want[64];
    snprintf(forks, sizeof forks, "%ld", n_forks);
    snprintf(threads, sizeof threads, "%d", FORK_THREADS);
    const char *argv[] = {target_path("stress_fork"), "storm", forks, threads, NULL};
    const char *env[] = {"SENDSHIM_FAULTS=sendto:error=EINTR:fd=9999", NULL};
    struct run_result r;
    /* Forks are slow while four threads keep both cores busy (about 35 a
     * second here): the timeout grows with the storm. */
    run_ok_within(&r, argv, env, 1, T + (int)(n_forks / FORKS_PER_SECOND));
    cr_expect(r.exited && r.status == 0, "status %d signal %d\n%.3000s", r.status, r.sig, r.err);
    snprintf(want, sizeof want, "storm forks=%ld ok=%ld sent=>0\n", n_forks, n_forks);
    cr_expect_str_eq(r.out, want);
    /* Each child's own rule fired once and logged with the child's pid. */
    cr_expect_eq(count_lines(r.err, "(send:error=EINTR:when=1): send("), n_forks, "%.2000s", r.err);
    run_free(&r);
}

Test(reliability, exec_chain_keeps_the_configuration)
{
    char links[16];
    snprintf(links, sizeof links, "%d", CHAIN_LINKS);
    const char *argv[] = {target_path("stress_fork"), "chain", links, NULL};
    const char *env[] = {"SENDSHIM_TRACE=1", "SENDSHIM_FAULTS=send:delay=1ns:when=1", NULL};
    struct run_result r;
    run_ok(&r, argv, env, 1);
    cr_expect(r.exited && r.status == 0, "%s", r.err);
    /* Every image (a new instance of the library) read the same environment. */
    cr_expect_eq(count_lines(r.out, ": send 7 received 7"), CHAIN_LINKS + 1, "%s", r.out);
    cr_expect_eq(count_lines(r.err, "]: fault rule 1 "), CHAIN_LINKS + 1, "%s", r.err);
    cr_expect_eq(count_lines(r.err, "]: trace: send("), CHAIN_LINKS + 1, "%s", r.err);
    run_free(&r);
}

/* Through a shell (not ours) that execs the next link. */
Test(reliability, exec_through_a_shell_keeps_the_configuration)
{
    const char *argv_sh[] = {target_path("stress_fork"), "exec-sh", "2", NULL};
    const char *env[] = {"SENDSHIM_FAULTS=send:delay=1ns:when=1", NULL};
    struct run_result r;
    run_ok(&r, argv_sh, env, 1);
    cr_expect(r.exited && r.status == 0, "%s", r.err);
    cr_expect_eq(count_lines(r.err, "]: fault rule 1 "), 3, "%s", r.err);
    run_free(&r);
}

Test(reliability, vfork_and_posix_spawn_children_work)
{
    static const char *const modes[] = {"vfork", "spawn"};
    for (int i = 0; i < 2; i++) {
        const char *argv[] = {target_path("stress_fork"), modes[i], NULL};
        const char *env[] = {"SENDSHIM_TRACE=1", "SENDSHIM_FAULTS=send:delay=1ns:when=1", NULL};
        struct run_result r;
        char want[64];
        run_ok(&r, argv, env, 1);
        cr_expect(r.exited && r.status == 0, "%s: %s", modes[i], r.err);
        snprintf(want, sizeof want, "%s child exited 0\n", modes[i]);
        cr_expect(strstr(r.out, want), "%s", r.out);
        cr_expect(strstr(r.out, "chain 0: send 7 received 7 'chain 0'"), "%s", r.out);
        /* The child is a new image: its own constructor, its own rule counter. */
        cr_expect_eq(count_lines(r.err, "]: fault rule 1 "), 1, "%s: %s", modes[i], r.err);
        run_free(&r);
    }
}

/* --- large transfers through real programs ------------------------------------------------------------ */

static void receiver_start(struct tcp_sink *rx)
{
    char path[4096];
    temp_name(path, "rx");
    cr_assert_eq(tcp_sink_start(rx, path), 0);
}

/* MIB MiB of xorshift bytes: no short count can land on a repeat. */
static void make_file(char *path, long mib)
{
    temp_name(path, "tx");
    cr_assert_eq(write_pattern_file(path, (size_t)mib << 20), 0);
}

static char *sha256_of(const char *path)
{
    char *hash = sha256_file(path);
    cr_assert(hash, "no sha256 of %s", path);
    return hash;
}

/* python3's sendall(): loops over short counts, retries EINTR (PEP 475), and
 * with a timeout set waits for writability and retries EAGAIN. */
static const char py_sendall[] = "import socket, sys\n"
                                 "data = open(sys.argv[1], 'rb').read()\n"
                                 "s = socket.create_connection(('127.0.0.1', int(sys.argv[2])))\n"
                                 "if sys.argv[3] == 'timeout':\n"
                                 "    s.settimeout(60)\n"
                                 "s.sendall(data)\n"
                                 "print('sent', len(data))\n"
                                 "s.close()\n";

struct transfer {
    const char *program; /* "python3" or "socat" */
    const char *mode;    /* python3: "blocking" or "timeout" */
    const char *kind;    /* what is injected, for the messages */
    const char *rules;
    int min_faults; /* at least this many fault lines */
};

/* Each fault kind alone (plus short= where the kind needs many calls to
 * show: a blocking send of the whole rest would otherwise end the transfer
 * in one call, so a delay comes with a cut too), then everything together. socat sleeps a second after each
 * EINTR or EAGAIN, so it gets only a few of those. */
static const struct transfer transfers[] = {
    {"python3", "blocking", "short", "send:short=65536", 100},
    {"python3", "blocking", "EINTR", "send:error=EINTR:p=0.3;send:short=262144", 10},
    {"python3", "blocking", "delay", "send:delay=1ms..3ms:short=262144:when=1..+2;send:short=262144", 50},
    {"python3", "timeout", "EAGAIN", "send:error=EAGAIN:p=0.3;send:short=262144", 10},
    {"python3", "timeout", "all",
     "send:error=EINTR:p=0.1;send:error=EAGAIN:p=0.1;send:delay=100us:short=7%:p=0.2;send:short=7%", 50},
    {"socat", NULL, "short", "write:short=30%:p=0.5", 100},
    {"socat", NULL, "EINTR", "write:error=EINTR:when=100..200+100;write:short=50%:p=0.2", 2},
    {"socat", NULL, "delay", "write:delay=50us..200us:p=0.2", 50},
    {"socat", NULL, "EAGAIN", "write:error=EAGAIN:when=300;write:short=1000:p=0.3", 1},
};

Test(reliability, large_transfers_through_real_programs_are_byte_identical, .timeout = 900)
{
    long mib = env_long("SENDSHIM_RELIABILITY_MIB", TRANSFER_MIB);
    int have_py = have_program("python3"), have_socat = have_program("socat");
    if (!have_py && !have_socat)
        cr_skip_test("neither python3 nor socat is installed");
    char file[64];
    make_file(file, mib);
    char *want = sha256_of(file);
    for (size_t i = 0; i < sizeof transfers / sizeof transfers[0]; i++) {
        const struct transfer *t = &transfers[i];
        int py = !strcmp(t->program, "python3");
        if ((py && !have_py) || (!py && !have_socat))
            continue;
        struct tcp_sink rx;
        receiver_start(&rx);
        char port[16], var[512], src[128], dst[64];
        snprintf(port, sizeof port, "%d", rx.port);
        snprintf(var, sizeof var, "SENDSHIM_FAULTS=%s", t->rules);
        snprintf(src, sizeof src, "OPEN:%s", file);
        snprintf(dst, sizeof dst, "TCP:127.0.0.1:%d", rx.port);
        const char *py_argv[] = {"python3", "-c", py_sendall, file, port, t->mode, NULL};
        const char *socat_argv[] = {"socat", "-u", src, dst, NULL};
        const char *env[] = {var, "SENDSHIM_SEED=2024", NULL};
        struct run_result r;
        run_ok(&r, py ? py_argv : socat_argv, env, 1);
        tcp_sink_finish(&rx);
        int faults = count_lines(r.err, "]: fault rule ");
        cr_expect(r.exited && r.status == 0, "%s under %s: status %d\n%.2000s", t->program, t->kind, r.status,
                  r.err);
        cr_expect_geq(faults, t->min_faults, "%s under %s: only %d faults", t->program, t->kind, faults);
        char *got = sha256_of(rx.path);
        cr_expect_str_eq(got, want, "%s under %s (%s): %ld MiB differ", t->program, t->kind, t->rules, mib);
        cr_log_info("%s %s: %ld MiB identical, %d faults survived", t->program, t->kind, mib, faults);
        free(got);
        unlink(rx.path);
        run_free(&r);
    }
    free(want);
    unlink(file);
}

/* --- valgrind ---------------------------------------------------------------------------------------- */

/* memcheck over sendprog with trace, stats, faults (every action), BSD flag
 * translation, NOSIGPIPE, and over cmsgprog's normalization cases. */
Test(reliability, valgrind_memcheck_reports_no_error, .timeout = 300)
{
    if (!have_program("valgrind"))
        cr_skip_test("valgrind is not installed");
    static const char *const vg[] = {"valgrind",
                                     "--quiet",
                                     "--error-exitcode=99",
                                     "--leak-check=full",
                                     "--errors-for-leak-kinds=definite",
                                     "--trace-children=yes"};
    const char *sendprog_ops[] = {"sendto:hello",
                                  "send:abc:0x20000",
                                  "sendmsg:a,b,c",
                                  "sendmmsg:x,yy,zzz",
                                  "write:w",
                                  "writev:p,q",
                                  "big:100000",
                                  "recv",
                                  "fork",
                                  "send:child",
                                  NULL};
    const char *env[] = {"SENDSHIM_TRACE=1",
                         "SENDSHIM_STATS=1",
                         "SENDSHIM_FLAGS=freebsd",
                         "SENDSHIM_NOSIGPIPE=1",
                         "SENDSHIM_SEED=3",
                         "SENDSHIM_FAULTS=sendto:error=EAGAIN:when=1;send:short=40%:when=2;"
                         "sendmmsg:batch=2;sendmsg:delay=1ms..2ms;write:error=EINTR;writev:delay=10us:p=0.5",
                         NULL};
    static const char *const kinds[] = {"tcp", "udp", "unix-dgram"};
    for (size_t k = 0; k < 3; k++) {
        const char *argv[32];
        size_t n = 0;
        for (size_t i = 0; i < sizeof vg / sizeof vg[0]; i++)
            argv[n++] = vg[i];
        argv[n++] = target_path("sendprog");
        argv[n++] = kinds[k];
        for (size_t i = 0; sendprog_ops[i]; i++)
            argv[n++] = sendprog_ops[i];
        argv[n] = NULL;
        struct run_result r;
        run_ok(&r, argv, env, 1);
        cr_expect(r.exited && r.status == 0, "memcheck on sendprog %s: status %d\n%.4000s", kinds[k],
                  r.status, r.err);
        cr_expect_gt(count_lines(r.err, "]: trace: "), 5, "%.2000s", r.err);
        run_free(&r);
    }
    static const char *const cases[] = {
        "bsd-rights-16",  "bsd-creds", "bsd-srcaddr", "upper-iovlen",   "empty-iov",       "misaligned",
        "trailing-zeros", "overrun",   "fds-254",     "iov-1100-dgram", "mmsg-bad-second", "mmsg-bsd-second"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[] = {"valgrind",
                              "--quiet",
                              "--error-exitcode=99",
                              "--leak-check=full",
                              "--errors-for-leak-kinds=definite",
                              target_path("cmsgprog"),
                              cases[i],
                              NULL};
        const char *cenv[] = {"SENDSHIM_TRACE=1", "SENDSHIM_FLAGS=freebsd", NULL};
        struct run_result r;
        run_ok(&r, argv, cenv, 1);
        cr_expect(r.exited && r.status != 99, "memcheck on cmsgprog %s:\n%.4000s", cases[i], r.err);
        cr_expect(!strstr(r.err, "== Invalid") && !strstr(r.err, "uninitialised"), "cmsgprog %s:\n%.4000s",
                  cases[i], r.err);
        run_free(&r);
    }
}
