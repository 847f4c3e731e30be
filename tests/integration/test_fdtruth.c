/* test_fdtruth.c - SPEC 6, last point (issue 12, stale descriptor state): a
 * descriptor number closed or filled behind the library's back never makes
 * the library change a result. tests/targets/fdtruth closes a socket or pipe
 * the way the library may miss (close_range, closefrom, the raw close system
 * call, glibc's close inside fclose) and puts a file, a pipe or a socket
 * received in SCM_RIGHTS (by recvmsg, recvmmsg or the raw system call) at
 * its number. The kernel alone is the oracle: the same program run without
 * the library, or with a descriptor the library saw made. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define T                3 /* seconds a fdtruth run may take (scm-eof waits 2 s for nothing) */
#define EXIT_UNSUPPORTED 3 /* fdtruth: the C library lacks the closer */

/* The closers the library may miss; "close" is the one it sees. */
static const char *const unseen[] = {"close_range", "closefrom", "sys_close", "fclose"};
#define NUNSEEN (sizeof unseen / sizeof unseen[0])
/* recvmsg is seen; recvmmsg (not interposed: README) and the raw system
 * call bring a socket the library did not see made. */
static const char *const receivers[] = {"recvmsg", "recvmmsg", "sys_recvmsg"};
#define NRECV (sizeof receivers / sizeof receivers[0])

/* Run fdtruth with args, preloaded or not, with env. Returns 0, or -1 when
 * the closer is not in the C library (the musl build): skipped then, which
 * a glibc build never is (glibc_has_closers). */
static int fdtruth(struct run_result *r, const char *const args[], const char *const env[], int preload)
{
    const char *argv[8] = {target_path("fdtruth")};
    for (int i = 0; args[i]; i++)
        argv[i + 1] = args[i];
    cr_assert_eq(run(r, argv, env, preload, NULL, T + 5), 0, "could not run fdtruth");
    cr_assert(!r->timed_out, "fdtruth %s %s timed out", args[0], args[1]);
    if (r->exited && r->status == EXIT_UNSUPPORTED && strstr(r->out, "unsupported")) {
        run_free(r);
        return -1;
    }
    cr_assert(strstr(r->out, "number same\n"),
              "fdtruth %s %s: the new descriptor did not get the old number\n%s", args[0], args[1], r->out);
    return 0;
}

/* Whether the C library of the targets is glibc 2.34 or later: then
 * close_range and closefrom must be there. */
static int glibc_has_closers(void)
{
    struct run_result r;
    const char *argv[] = {target_path("fdtruth"), "libc", NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
    int major = 0, minor = 0;
    int glibc = sscanf(r.out, "glibc %d.%d", &major, &minor) == 2;
    run_free(&r);
    return glibc && (major > 2 || minor >= 34);
}

/* The run with the library and env gives what the run without it gives:
 * stdout and the way it ended. Returns 0, or -1 when unsupported. */
static int expect_as_without(const char *const args[], const char *const env[])
{
    struct run_result plain, with;
    if (fdtruth(&plain, args, NULL, 0))
        return -1;
    cr_assert_eq(fdtruth(&with, args, env, 1), 0);
    cr_expect_str_eq(with.out, plain.out, "fdtruth %s %s %s with %s:\n%s\nwithout the library:\n%s", args[0],
                     args[1], args[2] ? args[2] : "", env[0], with.out, plain.out);
    cr_expect_eq(with.status, plain.status, "fdtruth %s %s with %s: status %d, without the library %d\n%s",
                 args[0], args[1], env[0], with.status, plain.status, with.err);
    run_free(&plain);
    run_free(&with);
    return 0;
}

/* Every unseen closer ran unless the C library lacks it (not glibc 2.34+). */
static void expect_all_ran(int ran)
{
    cr_expect(ran == (int)NUNSEEN || (!glibc_has_closers() && ran >= 2), "only %d closers ran", ran);
}

/* --- a write rule and a file or pipe at an old socket's number ---------------- */

Test(fdtruth, file_at_a_closed_sockets_number_gets_every_byte)
{
    static const char *const envs[][2] = {{"SENDSHIM_FAULTS=write:drop", NULL},
                                          {"SENDSHIM_FAULTS=write:error=ECONNRESET", NULL},
                                          {"SENDSHIM_FAULTS=write:short=4", NULL}};
    int ran = 0;
    for (size_t c = 0; c < NUNSEEN; c++) {
        const char *args[] = {"file", unseen[c], NULL};
        for (size_t e = 0; e < sizeof envs / sizeof envs[0]; e++)
            if (expect_as_without(args, envs[e]) == 0 && e == 0)
                ran++;
        /* The oracle itself: the 12 bytes are in the file. */
        struct run_result r;
        if (fdtruth(&r, args, NULL, 0) == 0) {
            cr_expect(strstr(r.out, "write 12\nfile 12\n"), "%s", r.out);
            run_free(&r);
        }
    }
    expect_all_ran(ran);
}

Test(fdtruth, pipe_at_a_closed_sockets_number_is_a_pipe)
{
    /* No write rule acts on the pipe, and SIGPIPE stays (SENDSHIM_NOSIGPIPE
     * is for sockets). */
    static const char *const envs[][3] = {
        {"SENDSHIM_FAULTS=write:error=ECONNRESET", "SENDSHIM_NOSIGPIPE=1", NULL},
        {"SENDSHIM_FAULTS=write:drop", NULL, NULL},
        {"SENDSHIM_NOSIGPIPE=1", NULL, NULL},
    };
    int ran = 0;
    for (size_t c = 0; c < NUNSEEN; c++) {
        const char *args[] = {"pipe", unseen[c], NULL};
        for (size_t e = 0; e < sizeof envs / sizeof envs[0]; e++)
            if (expect_as_without(args, envs[e]) == 0 && e == 0)
                ran++;
        struct run_result r;
        if (fdtruth(&r, args, NULL, 0) == 0) {
            cr_expect(strstr(r.out, "write 12\nread 12\n") && r.signaled && r.sig == SIGPIPE, "%s", r.out);
            run_free(&r);
        }
    }
    expect_all_ran(ran);
}

/* --- a socket received where something else was ------------------------------ */

/* fdtruth CASE CLOSER RECV [CALL] with env: its stdout, status in *status.
 * Returns NULL when the closer is unsupported. */
static char *scm(const char *cas, const char *closer, const char *recv, const char *call,
                 const char *const env[], int preload, int *status)
{
    const char *args[] = {cas, closer, recv, call, NULL};
    struct run_result r;
    if (fdtruth(&r, args, env, preload))
        return NULL;
    *status = r.status;
    char *out = strdup(r.out);
    run_free(&r);
    return out;
}

Test(fdtruth, socket_received_where_a_pipe_was_gets_epipe_under_nosigpipe)
{
    const char *env[] = {"SENDSHIM_NOSIGPIPE=1", NULL};
    int status;
    /* The control: the library saw the pipe closed. */
    char *seen = scm("scm-pipe", "close", "recvmsg", NULL, env, 1, &status);
    cr_assert(seen && strstr(seen, "write -1 EPIPE\nalive\n") && status == 0, "control:\n%s", seen);
    int ran = 0;
    /* recvmsg is seen; a socket made unseen at the number of a pipe closed
     * unseen is the limit README states. */
    for (size_t c = 0; c < NUNSEEN; c++) {
        char *out = scm("scm-pipe", unseen[c], "recvmsg", NULL, env, 1, &status);
        if (!out)
            continue;
        ran++;
        cr_expect_str_eq(out, seen, "%s:\n%s", unseen[c], out);
        cr_expect_eq(status, 0, "%s: status %d", unseen[c], status);
        free(out);
    }
    expect_all_ran(ran);
    free(seen);
}

Test(fdtruth, received_socket_does_not_inherit_so_nosigpipe)
{
    static const char *const calls[] = {"write", "writev", "send", "sendfile", "splice"};
    int ran = 0;
    for (size_t c = 0; c < NUNSEEN; c++)
        for (size_t k = 0; k < NRECV; k++)
            for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
                int status, status_plain;
                char *out = scm("scm-nosigpipe", unseen[c], receivers[k], calls[i], NULL, 1, &status);
                if (!out)
                    continue;
                ran += k == 0 && i == 0;
                /* A socket that never had the option reads 0 ... */
                cr_expect(!strncmp(out, "number same\ngetsockopt 0\n", 25), "%s %s %s:\n%s", unseen[c],
                          receivers[k], calls[i], out);
                /* ... and dies of SIGPIPE, as it does without the library. */
                char *plain = scm("scm-nosigpipe", unseen[c], receivers[k], calls[i], NULL, 0, &status_plain);
                cr_expect_eq(status_plain, 128 + SIGPIPE);
                cr_expect_eq(status, status_plain, "%s %s %s: status %d, without the library %d\n%s",
                             unseen[c], receivers[k], calls[i], status, status_plain, out);
                free(out);
                free(plain);
            }
    expect_all_ran(ran);
}

Test(fdtruth, write_sendfile_splice_reidentify_on_epipe)
{
    /* Without reading the option back, the call alone finds out. The send
     * family on a socket the library did not see made is the limit README
     * states. */
    static const char *const calls[] = {"write", "writev", "sendfile", "splice", "send"};
    for (size_t k = 0; k < NRECV; k++)
        for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
            if (strcmp(receivers[k], "recvmsg") && !strcmp(calls[i], "send"))
                continue;
            int status;
            char *out = scm("scm-nosigpipe-call", "sys_close", receivers[k], calls[i], NULL, 1, &status);
            cr_assert(out);
            cr_expect_eq(status, 128 + SIGPIPE, "%s %s: status %d\n%s", receivers[k], calls[i], status, out);
            free(out);
        }
}

/* CASE under env: the same output with every unseen closer and receiver as
 * without the library. */
static void expect_received_as_without(const char *cas, const char *const env[])
{
    int ran = 0;
    for (size_t c = 0; c < NUNSEEN; c++)
        for (size_t k = 0; k < NRECV; k++) {
            const char *args[] = {cas, unseen[c], receivers[k], NULL};
            if (expect_as_without(args, env) == 0 && k == 0)
                ran++;
        }
    expect_all_ran(ran);
}

Test(fdtruth, received_socket_does_not_inherit_after_bytes)
{
    const char *env[] = {"SENDSHIM_FAULTS=send:after=10:error=ECONNRESET", NULL};
    expect_received_as_without("scm-after", env);
}

Test(fdtruth, received_udp_socket_is_not_cut_by_short)
{
    const char *env[] = {"SENDSHIM_FAULTS=send:short=4", NULL};
    expect_received_as_without("scm-short", env);
}

Test(fdtruth, received_tcp_socket_is_not_dropped_from)
{
    const char *env[] = {"SENDSHIM_FAULTS=send:drop", NULL};
    expect_received_as_without("scm-drop", env);
}

Test(fdtruth, received_udp_socket_is_dropped_from)
{
    /* The other way round: drop acts on the datagram socket recvmsg brought
     * where a TCP socket was. The oracle is the socket the library saw made
     * (the kernel alone would deliver the datagram, which drop is there to
     * prevent). A socket the library did not see made is re-identified only
     * once a rule fires: a rule its stale kind keeps from acting stays
     * silent (README Limits). */
    const char *env[] = {"SENDSHIM_FAULTS=send:drop", NULL};
    int status;
    char *seen = scm("scm-drop-udp", "close", "recvmsg", NULL, env, 1, &status);
    cr_assert(seen && strstr(seen, "send 12\npeer -1 EAGAIN\n"), "control:\n%s", seen);
    int ran = 0;
    for (size_t c = 0; c < NUNSEEN; c++) {
        char *out = scm("scm-drop-udp", unseen[c], "recvmsg", NULL, env, 1, &status);
        if (!out)
            continue;
        ran++;
        cr_expect_str_eq(out, seen, "%s:\n%s", unseen[c], out);
        free(out);
    }
    expect_all_ran(ran);
    free(seen);
}

Test(fdtruth, msg_eof_on_a_received_tcp_socket_sends_fin, .timeout = 120)
{
    /* Without the library the kernel ignores MSG_EOF's bit on TCP; the
     * oracle is the socket the library saw made: EOF at the peer. */
    const char *env[] = {"SENDSHIM_NOSIGPIPE=1", NULL};
    int status;
    char *seen = scm("scm-eof", "close", "recvmsg", NULL, env, 1, &status);
    cr_assert(seen && strstr(seen, "send 1\npeer 1 bytes EOF\n"), "control:\n%s", seen);
    int ran = 0;
    for (size_t c = 0; c < NUNSEEN; c++)
        for (size_t k = 0; k < NRECV; k++) {
            char *out = scm("scm-eof", unseen[c], receivers[k], NULL, env, 1, &status);
            if (!out)
                continue;
            ran += k == 0;
            cr_expect_str_eq(out, seen, "%s %s:\n%s", unseen[c], receivers[k], out);
            free(out);
        }
    expect_all_ran(ran);
    free(seen);
}

/* --- the plain path gains no system call ---------------------------------------- */

/* System calls named `name` in a trace (a line each: "name(3, ...) = 1"). */
static int calls_in(const char *trace, const char *name)
{
    char needle[64];
    snprintf(needle, sizeof needle, "%s(", name);
    return count_lines(trace, needle);
}

/* fdtruth plain N under strace with env: the getsockopt system calls, with
 * checks that every send and write was one sendto (write goes out as send
 * with MSG_NOSIGNAL) unless a rule failed it, and recvmsg one recvmsg. */
static int plain_getsockopts(const char *rounds, const char *const env[], int failed)
{
    const char *argv[] = {target_path("fdtruth"), "plain", rounds, NULL};
    struct run_result r;
    char *trace;
    cr_assert_eq(run_strace(&r, "getsockopt,sendto,recvmsg", argv, env, 1, 20, &trace), 0);
    cr_assert(r.exited && r.status == 0, "%s%s", r.out, r.err);
    int n = atoi(rounds);
    char want[64];
    snprintf(want, sizeof want, "plain %d failed %d\n", n, failed);
    cr_expect_str_eq(r.out, want);
    cr_expect_eq(calls_in(trace, "sendto"), 2 * n - failed, "%s", trace);
    cr_expect_eq(calls_in(trace, "recvmsg"), n, "%s", trace);
    int g = calls_in(trace, "getsockopt");
    free(trace);
    run_free(&r);
    return g;
}

Test(fdtruth, plain_calls_add_no_getsockopt)
{
    if (!have_program("strace"))
        cr_skip_test("strace is not installed");
    /* Rules that look at the descriptor's kind and bytes, counted on every
     * call, never firing; SIGPIPE policy on every write. */
    const char *env[] = {"SENDSHIM_NOSIGPIPE=1",
                         "SENDSHIM_FAULTS=send:type=stream:after=1G:error=ECONNRESET;"
                         "write:when=1000000:error=ECONNRESET",
                         NULL};
    int few = plain_getsockopts("10", env, 0), many = plain_getsockopts("200", env, 0);
    /* The socketpair's two identities, whatever the number of calls. */
    cr_expect_eq(few, many, "getsockopt: %d for 10 rounds, %d for 200", few, many);
    cr_expect_leq(few, 2);
}

Test(fdtruth, a_rule_that_fires_asks_once_only_when_it_looks_at_the_descriptor)
{
    if (!have_program("strace"))
        cr_skip_test("strace is not installed");
    /* Every second send fails. A rule with type= is re-identified once per
     * firing; one that does not look at the descriptor never is. */
    const char *typed[] = {"SENDSHIM_NOSIGPIPE=1", "SENDSHIM_FAULTS=send:type=stream:when=2+2:error=EAGAIN",
                           NULL};
    const char *untyped[] = {"SENDSHIM_NOSIGPIPE=1", "SENDSHIM_FAULTS=send:when=2+2:error=EAGAIN", NULL};
    int base = plain_getsockopts("20", untyped, 10);
    cr_expect_eq(base, plain_getsockopts("200", untyped, 100));
    cr_expect_eq(plain_getsockopts("20", typed, 10), base + 10);
    cr_expect_eq(plain_getsockopts("200", typed, 100), base + 100);
}

/* --- the rules' verdict on a descriptor (issue 14) ------------------------ */

/* Two UDP ports free on 127.0.0.1 now (bound, read back, closed). */
static void two_free_ports(int *a, int *b)
{
    int s1 = socket(AF_INET, SOCK_DGRAM, 0), s2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in x = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof x;
    cr_assert(s1 >= 0 && s2 >= 0);
    cr_assert_eq(bind(s1, (struct sockaddr *)&x, sizeof x), 0);
    cr_assert_eq(getsockname(s1, (struct sockaddr *)&x, &len), 0);
    *a = ntohs(x.sin_port);
    x.sin_port = 0;
    cr_assert_eq(bind(s2, (struct sockaddr *)&x, sizeof x), 0);
    cr_assert_eq(getsockname(s2, (struct sockaddr *)&x, &len), 0);
    *b = ntohs(x.sin_port);
    close(s1);
    close(s2);
}

/* A UDP socket connected to A, then B, then A again, under a rule naming
 * A's port (and one naming the address with A's port): the rule fires on
 * every send of the phases to A and on none to B, so the library sees the
 * re-connect; the receivers are the oracle. And it asks the kernel for the
 * peer once per connect (strace), not once per call: 3 x 50 sends make at
 * most 3 getpeername calls. */
Test(fdtruth, a_reconnected_udp_socket_is_seen_and_the_peer_is_asked_once_per_connect)
{
    if (!have_program("strace"))
        cr_skip("strace is not installed");
    int pa, pb;
    two_free_ports(&pa, &pb);
    char ports[2][16], rule[160];
    snprintf(ports[0], sizeof ports[0], "%d", pa);
    snprintf(ports[1], sizeof ports[1], "%d", pb);
    snprintf(rule, sizeof rule,
             "SENDSHIM_FAULTS=send:port=%d:error=ENOBUFS;send:peer=127.0.0.1:%d:error=ENOBUFS", pa, pa);
    const char *env[] = {rule, "SENDSHIM_LOG=none", NULL};
    const char *argv[] = {target_path("reconnect"), "50", ports[0], ports[1], NULL};
    struct run_result r;
    char *trace = NULL;
    cr_assert_eq(run_strace(&r, "getpeername", argv, env, 1, 60, &trace), 0);
    cr_assert(r.exited && r.status == 0, "reconnect failed (status %d):\n%s", r.status, r.err);
    cr_expect(strstr(r.out, "phase 1 to A: ok=0 err=50 last=ENOBUFS"), "the rule must fire on A:\n%s", r.out);
    cr_expect(strstr(r.out, "phase 2 to B: ok=50 err=0"), "re-connected to B, no rule matches:\n%s", r.out);
    cr_expect(strstr(r.out, "phase 3 to A: ok=0 err=50 last=ENOBUFS"), "back to A, the rule again:\n%s",
              r.out);
    cr_expect(strstr(r.out, "received A=0 B=50"), "the receivers disagree:\n%s", r.out);
    int asked = count_lines(trace, "getpeername(");
    cr_expect(asked >= 1 && asked <= 3, "%d getpeername for 150 sends over 3 connects:\n%s", asked, trace);
    free(trace);
    run_free(&r);
}

/* A socket made and connected behind libc's back at the number of one
 * closed behind its back: the descriptor's cached verdict (peer A) must not
 * make a rule act on the new socket (peer B). A rule that fires
 * re-identifies the descriptor first (ss_fd_confirm) and, the socket being
 * another, decides again with its true peer: the sends to B go out. The
 * receivers are the oracle. */
Test(fdtruth, a_cached_peer_verdict_is_not_trusted_for_a_socket_made_behind_libcs_back)
{
    int pa, pb;
    two_free_ports(&pa, &pb);
    char ports[2][16], rule[160];
    snprintf(ports[0], sizeof ports[0], "%d", pa);
    snprintf(ports[1], sizeof ports[1], "%d", pb);
    snprintf(rule, sizeof rule, "SENDSHIM_FAULTS=send:peer=127.0.0.1:%d:error=ECONNRESET", pa);
    const char *env[] = {rule, "SENDSHIM_LOG=none", NULL};
    const char *argv[] = {target_path("reconnect"), "20", ports[0], ports[1], "raw", NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, env, 1, NULL, 60), 0);
    cr_assert(r.exited && r.status == 0, "reconnect failed (status %d):\n%s", r.status, r.err);
    cr_expect(strstr(r.out, "phase 1 to A: ok=0 err=20 last=ECONNRESET"), "the rule must fire on A:\n%s",
              r.out);
    cr_expect(strstr(r.out, "phase 2 to B: ok=20 err=0"), "the new socket to B must not be faulted:\n%s",
              r.out);
    cr_expect(strstr(r.out, "received A=0 B=20"), "the receivers disagree:\n%s", r.out);
    run_free(&r);
}

/* A rule set of more than 32 groups: a descriptor's verdict holds the first
 * 32, and a call of a kind that a group past them names takes the stages,
 * which decide those groups on every call (README Limits). Here 33 fd=
 * groups that never match come first (groups 0..32), then a port= group
 * (33, its peer asked per call) and a family= group (34): the first fires on
 * the 3rd send to A only, the second on the 7th send of all. The receivers
 * are the oracle. */
Test(fdtruth, a_rule_set_past_32_groups_decides_every_group)
{
    int pa, pb;
    two_free_ports(&pa, &pb);
    char ports[2][16], rules[2048];
    snprintf(ports[0], sizeof ports[0], "%d", pa);
    snprintf(ports[1], sizeof ports[1], "%d", pb);
    int n = snprintf(rules, sizeof rules, "SENDSHIM_FAULTS=");
    for (int i = 0; i < 33; i++)
        n += snprintf(rules + n, sizeof rules - (size_t)n, "send:fd=%d:error=EPIPE;", 900 + i);
    snprintf(rules + n, sizeof rules - (size_t)n,
             "send:port=%d:when=3:error=ECONNRESET;send:family=inet:when=7:error=ENOBUFS", pa);
    const char *env[] = {rules, "SENDSHIM_LOG=none", NULL};
    const char *argv[] = {target_path("reconnect"), "10", ports[0], ports[1], NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, env, 1, NULL, 60), 0);
    cr_assert(r.exited && r.status == 0, "reconnect failed (status %d):\n%s", r.status, r.err);
    cr_expect(strstr(r.out, "phase 1 to A: ok=8 err=2 last=ENOBUFS"),
              "the 3rd send to A (port=) and the 7th send (family=) must fail:\n%s", r.out);
    cr_expect(strstr(r.out, "phase 2 to B: ok=10 err=0"), "no rule is due on B:\n%s", r.out);
    cr_expect(strstr(r.out, "phase 3 to A: ok=10 err=0"), "both rules fired once already:\n%s", r.out);
    cr_expect(strstr(r.out, "received A=18 B=10"), "the receivers disagree:\n%s", r.out);
    run_free(&r);
}

/* Calls that name an address (sendto on an unconnected UDP socket, python3's
 * socket.sendto) test peer= and port= on it; the answer is cached per rule
 * set, descriptor and address (fault_facts.c, a table of 16 entries). Four
 * UDP sockets send to 24 ports on two loopback addresses under two rule
 * sets given at run time (sendshim_set_faults) whose answers depend on the
 * address and, for an fd= rule, on the descriptor. Each set visits the 192
 * keys socket by socket (each next key of the same descriptor: about 1 in
 * 16 visits finds the entry of a key that differs only in the address),
 * then port by port (each next key differs only in the descriptor, and
 * finds its entry: the address alone picks the entry); the second set
 * starts with the keys the first ended with. A cache keyed on less than the
 * rule set, the descriptor and the address decides some send by another's
 * answer (the address: at these odds, all but certainly).
 * The script's own model of the rules is the oracle (python3's errors
 * against it), and the receivers at A and B. */
static const char py_named[] =
    "import ctypes, errno, os, socket, sys\n"
    "pa, pb = int(sys.argv[1]), int(sys.argv[2])\n"
    "rx = {}\n"
    "for port in (pa, pb):\n"
    "    rx[port] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "    rx[port].bind(('127.0.0.1', port))\n"
    "tx = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]\n"
    "fds = [s.fileno() for s in tx]\n"
    "ports = [pa, pb] + [p for p in range(20000, 20100) if p not in (pa, pb)][:22]\n"
    "addrs = ('127.0.0.1', '127.0.0.2')\n"
    "by_socket = [(s, a, p) for s in tx for p in ports for a in addrs]\n"
    "by_port = [(s, a, p) for p in ports for a in addrs for s in tx]\n"
    "def phase(rules, model, order):\n"
    "    print('set', ctypes.CDLL(None).sendshim_set_faults(rules.encode()))\n"
    "    bad = faulted = 0\n"
    "    for s, addr, port in order:\n"
    "        try:\n"
    "            s.sendto(b'x', (addr, port))\n"
    "            got = 'ok'\n"
    "        except OSError as e:\n"
    "            got = errno.errorcode[e.errno]\n"
    "        want = model(s.fileno(), addr)\n"
    "        faulted += got != 'ok'\n"
    "        if got != want:\n"
    "            bad += 1\n"
    "            print('fd %d to %s:%d: %s, want %s' % (s.fileno(), addr, port, got, want))\n"
    "    return bad, faulted\n"
    "rule = 'sendto:peer=%s:error=ENOBUFS;sendto:fd=%d:peer=%s:error=ECONNREFUSED'\n"
    "def model(hit, fd_hit, other):\n"
    "    return lambda fd, addr: 'ENOBUFS' if addr == hit else 'ECONNREFUSED' if fd == fd_hit else 'ok'\n"
    "one = phase(rule % (addrs[0], fds[1], addrs[1]), model(addrs[0], fds[1], addrs[1]), by_socket + "
    "by_port)\n"
    "two = phase(rule % (addrs[1], fds[2], addrs[0]), model(addrs[1], fds[2], addrs[0]), by_port[::-1] + "
    "by_socket)\n"
    "got = {}\n"
    "for port in rx:\n"
    "    rx[port].setblocking(False)\n"
    "    got[port] = 0\n"
    "    try:\n"
    "        while rx[port].recv(16):\n"
    "            got[port] += 1\n"
    "    except BlockingIOError:\n"
    "        pass\n"
    "print('one: wrong %d faulted %d; two: wrong %d faulted %d' % (one + two))\n"
    "print('received A=%d B=%d' % (got[pa], got[pb]))\n";

Test(fdtruth, python3_sendto_is_decided_per_rule_set_descriptor_and_address)
{
    if (!have_program("python3"))
        cr_skip("python3 is not installed");
    int pa, pb;
    two_free_ports(&pa, &pb);
    char ports[2][16];
    snprintf(ports[0], sizeof ports[0], "%d", pa);
    snprintf(ports[1], sizeof ports[1], "%d", pb);
    const char *env[] = {"SENDSHIM_LOG=none", NULL};
    const char *argv[] = {"python3", "-c", py_named, ports[0], ports[1], NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, env, 1, NULL, 60), 0);
    cr_assert(r.exited && r.status == 0, "python3 failed (status %d):\n%s", r.status, r.err);
    cr_expect(!strstr(r.out, "set -") && strstr(r.out, "set 0"), "sendshim_set_faults failed:\n%s", r.out);
    /* each set: 4 sockets x 24 ports on one address, one socket's 24 on
     * the other, each key twice */
    cr_expect(strstr(r.out, "one: wrong 0 faulted 240; two: wrong 0 faulted 240"),
              "every send as the rules say:\n%s", r.out);
    cr_expect(strstr(r.out, "received A=6 B=6"), "the receivers disagree:\n%s", r.out);
    run_free(&r);
}

/* The named-address cache's answer holds for the socket it was made for: a
 * UDP socket's sendto to A under `peer=A:type=dgram` is faulted; the socket
 * is closed and a TCP socket made at its number, whose verdict under the
 * rule set is the same value (no group matches either: the UDP socket has
 * no connected peer, the TCP one is not a datagram socket); its sendto to A
 * must get the kernel's answer, not the rule's. python3's errors are the
 * oracle. */
static const char py_named_kind[] = "import errno, socket, sys\n"
                                    "pa = int(sys.argv[1])\n"
                                    "rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                    "rx.bind(('127.0.0.1', pa))\n"
                                    "def send(s):\n"
                                    "    try:\n"
                                    "        s.sendto(b'x', ('127.0.0.1', pa))\n"
                                    "        return 'ok'\n"
                                    "    except OSError as e:\n"
                                    "        return errno.errorcode[e.errno]\n"
                                    "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                    "fd = u.fileno()\n"
                                    "print('udp', send(u), send(u))\n"
                                    "u.close()\n"
                                    "t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
                                    "print('same number', t.fileno() == fd)\n"
                                    "got = [send(t) for _ in range(3)]\n"
                                    "print('tcp', ' '.join(got), 'refused', got.count('ECONNREFUSED'))\n";

Test(fdtruth, python3_sendto_on_a_new_socket_at_a_cached_number_is_decided_for_it)
{
    if (!have_program("python3"))
        cr_skip("python3 is not installed");
    int pa, pb;
    two_free_ports(&pa, &pb);
    char port[16], rule[160];
    snprintf(port, sizeof port, "%d", pa);
    snprintf(rule, sizeof rule, "SENDSHIM_FAULTS=sendto:peer=127.0.0.1:%d:type=dgram:error=ECONNREFUSED", pa);
    const char *env[] = {rule, "SENDSHIM_LOG=none", NULL};
    const char *argv[] = {"python3", "-c", py_named_kind, port, NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, env, 1, NULL, 60), 0);
    cr_assert(r.exited && r.status == 0, "python3 failed (status %d):\n%s", r.status, r.err);
    cr_assert(strstr(r.out, "same number True"), "the TCP socket did not get the number:\n%s", r.out);
    cr_expect(strstr(r.out, "udp ECONNREFUSED ECONNREFUSED"), "the rule must fault the UDP socket:\n%s",
              r.out);
    cr_expect(strstr(r.out, "refused 0"), "the TCP socket must get the kernel's error, not the rule's:\n%s",
              r.out);
    run_free(&r);
}
