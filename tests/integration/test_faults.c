/* test_faults.c - fault injection on real sockets (issue 5): each action as
 * the kernel would have done it, conditions, reproducibility, statistics,
 * runtime control with sendshim_set_faults(), and real programs (python3,
 * socat) that must survive the faults they are written to survive. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
/* The generator itself, to compute exactly which datagrams a seed drops. */
#include "prng.c"

#define T              20           /* seconds a spawned program may take */
#define LOSS_N         2000         /* datagrams in the loss test */
#define LOSS_SEED      4242         /* its seed */
#define P_QUARTER      (1ull << 62) /* p=0.25 as the parser stores it */
#define TRANSFER_BYTES (4u << 20)   /* the multi-megabyte file */

static void run_ok(struct run_result *r, const char *const argv[], const char *const env[], int preload)
{
    cr_assert_eq(run(r, argv, env, preload, NULL, T), 0, "could not run %s", argv[0]);
    cr_assert(!r->timed_out, "%s timed out", argv[0]);
}

/* Run a target under the library with SENDSHIM_FAULTS=rules (and more env). */
static void run_faults(struct run_result *r, const char *rules, const char *const argv[], const char *extra)
{
    char var[512];
    snprintf(var, sizeof var, "SENDSHIM_FAULTS=%s", rules);
    const char *env[] = {var, extra, NULL};
    run_ok(r, argv, env, 1);
}

/* The stderr lines that are fault lines, with "sendshim[PID]: " removed. */
static char *fault_lines(const char *err)
{
    char *out = calloc(1, strlen(err) + 1);
    for (const char *p = err; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        const char *body = strstr(p, "]: ");
        if (body && body < p + n && !strncmp(body + 3, "fault rule ", 11))
            strncat(out, body + 3, n - (size_t)(body + 3 - p));
        p += n;
    }
    return out;
}

/* --- error= ------------------------------------------------------------------ */

Test(faults, error_on_the_third_call_only)
{
    const char *argv[] = {
        target_path("sendprog"), "udp", "sendto:hello world!", "sendto:hello world!", "sendto:hello world!",
        "sendto:hello world!",   NULL};
    struct run_result r;
    run_faults(&r, "send:delay=1ns:fd=999;sendto:error=EAGAIN:when=3", argv, NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "sendto 12\nsendto 12\nsendto -1 EAGAIN\nsendto 12\n");
    char *lines = fault_lines(r.err);
    /* The line of SPEC 9, word for word (the descriptor number aside). */
    cr_expect_eq(count_lines(lines, "fault rule"), 1, "%s", r.err);
    cr_expect(!strncmp(lines, "fault rule 2 (sendto:error=EAGAIN:when=3): sendto(fd=", 53), "%s", lines);
    cr_expect(strstr(lines, ", 12 bytes) -> -1 EAGAIN\n"), "%s", lines);
    free(lines);
    run_free(&r);
}

Test(faults, errno_is_the_injected_one_and_nothing_is_sent)
{
    const char *argv[] = {target_path("sendprog"), "tcp", "send:abc", "send:def", "recv", NULL};
    struct run_result r;
    run_faults(&r, "send:error=ENOBUFS:when=1", argv, NULL);
    cr_expect_str_eq(r.out, "send -1 ENOBUFS\nsend 3\nrecv 3 def\n", "%s", r.err);
    run_free(&r);
}

Test(faults, write_rules_match_sockets_only)
{
    const char *sock[] = {target_path("sendprog"), "unix-stream", "write:abc", "writev:a,b", NULL};
    const char *pipe_[] = {
        target_path("sendprog"), "unix-stream", "fd:pipe", "write:abc", "writev:a,b", NULL};
    struct run_result r;
    run_faults(&r, "write,writev:error=EAGAIN", sock, NULL);
    cr_expect_str_eq(r.out, "write -1 EAGAIN\nwritev -1 EAGAIN\n", "%s", r.err);
    run_free(&r);
    run_faults(&r, "write,writev:error=EAGAIN", pipe_, NULL);
    cr_expect_str_eq(r.out, "write 3\nwritev 2\n", "%s", r.err);
    cr_expect_eq(count_lines(r.err, "fault rule"), 0, "%s", r.err);
    run_free(&r);
}

/* SPEC 4: a call that succeeds leaves errno as the program had it, and one
 * that fails sets it, whatever the fault stage did on the way: a rule drawn
 * that does not fire, one that fires and forwards (delay=, short=), one
 * that fails the call; with and without SENDSHIM_STATS (sendprog sets errno
 * to 4242 before each call and says "errno-changed" when a success moved
 * it). */
Test(faults, errno_is_the_programs_on_success_and_the_calls_on_failure)
{
    static const struct {
        const char *rules, *want;
    } cases[] = {
        {"*:p=0.000001:error=ENOBUFS",
         "send 3\nsendto 3\nsendmsg 3\nsendmmsg 2\nmsg_len[0] 2\nmsg_len[1] 1\n"},
        {"*:delay=1us", "send 3\nsendto 3\nsendmsg 3\nsendmmsg 2\nmsg_len[0] 2\nmsg_len[1] 1\n"},
        {"*:short=1", "send 1\nsendto 1\nsendmsg 1\nsendmmsg 1\nmsg_len[0] 1\nmsg_len[1] 57005\n"},
        {"*:error=ENOBUFS", "send -1 ENOBUFS\nsendto -1 ENOBUFS\nsendmsg -1 ENOBUFS\nsendmmsg -1 ENOBUFS\n"
                            "msg_len[0] 57005\nmsg_len[1] 57005\n"},
    };
    const char *argv[] = {target_path("sendprog"), "tcp",           "send:abc", "sendto:abc",
                          "sendmsg:a,bc",          "sendmmsg:ab,c", NULL};
    const char *extras[] = {"SENDSHIM_LOG=none", "SENDSHIM_STATS=1"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t k = 0; k < sizeof extras / sizeof extras[0]; k++) {
            struct run_result r;
            run_faults(&r, cases[i].rules, argv, extras[k]);
            cr_expect_str_eq(r.out, cases[i].want, "%s with %s: %s", cases[i].rules, extras[k], r.err);
            run_free(&r);
        }
    }
}

/* --- EPIPE and SIGPIPE ---------------------------------------------------------- */

Test(faults, epipe_on_a_stream_raises_sigpipe)
{
    const char *argv[] = {target_path("sendprog"), "tcp", "send:abc", NULL};
    struct run_result r;
    run_faults(&r, "send:error=EPIPE", argv, NULL);
    cr_expect(r.signaled && r.sig == SIGPIPE, "exited %d signaled %d sig %d", r.status, r.signaled, r.sig);
    /* The fault is logged before the signal ends the process. */
    cr_expect(strstr(r.err, "send(fd=4, 3 bytes) -> -1 EPIPE (SIGPIPE)\n"), "%s", r.err);
    run_free(&r);
}

Test(faults, epipe_without_sigpipe_where_the_kernel_sends_none)
{
    struct run_result r;
    const char *nosignal[] = {target_path("sendprog"), "tcp", "send:abc:0x4000", NULL};
    run_faults(&r, "send:error=EPIPE", nosignal, NULL);
    cr_expect(r.exited && r.status == 0, "MSG_NOSIGNAL: signaled %d", r.signaled);
    cr_expect_str_eq(r.out, "send -1 EPIPE\n");
    run_free(&r);

    const char *plain[] = {target_path("sendprog"), "tcp", "send:abc", NULL};
    run_faults(&r, "send:error=EPIPE", plain, "SENDSHIM_NOSIGPIPE=1");
    cr_expect(r.exited && r.status == 0, "SENDSHIM_NOSIGPIPE: signaled %d", r.signaled);
    cr_expect_str_eq(r.out, "send -1 EPIPE\n");
    run_free(&r);

    const char *seqpacket[] = {target_path("sendprog"), "unix-seqpacket", "send:abc", NULL};
    run_faults(&r, "send:error=EPIPE", seqpacket, NULL);
    cr_expect(r.exited && r.status == 0, "seqpacket: signaled %d", r.signaled);
    cr_expect_str_eq(r.out, "send -1 EPIPE\n");
    run_free(&r);

    const char *udp[] = {target_path("sendprog"), "udp", "send:abc", NULL};
    run_faults(&r, "send:error=EPIPE", udp, NULL);
    cr_expect(r.exited && r.status == 0, "udp: signaled %d", r.signaled);
    run_free(&r);
}

Test(faults, epipe_sigpipe_ignored_handled_and_thread_directed)
{
    struct run_result r;
    const char *ignore[] = {target_path("fault_sigpipe"), "ignore", NULL};
    run_faults(&r, "send:error=EPIPE", ignore, NULL);
    cr_expect(r.exited && r.status == 0);
    cr_expect_str_eq(r.out, "send -1 EPIPE\n", "%s", r.err);
    run_free(&r);

    const char *handler[] = {target_path("fault_sigpipe"), "handler", NULL};
    run_faults(&r, "send:error=EPIPE", handler, NULL);
    cr_expect_str_eq(r.out, "send -1 EPIPE\ncaught 1\n", "%s", r.err);
    run_free(&r);

    const char *thread[] = {target_path("fault_sigpipe"), "thread", NULL};
    run_faults(&r, "send:error=EPIPE", thread, NULL);
    cr_expect(r.exited && r.status == 0, "signaled %d sig %d: not directed at the sending thread", r.signaled,
              r.sig);
    cr_expect_str_eq(r.out, "send -1 EPIPE\npending-in-thread 1\nconsumed 1\nmain alive\n", "%s", r.err);
    run_free(&r);
}

/* --- short= ------------------------------------------------------------------------ */

Test(faults, short_really_sends_the_shortened_bytes)
{
    struct run_result r;
    const char *send_[] = {target_path("sendprog"), "tcp", "send:abcdefgh", "recv", NULL};
    run_faults(&r, "send:short=3", send_, NULL);
    cr_expect_str_eq(r.out, "send 3\nrecv 3 abc\n", "%s", r.err);
    cr_expect(strstr(r.err, "send(fd=4, 8 bytes) -> 3 of 8 bytes\n"), "%s", r.err);
    run_free(&r);

    const char *vec[] = {target_path("sendprog"),
                         "unix-stream",
                         "sendmsg:ab,cd,ef",
                         "writev:gh,ij,kl",
                         "write:mnopqr",
                         "recv",
                         NULL};
    run_faults(&r, "sendmsg,writev,write:short=50%", vec, NULL);
    cr_expect_str_eq(r.out, "sendmsg 3\nwritev 3\nwrite 3\nrecv 9 abcghimno\n", "%s", r.err);
    run_free(&r);

    /* A datagram is atomic: short= leaves it alone. */
    const char *udp[] = {target_path("sendprog"), "udp", "send:abcdefgh", "recv", NULL};
    run_faults(&r, "send:short=3", udp, NULL);
    cr_expect_str_eq(r.out, "send 8\nrecv 8 abcdefgh\n", "%s", r.err);
    run_free(&r);
}

Test(faults, short_on_sendmmsg_over_a_stream)
{
    struct run_result r;
    const char *argv[] = {target_path("sendprog"), "unix-stream", "sendmmsg:ab,cd,ef",
                          "sendmmsg:abcdef,g",     "recv",        NULL};
    run_faults(&r, "sendmmsg:short=5", argv, NULL);
    /* Whole messages while they fit; else the first one cut. */
    cr_expect(!strncmp(r.out, "sendmmsg 2\nmsg_len[0] 2\nmsg_len[1] 2\n", 36), "%s", r.out);
    cr_expect(strstr(r.out, "sendmmsg 1\nmsg_len[0] 5\n"), "%s", r.out);
    cr_expect(strstr(r.out, "recv 9 abcdabcde\n"), "%s\n%s", r.out, r.err);
    run_free(&r);
}

/* --- batch= -------------------------------------------------------------------------- */

Test(faults, batch_is_one_sendmmsg_of_k_messages_under_strace)
{
    if (!have_program("strace"))
        cr_skip_test("strace is not installed");
    const char *argv[] = {target_path("sendprog"), "udp", "sendmmsg:a,b,c,d,e", NULL};
    const char *env[] = {"SENDSHIM_FAULTS=sendmmsg:batch=2", NULL};
    struct run_result r;
    char *text;
    cr_assert_eq(run_strace(&r, "sendmmsg", argv, env, 1, T, &text), 0, "could not run %s under strace",
                 argv[0]);
    cr_assert(!r.timed_out, "strace timed out");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(!strncmp(r.out, "sendmmsg 2\n", 11), "%s", r.out);
    run_free(&r);
    cr_expect_eq(count_lines(text, "sendmmsg("), 1, "%s", text);
    cr_expect(strstr(text, "], 2, 0) = 2\n"), "not one sendmmsg with vlen 2: %s", text);
    free(text);
}

Test(faults, a_sendmmsg_program_resends_the_rest)
{
    const char *argv[] = {target_path("fault_mmsg_resend"), "10", NULL};
    struct run_result r;
    run_faults(&r, "sendmmsg:batch=3", argv, NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "calls 4\nreceived 0 1 2 3 4 5 6 7 8 9\n", "%s", r.err);
    cr_expect_eq(count_lines(r.err, "-> 3 of "), 3, "%s", r.err);
    cr_expect(strstr(r.err, "sendmmsg(fd=4, 10 messages, 10 bytes) -> 3 of 10 messages\n"), "%s", r.err);
    run_free(&r);
}

/* --- drop ------------------------------------------------------------------------------ */

Test(faults, drop_reports_everything_sent_and_sends_nothing)
{
    const char *argv[] = {target_path("sendprog"), "udp", "send:abc", "sendmmsg:x,yy", "recv", NULL};
    struct run_result r;
    run_faults(&r, "send,sendmmsg:drop", argv, NULL);
    cr_expect_str_eq(r.out, "send 3\nsendmmsg 2\nmsg_len[0] 1\nmsg_len[1] 2\n", "%s", r.err);
    cr_expect(strstr(r.err, "send(fd=4, 3 bytes) -> 3 (dropped)\n"), "%s", r.err);
    run_free(&r);
    /* Never on a stream: it would be a silent hole in the byte stream. */
    const char *tcp[] = {target_path("sendprog"), "tcp", "send:abc", "recv", NULL};
    run_faults(&r, "send:drop", tcp, NULL);
    cr_expect_str_eq(r.out, "send 3\nrecv 3 abc\n", "%s", r.err);
    run_free(&r);
}

/* Issue 13: drop never hides an error the kernel would give for the same
 * call (a 70,000-byte UDP send used to return 70000; send(len = SIZE_MAX)
 * -1 with errno 0). The kernel alone is the oracle: each case runs without
 * the library and under `drop`, and the results must be the same, with
 * nothing received under `drop` (MSG_PROBE sends nothing). */
Test(faults, drop_gives_the_kernels_error_and_sends_nothing)
{
    static const struct {
        const char *name, *rules;
    } cases[] = {
        {"udp-ok", "*:drop"},
        {"udp6-ok", "*:drop"},
        {"unix-ok", "*:drop"},
        {"udp-70000", "*:drop"},
        {"udp-65508", "*:drop"},
        {"udp6-65528", "*:drop"},
        {"udp-sizemax", "*:drop"},
        {"udp-badbuf", "*:drop"},
        {"unix-badbuf", "*:drop"},
        {"udp-nodest", "*:drop"},
        {"udp-refused", "send:drop:when=2.."},
        {"udp-mmsg-big", "*:drop"},
        {"unix-big", "*:drop"},
        {"unix-unconnected", "*:drop"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[] = {target_path("fault_drop"), cases[i].name, NULL};
        struct run_result kernel, r;
        run_ok(&kernel, argv, NULL, 0);
        run_faults(&r, cases[i].rules, argv, NULL);
        /* The result lines (all but "received N") match the kernel's. */
        char *kr = strstr(kernel.out, "received"), *rr = strstr(r.out, "received");
        size_t kn = kr ? (size_t)(kr - kernel.out) : strlen(kernel.out);
        size_t rn = rr ? (size_t)(rr - r.out) : strlen(r.out);
        cr_expect(kn == rn && !strncmp(kernel.out, r.out, kn), "%s: kernel\n%s\ndrop\n%s", cases[i].name,
                  kernel.out, r.out);
        cr_expect_null(strstr(r.out, "errno 0"), "%s: %s", cases[i].name, r.out);
        if (rr)
            cr_expect_str_eq(rr, "received 0\n", "%s: %s", cases[i].name, r.out);
        cr_expect(strstr(r.err, "fault rule 1 ("), "%s: the drop fired: %s", cases[i].name, r.err);
        run_free(&kernel);
        run_free(&r);
    }
    /* The accepted sends really were accepted by the kernel alone. */
    const char *argv[] = {target_path("fault_drop"), "udp-ok", NULL};
    struct run_result kernel;
    run_ok(&kernel, argv, NULL, 0);
    cr_expect_str_eq(kernel.out, "udp-ok 10\nreceived 1\n");
    run_free(&kernel);
}

/* Which of the first n calls rule 1 (p=0.25, alone) drops under seed. */
static long expected_drops(uint64_t seed, long n)
{
    uint64_t base = ss_prng_base(seed, 1);
    long drops = 0;
    for (long k = 0; k < n; k++)
        drops += ss_prng_at(base, (uint64_t)k) < P_QUARTER;
    return drops;
}

Test(faults, udp_loss_is_the_expected_fraction_and_reproducible)
{
    char n[16], seed[64], other[64];
    snprintf(n, sizeof n, "%d", LOSS_N);
    snprintf(seed, sizeof seed, "SENDSHIM_SEED=%d", LOSS_SEED);
    snprintf(other, sizeof other, "SENDSHIM_SEED=%d", LOSS_SEED + 1);
    const char *argv[] = {target_path("fault_udp_loss"), n, NULL};
    struct run_result a, b, c;
    run_faults(&a, "send:drop:p=0.25", argv, seed);
    run_faults(&b, "send:drop:p=0.25", argv, seed);
    run_faults(&c, "send:drop:p=0.25", argv, other);

    /* The seed fixes the schedule: exactly these datagrams are lost. */
    long drops = expected_drops(LOSS_SEED, LOSS_N);
    char want[128];
    snprintf(want, sizeof want, "sent %d received %ld\nreported %d bytes\n", LOSS_N, LOSS_N - drops,
             LOSS_N * 8);
    cr_expect_str_eq(a.out, want, "%s", a.err);
    cr_expect_eq(count_lines(a.err, "(dropped)"), drops);
    /* And the fraction is what p says, within five standard deviations. */
    double sd = __builtin_sqrt(LOSS_N * 0.25 * 0.75);
    cr_expect(drops > LOSS_N / 4 - 5 * sd && drops < LOSS_N / 4 + 5 * sd, "%ld drops", drops);

    char *la = fault_lines(a.err), *lb = fault_lines(b.err), *lc = fault_lines(c.err);
    cr_expect_str_eq(la, lb, "same seed, different fault lines");
    cr_expect_str_neq(la, lc, "another seed, same fault lines");
    cr_expect(strstr(a.err, "seed 4242 (SENDSHIM_SEED)\n"), "the seed in force is logged");
    free(la);
    free(lb);
    free(lc);
    run_free(&a);
    run_free(&b);
    run_free(&c);
}

/* --- delay= ---------------------------------------------------------------------------- */

Test(faults, delay_sleeps_through_signals_then_sends)
{
    const char *argv[] = {target_path("fault_delay"), "150", NULL};
    struct run_result r;
    run_faults(&r, "send:delay=150ms", argv, NULL);
    cr_expect_str_eq(r.out, "send 1\nslept-enough 1\ninterrupted 1\n", "%s", r.err);
    cr_expect(strstr(r.err, "send(fd=3, 1 byte) delayed 150ms -> 1\n"), "%s", r.err);
    run_free(&r);
}

/* --- conditions ------------------------------------------------------------------------- */

Test(faults, peer_from_the_connected_socket_and_from_sendto)
{
    struct run_result r;
    const char *udp[] = {target_path("sendprog"), "udp", "send:a", "sendto:b", NULL};
    run_faults(&r, "send,sendto:error=ECONNREFUSED:peer=127.0.0.1", udp, NULL);
    cr_expect_str_eq(r.out, "send -1 ECONNREFUSED\nsendto -1 ECONNREFUSED\n", "%s", r.err);
    run_free(&r);
    run_faults(&r, "send,sendto:error=ECONNREFUSED:peer=127.0.0.2", udp, NULL);
    cr_expect_str_eq(r.out, "send 1\nsendto 1\n", "%s", r.err);
    run_free(&r);
    const char *udp6[] = {target_path("sendprog"), "udp6", "send:a", NULL};
    run_faults(&r, "send:error=ETIMEDOUT:peer=[::1]", udp6, NULL);
    cr_expect_str_eq(r.out, "send -1 ETIMEDOUT\n", "%s", r.err);
    run_free(&r);
}

Test(faults, type_family_fd_and_after_bytes)
{
    struct run_result r;
    const char *argv[] = {
        target_path("sendprog"), "unix-stream", "send:aaaaaaaa", "send:bbbbbbbb", "send:c", "send:d", NULL};
    run_faults(&r, "send:error=ECONNRESET:after=10", argv, NULL);
    cr_expect_str_eq(r.out, "send 8\nsend 8\nsend -1 ECONNRESET\nsend -1 ECONNRESET\n", "%s", r.err);
    run_free(&r);
    run_faults(&r, "send:error=EAGAIN:type=dgram;send:error=EINTR:family=inet", argv, NULL);
    cr_expect_str_eq(r.out, "send 8\nsend 8\nsend 1\nsend 1\n", "%s", r.err);
    run_free(&r);
    run_faults(&r, "send:error=EINTR:fd=3:family=unix:type=stream", argv, NULL);
    cr_expect_str_eq(r.out, "send -1 EINTR\nsend -1 EINTR\nsend -1 EINTR\nsend -1 EINTR\n", "%s", r.err);
    run_free(&r);
}

/* --- the descriptor step and the stages ---------------------------------------------------- */

/* A configured call that no stage rewrites leaves at the descriptor step
 * (shim/core/path.h), unless SENDSHIM_TRACE is on, which sends every call
 * through the stages. Both are one path, so they must decide alike: counts
 * (when=), the bytes a descriptor sent (after=), fd=, socket conditions, and
 * p= draws from one seed. out[0] is the step's run, out[1] the stages'. */
static void run_both_ways(const char *rules, const char *const argv[], char *out[2])
{
    char var[512];
    snprintf(var, sizeof var, "SENDSHIM_FAULTS=%s", rules);
    for (int way = 0; way < 2; way++) {
        const char *env[] = {var,
                             "SENDSHIM_NOSIGPIPE=1",
                             "SENDSHIM_FLAGS=freebsd",
                             "SENDSHIM_SEED=7",
                             way ? "SENDSHIM_TRACE=1" : NULL,
                             NULL};
        struct run_result r;
        run_ok(&r, argv, env, 1);
        cr_expect_eq(r.status, 0, "%s", r.err);
        out[way] = strdup(r.out);
        run_free(&r);
    }
    cr_expect_str_eq(out[0], out[1], "the descriptor step and the stages decided differently");
}

Test(faults, the_descriptor_step_decides_as_the_stages)
{
    const char *argv[] = {target_path("sendprog"), "udp",        "send:aaaa", "send:bbbb",      "send:cccc",
                          "sendmsg:dd,ee",         "sendmsg:ff", "sendto:gg", "sendmmsg:h,i,j", NULL};
    char *out[2];
    /* The sender is descriptor 4 (target.h makes the receiver first). */
    run_both_ways("send:error=EAGAIN:when=2;sendmsg:error=EINTR:after=8;sendmmsg:batch=1:fd=4;"
                  "sendto:error=ENOBUFS:family=inet",
                  argv, out);
    cr_expect_str_eq(out[0], "send 4\nsend -1 EAGAIN\nsend 4\n" /* the 2nd send */
                             "sendmsg 4\nsendmsg -1 EINTR\n"    /* past 8 bytes: 4 + 4, then 12 */
                             "sendto -1 ENOBUFS\n"              /* inet */
                             "sendmmsg 1\nmsg_len[0] 1\nmsg_len[1] 57005\nmsg_len[2] 57005\n");
    free(out[0]);
    free(out[1]);

    /* p=0.5 over 39 calls: the same draws both ways. */
    const char *many[42] = {target_path("sendprog"), "udp"};
    for (int i = 2; i < 41; i++)
        many[i] = i % 2 ? "send:x" : "sendto:y";
    many[41] = NULL;
    run_both_ways("*:error=ENOBUFS:p=0.5:type=dgram", many, out);
    int failed = count_lines(out[0], "ENOBUFS");
    cr_expect(failed > 5 && failed < 35, "%d of 39 failed:\n%s", failed, out[0]);
    free(out[0]);
    free(out[1]);
}

/* --- statistics -------------------------------------------------------------------------- */

Test(faults, stats_report_matched_and_fired_per_rule)
{
    const char *argv[] = {target_path("sendprog"), "tcp", "send:a", "send:b", "send:c", "send:d", NULL};
    struct run_result r;
    run_faults(&r, "send:error=EAGAIN:when=2;send:error=EINTR;sendto:error=EPIPE", argv, "SENDSHIM_STATS=1");
    cr_expect_str_eq(r.out, "send -1 EINTR\nsend -1 EAGAIN\nsend -1 EINTR\nsend -1 EINTR\n", "%s", r.err);
    cr_expect(strstr(r.err, "stats: rule 1 (send:error=EAGAIN:when=2) matched=4 fired=1\n"), "%s", r.err);
    cr_expect(strstr(r.err, "stats: rule 2 (send:error=EINTR) matched=4 fired=3\n"), "%s", r.err);
    cr_expect(strstr(r.err, "stats: rule 3 (sendto:error=EPIPE) matched=0 fired=0\n"), "%s", r.err);
    cr_expect(strstr(r.err, " faults=4\n"), "%s", r.err);
    run_free(&r);
}

/* --- sendshim_set_faults ------------------------------------------------------------------ */

static const char phases_out[] = "active 1\n"
                                 "send 4\n"
                                 "set 0\n"
                                 "send -1 EAGAIN\n"
                                 "set -1 EINVAL\n"
                                 "send -1 EAGAIN\n"
                                 "set 0\n"
                                 "send 4\n"
                                 "set 0\n"
                                 "send 4\n"
                                 "send -1 EINTR\n"
                                 "send 4\n"
                                 "set 0\n"
                                 "send 4\n";

Test(faults, set_faults_switches_phases)
{
    const char *argv[] = {target_path("fault_phases"), NULL};
    struct run_result r;
    /* Nothing configured at start: set_faults alone must bring the pipeline in. */
    run_ok(&r, argv, NULL, 1);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, phases_out, "%s", r.err);
    cr_expect(strstr(r.err, "]: sendshim_set_faults rule 1: 'EBOGUS' is not an error send can return ("),
              "%s", r.err);
    cr_expect_eq(count_lines(r.err, "fault rule"), 3, "%s", r.err);
    run_free(&r);
}

Test(faults, set_faults_without_the_library_links_runs_and_reports_inactive)
{
    const char *argv[] = {target_path("fault_phases"), NULL};
    struct run_result r;
    run_ok(&r, argv, NULL, 0);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(!strncmp(r.out, "active 0\nsend 4\nset -1 ENOSYS\nsend 4\n", 36), "%s", r.out);
    cr_expect_eq(count_lines(r.out, "send -1"), 0, "%s", r.out);
    run_free(&r);
}

Test(faults, set_faults_while_threads_send)
{
    const char *argv[] = {target_path("fault_phases"), "20000", NULL};
    const char *env[] = {"SENDSHIM_LOG=none", NULL};
    struct run_result r;
    run_ok(&r, argv, env, 1);
    cr_expect(r.exited && r.status == 0, "status %d signaled %d sig %d", r.status, r.signaled, r.sig);
    cr_expect(strstr(r.out, "stress flips 20000 failed 0 sends>0 1\n"), "%s", r.out);
    run_free(&r);
}

/* --- streams: a fresh p= stream per rule set and per forked process -------------------------- */

#define PHASES       1000
#define PHASES_LOW   400 /* p=0.5 over 1000 draws: 500 +- 16 (sd); 400..600 is 6 sd */
#define PHASES_HIGH  600
#define FORK_SENDS   48
#define FORK_SEED    31337
#define P_HALF       (1ull << 63) /* p=0.5 as the parser stores it */
#define PATTERN_SIZE (FORK_SENDS + 1)

static void run_streams(struct run_result *r, const char *const argv[], const char *seed, const char *rules)
{
    char s[64], f[256];
    snprintf(s, sizeof s, "SENDSHIM_SEED=%s", seed);
    snprintf(f, sizeof f, "SENDSHIM_FAULTS=%s", rules ? rules : "");
    const char *env[] = {s, rules ? f : NULL, NULL};
    run_ok(r, argv, env, 1);
    cr_assert(r->exited && r->status == 0, "status %d\n%s%s", r->status, r->out, r->err);
}

/* One send after each of 1000 sendshim_set_faults("...p=0.5"): each set
 * draws from its own stream, so about half fail (before: the same first
 * draw every time, 0 or 1000); the same seed gives the same pattern. */
Test(faults, each_set_given_at_run_time_draws_a_fresh_stream)
{
    char n[16];
    snprintf(n, sizeof n, "%d", PHASES);
    const char *argv[] = {target_path("fault_streams"), "phases", n, NULL};
    struct run_result a, b, c;
    run_streams(&a, argv, "7", NULL);
    run_streams(&b, argv, "7", NULL);
    run_streams(&c, argv, "8", NULL);
    int failed = -1;
    cr_assert_eq(sscanf(a.out, "phases %d", &failed), 1, "%s", a.out);
    cr_expect(failed >= PHASES_LOW && failed <= PHASES_HIGH, "%d of %d phases failed", failed, PHASES);
    cr_expect_str_eq(a.out, b.out, "the same seed gave another pattern");
    cr_expect_str_neq(a.out, c.out, "another seed gave the same pattern");
    run_free(&a);
    run_free(&b);
    run_free(&c);
}

/* The pattern that stream id `proc` draws for "send:error=EAGAIN:p=0.5", set
 * 0 (the environment's), starting at draw `from` (shim/core/prng.h is the model). */
static void model_pattern(char *out, uint64_t seed, uint64_t proc, int from)
{
    uint64_t base = ss_prng_base(ss_prng_set_seed(seed, proc, 0), 1);
    for (int k = 0; k < FORK_SENDS; k++)
        out[k] = ss_prng_at(base, (uint64_t)(from + k)) < P_HALF ? '1' : '0';
    out[FORK_SENDS] = '\0';
}

static const char *pattern_of(const char *out, const char *who)
{
    static char line[PATTERN_SIZE];
    char key[32];
    snprintf(key, sizeof key, "\n%s ", who);
    char text[8192];
    snprintf(text, sizeof text, "\n%s", out);
    const char *p = strstr(text, key);
    if (!p || sscanf(p + strlen(key), "%48[01]", line) != 1)
        return "";
    return line;
}

/* A parent sends, forks 3 children one by one (child 0 forks a grandchild
 * first), and sends again: every process draws its own stream (before, the
 * children replayed the parent's draws in lockstep), the k-th child's stream
 * is the documented function of the parent's and k, and the same seed
 * reproduces every pattern. */
Test(faults, forked_children_draw_their_own_reproducible_streams)
{
    char m[16], seed[16];
    snprintf(m, sizeof m, "%d", FORK_SENDS);
    snprintf(seed, sizeof seed, "%d", FORK_SEED);
    const char *argv[] = {target_path("fault_streams"), "fork", "3", m, NULL};
    const char *rules = "send:error=EAGAIN:p=0.5";
    struct run_result a, b;
    run_streams(&a, argv, seed, rules);
    run_streams(&b, argv, seed, rules);
    cr_expect_str_eq(a.out, b.out, "the same seed gave other patterns");
    static const char *const who[] = {"parent", "child0", "grandchild", "child1", "child2", "parent-again"};
    char got[6][PATTERN_SIZE];
    for (int i = 0; i < 6; i++) {
        snprintf(got[i], sizeof got[i], "%s", pattern_of(a.out, who[i]));
        cr_expect_eq(strlen(got[i]), FORK_SENDS, "%s: no pattern in\n%s", who[i], a.out);
    }
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            cr_expect_str_neq(got[i], got[j], "%s and %s fail on the same sends", who[i], who[j]);
    /* The model: the parent is stream 0, its k-th child fork_stream(0, k),
     * child 0's first child fork_stream(that, 0). */
    char want[PATTERN_SIZE];
    uint64_t child0 = ss_prng_fork_stream(0, 0);
    model_pattern(want, FORK_SEED, 0, 0);
    cr_expect_str_eq(got[0], want, "parent");
    model_pattern(want, FORK_SEED, child0, 0);
    cr_expect_str_eq(got[1], want, "child 0");
    model_pattern(want, FORK_SEED, ss_prng_fork_stream(child0, 0), 0);
    cr_expect_str_eq(got[2], want, "grandchild");
    model_pattern(want, FORK_SEED, ss_prng_fork_stream(0, 1), 0);
    cr_expect_str_eq(got[3], want, "child 1");
    model_pattern(want, FORK_SEED, ss_prng_fork_stream(0, 2), 0);
    cr_expect_str_eq(got[4], want, "child 2");
    model_pattern(want, FORK_SEED, 0, FORK_SENDS);
    cr_expect_str_eq(got[5], want, "the parent goes on with its own stream");
    run_free(&a);
    run_free(&b);
}

/* when= counters are per process: a child starts counting at its own first
 * call (before, it carried the parent's count and never fired). */
Test(faults, forked_children_restart_the_when_counters)
{
    const char *argv[] = {target_path("fault_streams"), "fork", "2", "4", NULL};
    struct run_result r;
    run_streams(&r, argv, "1", "send:error=EAGAIN:when=2");
    cr_expect_str_eq(r.out,
                     "parent 0100\n"
                     "grandchild 0100\n"
                     "child0 0100\n"
                     "child1 0100\n"
                     "parent-again 0000\n",
                     "%s", r.err);
    run_free(&r);
}

/* sendshim_set_faults() from a SIGALRM handler while the main thread calls
 * it in a loop: the handler that interrupted the lock's holder fails with
 * EDEADLK instead of spinning forever (the timeout is the failure). */
Test(faults, set_faults_in_a_signal_handler_never_hangs)
{
    const char *argv[] = {target_path("fault_signal_set"), NULL};
    struct run_result r;
    run_ok(&r, argv, NULL, 1);
    cr_assert(r.exited && r.status == 0, "status %d\n%s%s", r.status, r.out, r.err);
    int calls = -1, ok = -1, deadlk = -1, other = -1;
    cr_assert_eq(sscanf(r.out, "handler %d ok %d edeadlk %d other %d", &calls, &ok, &deadlk, &other), 4, "%s",
                 r.out);
    cr_expect_eq(other, 0, "%s", r.out);
    cr_expect_eq(ok + deadlk, calls, "%s", r.out);
    /* The case that hung: the handler interrupted sendshim_set_faults. */
    cr_expect_gt(deadlk, 0, "%s", r.out);
    cr_expect_eq(count_lines(r.err, "sendshim_set_faults called from a signal handler that interrupted"),
                 deadlk, "%s", r.err);
    run_free(&r);
}

/* --- real programs survive the faults they are written for ----------------------------------- */

static void receiver_start(struct tcp_sink *rx)
{
    char path[] = "/tmp/sendshim-faults-rx-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(tcp_sink_start(rx, path), 0);
}

/* A file of pseudo-random bytes (so no short count can land on a repeat). */
static void make_file(char *path)
{
    strcpy(path, "/tmp/sendshim-faults-tx-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(write_pattern_file(path, TRANSFER_BYTES), 0);
}

static char *sha256_of(const char *path)
{
    char *hash = sha256_file(path);
    cr_assert(hash, "no sha256 of %s", path);
    return hash;
}

static void expect_same_file(const char *a, const char *b)
{
    char *ha = sha256_of(a), *hb = sha256_of(b);
    cr_expect_str_eq(ha, hb, "%s and %s differ", a, b);
    free(ha);
    free(hb);
}

/* python3's socket.sendall() loops over short sends, retries EINTR (PEP 475)
 * and, on a socket with a timeout, waits for writability and retries EAGAIN.
 * On a socket without a timeout, EAGAIN is an error it reports
 * (BlockingIOError): a blocking socket never returns EAGAIN without
 * SO_SNDTIMEO, so that is the right way to fail. */
static const char py_sendall[] = "import socket, sys\n"
                                 "data = open(sys.argv[1], 'rb').read()\n"
                                 "s = socket.create_connection(('127.0.0.1', int(sys.argv[2])))\n"
                                 "if sys.argv[3] == 'timeout':\n"
                                 "    s.settimeout(30)\n"
                                 "try:\n"
                                 "    s.sendall(data)\n"
                                 "    print('sent', len(data))\n"
                                 "except BlockingIOError:\n"
                                 "    print('BlockingIOError')\n"
                                 "s.close()\n";

static void python_transfer(const char *mode, const char *rules, struct run_result *r, struct tcp_sink *rx,
                            const char *file)
{
    char port[16], var[512];
    receiver_start(rx);
    snprintf(port, sizeof port, "%d", rx->port);
    snprintf(var, sizeof var, "SENDSHIM_FAULTS=%s", rules);
    const char *argv[] = {"python3", "-c", py_sendall, file, port, mode, NULL};
    const char *env[] = {var, "SENDSHIM_SEED=11", NULL};
    run_ok(r, argv, env, 1);
    tcp_sink_finish(rx);
}

Test(faults, python3_sendall_survives_short_eintr_and_eagain, .timeout = 60)
{
    if (!have_program("python3"))
        cr_skip_test("python3 is not installed");
    char file[64];
    make_file(file);
    struct tcp_sink rx;
    struct run_result r;
    /* Errors first: the first rule that fires wins, and short= fires on
     * every call (64 KiB at a time: many calls). */
    python_transfer("timeout", "send:error=EINTR:p=0.15;send:error=EAGAIN:p=0.15;send:short=65536", &r, &rx,
                    file);
    cr_expect_eq(r.status, 0, "%.2000s", r.err);
    cr_expect_str_eq(r.out, "sent 4194304\n", "%.2000s", r.err);
    cr_expect_gt(count_lines(r.err, "fault rule 1 "), 0, "no EINTR injected");
    cr_expect_gt(count_lines(r.err, "fault rule 2 "), 0, "no EAGAIN injected");
    cr_expect_gt(count_lines(r.err, "fault rule 3 "), 10, "short= did not cut");
    expect_same_file(file, rx.path);
    run_free(&r);
    unlink(rx.path);

    /* Without a timeout the socket is blocking: EAGAIN is reported, not retried. */
    python_transfer("blocking", "send:error=EAGAIN:when=3;send:short=65536", &r, &rx, file);
    cr_expect_str_eq(r.out, "BlockingIOError\n", "%.2000s", r.err);
    run_free(&r);
    unlink(rx.path);
    unlink(file);
}

/* socat writes with write(2), completes short writes, and retries EINTR and
 * EAGAIN - after sleeping one second each time (seen with strace), so only a
 * few of those are injected to keep the test fast. */
Test(faults, socat_survives_short_eintr_and_eagain, .timeout = 60)
{
    if (!have_program("socat"))
        cr_skip_test("socat is not installed");
    char file[64], src[128], dst[64], var[256];
    make_file(file);
    struct tcp_sink rx;
    receiver_start(&rx);
    snprintf(src, sizeof src, "OPEN:%s", file);
    snprintf(dst, sizeof dst, "TCP:127.0.0.1:%d", rx.port);
    snprintf(var, sizeof var, "SENDSHIM_FAULTS=%s",
             "write:error=EINTR:when=5;write:error=EAGAIN:when=12;write:short=30%:p=0.5");
    const char *argv[] = {"socat", "-u", src, dst, NULL};
    const char *env[] = {var, "SENDSHIM_SEED=5", NULL};
    struct run_result r;
    run_ok(&r, argv, env, 1);
    tcp_sink_finish(&rx);
    cr_expect_eq(r.status, 0, "%.2000s", r.err);
    cr_expect_eq(count_lines(r.err, "fault rule 1 "), 1, "%.2000s", r.err);
    cr_expect_eq(count_lines(r.err, "fault rule 2 "), 1, "%.2000s", r.err);
    cr_expect_gt(count_lines(r.err, "fault rule 3 "), 10, "short= did not cut");
    expect_same_file(file, rx.path);
    run_free(&r);
    unlink(rx.path);
    unlink(file);
}

/* after= counts a descriptor's bytes while a rule with after= is in force:
 * from the start for SENDSHIM_FAULTS (the 100 bytes sent first count, so
 * the first chunk is already past 50), from the moment a set is given at
 * run time (the chunks count from 0: the 7th is the first after 50). The
 * model is written out; the peer's byte count is the kernel's witness. */
Test(faults, after_counts_from_when_its_rule_set_is_in_force)
{
    const char *argv_env[] = {target_path("after_runtime"), "env", NULL};
    const char *env_env[] = {"SENDSHIM_FAULTS=send:after=50:error=ENOBUFS", "SENDSHIM_LOG=none", NULL};
    struct run_result r;
    run_ok(&r, argv_env, env_env, 1);
    cr_expect(strstr(r.out, "first OK\n"), "%s", r.out);
    for (int i = 1; i <= 10; i++) {
        char want[32];
        snprintf(want, sizeof want, "chunk %d ENOBUFS\n", i);
        cr_expect(strstr(r.out, want), "environment: %s expected:\n%s", want, r.out);
    }
    cr_expect(strstr(r.out, "peer got 100\n"), "%s", r.out);
    run_free(&r);

    /* SENDSHIM_NOSIGPIPE makes the library active before the set. */
    const char *argv_set[] = {target_path("after_runtime"), "set", NULL};
    const char *env_set[] = {"SENDSHIM_NOSIGPIPE=1", "SENDSHIM_LOG=none", NULL};
    run_ok(&r, argv_set, env_set, 1);
    cr_expect(strstr(r.out, "set 0\n"), "%s", r.out);
    for (int i = 1; i <= 10; i++) {
        char want[32];
        snprintf(want, sizeof want, "chunk %d %s\n", i, i <= 6 ? "ok" : "ENOBUFS");
        cr_expect(strstr(r.out, want), "run time: %s expected:\n%s", want, r.out);
    }
    cr_expect(strstr(r.out, "peer got 160\n"), "%s", r.out);
    run_free(&r);
}
