/* test_sigpipe.c - SPEC 6: SENDSHIM_NOSIGPIPE and the emulated SO_NOSIGPIPE.
 * Programs write to a socket whose peer is gone: with the option they get
 * EPIPE and live, without it they die of SIGPIPE. Pipes keep their SIGPIPE. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define T 20 /* seconds a spawned program may take */

static const char *const all_calls[] = {"write",   "writev",   "send",     "sendto",
                                        "sendmsg", "sendmmsg", "sendfile", "splice"};
#define NCALLS (sizeof all_calls / sizeof all_calls[0])

static void writer(struct run_result *r, const char *setup, const char *call, const char *const env[],
                   int preload)
{
    const char *argv[] = {target_path("sigpipe_writer"), setup, call, NULL};
    cr_assert_eq(run(r, argv, env, preload, NULL, T), 0, "could not run sigpipe_writer");
    cr_assert(!r->timed_out, "sigpipe_writer %s %s timed out", setup, call);
}

static void expect_lives(const char *setup, const char *call, const char *const env[], int preload)
{
    struct run_result r;
    writer(&r, setup, call, env, preload);
    char want[128];
    snprintf(want, sizeof want, "%s -1 EPIPE\n%s -1 EPIPE\n%s -1 EPIPE\nalive\n", call, call, call);
    cr_expect(r.exited && r.status == 0, "%s %s: died (signal %d)\n%s", setup, call, r.sig, r.out);
    cr_expect(strstr(r.out, want), "%s %s:\n%s", setup, call, r.out);
    run_free(&r);
}

static void expect_dies(const char *setup, const char *call, const char *const env[], int preload)
{
    struct run_result r;
    writer(&r, setup, call, env, preload);
    cr_expect(r.signaled && r.sig == SIGPIPE, "%s %s: should die of SIGPIPE, got exit %d signal %d\n%s",
              setup, call, r.status, r.sig, r.out);
    run_free(&r);
}

/* --- SENDSHIM_NOSIGPIPE=1 --------------------------------------------------- */

Test(sigpipe, nosigpipe_every_socket_write_gets_epipe)
{
    const char *env[] = {"SENDSHIM_NOSIGPIPE=1", NULL};
    for (size_t i = 0; i < NCALLS; i++) {
        expect_lives("plain", all_calls[i], env, 1);
        expect_dies("plain", all_calls[i], NULL, 1); /* the library alone changes nothing */
        expect_dies("plain", all_calls[i], NULL, 0);
    }
    expect_lives("tcp", "write", env, 1);
    expect_lives("tcp", "send", env, 1);
    expect_dies("tcp", "write", NULL, 0);
}

Test(sigpipe, nosigpipe_leaves_pipes_their_sigpipe)
{
    const char *env[] = {"SENDSHIM_NOSIGPIPE=1", NULL};
    expect_dies("pipe", "write", env, 1);
    expect_dies("pipe", "writev", env, 1);
    expect_dies("pipe", "splice", env, 1);
}

Test(sigpipe, yes_head_behaves_the_same_with_and_without)
{
    if (!have_program("bash") || !have_program("yes") || !have_program("head"))
        cr_skip_test("bash, yes or head missing");
    const char *argv[] = {"bash", "-c", "yes | head -1; echo \"${PIPESTATUS[@]}\"", NULL};
    const char *env[] = {"SENDSHIM_NOSIGPIPE=1", NULL};
    struct run_result plain, with;
    cr_assert_eq(run(&plain, argv, NULL, 0, NULL, T), 0);
    cr_assert_eq(run(&with, argv, env, 1, NULL, T), 0);
    cr_expect_str_eq(plain.out, "y\n141 0\n");
    cr_expect_str_eq(with.out, plain.out);
    run_free(&plain);
    run_free(&with);
}

static const char py_writer[] = "import os, signal, socket, sys\n"
                                "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
                                "a, b = socket.socketpair()\n"
                                "b.close()\n"
                                "for how in ('send', 'sendall', 'write'):\n"
                                "    try:\n"
                                "        if how == 'write': os.write(a.fileno(), b'x')\n"
                                "        else: getattr(a, how)(b'x')\n"
                                "        print(how, 'sent', flush=True)\n"
                                "    except BrokenPipeError:\n"
                                "        print(how, 'EPIPE', flush=True)\n"
                                "print('alive')\n";

Test(sigpipe, python3_with_default_sigpipe_lives_under_nosigpipe)
{
    if (!have_program("python3"))
        cr_skip_test("python3 is not installed");
    const char *argv[] = {"python3", "-c", py_writer, NULL};
    const char *env[] = {"SENDSHIM_NOSIGPIPE=1", NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, env, 1, NULL, T), 0);
    cr_expect(r.exited && r.status == 0, "python3 died: signal %d %s", r.sig, r.err);
    cr_expect_str_eq(r.out, "send EPIPE\nsendall EPIPE\nwrite EPIPE\nalive\n");
    run_free(&r);
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
    cr_expect(r.signaled && r.sig == SIGPIPE, "without the library python3 should die: %s", r.out);
    run_free(&r);
}

/* --- SO_NOSIGPIPE ----------------------------------------------------------- */

Test(sigpipe, so_nosigpipe_on_the_socket_itself)
{
    for (size_t i = 0; i < NCALLS; i++) {
        expect_lives("so", all_calls[i], NULL, 1);
        expect_dies("so", all_calls[i], NULL, 0);
    }
}

Test(sigpipe, so_nosigpipe_reads_back_and_clears)
{
    struct run_result r;
    writer(&r, "so", "send", NULL, 1);
    cr_expect(strstr(r.out, "getsockopt 1\n"), "%s", r.out);
    run_free(&r);
    writer(&r, "plain", "send", NULL, 1);
    cr_expect(strstr(r.out, "getsockopt 0\n"), "never set must read 0: %s", r.out);
    run_free(&r);
    writer(&r, "so-cleared", "send", NULL, 1);
    cr_expect(strstr(r.out, "getsockopt 0\n"), "%s", r.out);
    cr_expect(r.signaled && r.sig == SIGPIPE, "cleared option must not protect");
    run_free(&r);
}

Test(sigpipe, so_nosigpipe_is_shared_by_duplicates)
{
    const char *setups[] = {"so-dup", "so-after-dup", "so-dup2", "so-dup3", "so-fcntl", "so-fcntl-cloexec"};
    const char *calls[] = {"write", "send", "sendfile"};
    for (size_t s = 0; s < sizeof setups / sizeof setups[0]; s++)
        for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++)
            expect_lives(setups[s], calls[c], NULL, 1);
    expect_dies("so-after-dup", "write", NULL, 0);
}

Test(sigpipe, so_nosigpipe_is_inherited_by_accept)
{
    expect_lives("so-accept", "write", NULL, 1);
    expect_lives("so-accept", "sendmsg", NULL, 1);
    expect_lives("so-accept4", "send", NULL, 1);
    expect_lives("so-accept4", "splice", NULL, 1);
    expect_dies("so-accept", "write", NULL, 0);
}

Test(sigpipe, so_nosigpipe_survives_fork)
{
    const char *calls[] = {"write", "send", "sendmmsg"};
    for (size_t c = 0; c < 3; c++) {
        struct run_result r;
        writer(&r, "so-fork", calls[c], NULL, 1);
        cr_expect(strstr(r.out, "alive\nchild exit 0\n"), "%s:\n%s", calls[c], r.out);
        run_free(&r);
    }
}

/* --- SO_NOSIGPIPE in the BSDs' own numbers ------------------------------------------------------ */

static void bsd_run(struct run_result *r, const char *style, const char *way, int preload)
{
    char var[64];
    snprintf(var, sizeof var, "SENDSHIM_FLAGS=%s", style);
    const char *argv[] = {target_path("bsd_nosigpipe"), way, NULL};
    const char *env[] = {var, NULL};
    cr_assert_eq(run(r, argv, env, preload, NULL, T), 0, "could not run bsd_nosigpipe");
    cr_assert(!r->timed_out, "bsd_nosigpipe %s timed out", way);
}

/* Code compiled with BSD numbers sets its system's SO_NOSIGPIPE: FreeBSD's
 * and NetBSD's 0x0800 at SOL_SOCKET 0xffff, macOS's 0x1022 (at 0xffff, and
 * at Linux's SOL_SOCKET): under that style it is emulated, reads back 1 and
 * the writes get EPIPE without SIGPIPE. */
Test(sigpipe, so_nosigpipe_in_each_bsds_numbers)
{
    static const char *const cases[][2] = {
        {"freebsd", "bsd"}, {"netbsd", "bsd"}, {"macos", "macos"}, {"macos", "macos-linux"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct run_result r;
        bsd_run(&r, cases[i][0], cases[i][1], 1);
        cr_expect(r.exited && r.status == 0, "%s %s: died (signal %d)\n%s%s", cases[i][0], cases[i][1], r.sig,
                  r.out, r.err);
        cr_expect_str_eq(r.out, "setsockopt 0\ngetsockopt 1 len 4\nwrite -1 EPIPE\nwrite -1 EPIPE\nalive\n",
                         "%s %s", cases[i][0], cases[i][1]);
        run_free(&r);
    }
}

/* Everything else stays the kernel's answer, exactly as without the library:
 * any option under the linux style, another style's number (macOS's 0x1022
 * under freebsd; 0x0800 under macos, which is macOS's SO_TIMESTAMP_MONOTONIC,
 * and under openbsd, which has no SO_NOSIGPIPE and calls 0x0800
 * SO_TIMESTAMP), and other options at level 0xffff (BSD SO_TYPE). */
Test(sigpipe, other_bsd_socket_options_get_the_kernels_answer)
{
    static const char *const cases[][2] = {
        {"linux", "bsd"},     {"linux", "macos"},         {"linux", "macos-linux"}, {"linux", "bsd-type"},
        {"freebsd", "macos"}, {"freebsd", "macos-linux"}, {"freebsd", "bsd-type"},  {"netbsd", "bsd-type"},
        {"openbsd", "bsd"},   {"openbsd", "macos"},       {"macos", "bsd"},         {"macos", "bsd-type"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct run_result with, without;
        bsd_run(&with, cases[i][0], cases[i][1], 1);
        bsd_run(&without, cases[i][0], cases[i][1], 0);
        cr_expect(without.signaled && without.sig == SIGPIPE, "the kernel alone: %s", without.out);
        cr_expect_str_eq(with.out, without.out, "%s %s", cases[i][0], cases[i][1]);
        cr_expect(with.signaled && with.sig == SIGPIPE, "%s %s: exit %d signal %d\n%s", cases[i][0],
                  cases[i][1], with.status, with.sig, with.out);
        run_free(&with);
        run_free(&without);
    }
}

Test(sigpipe, stale_state_costs_a_retry_never_a_wrong_result)
{
    /* The socket's number now names a pipe (reused behind libc's back). */
    struct run_result r;
    writer(&r, "stale-live", "write", NULL, 1);
    cr_expect_str_eq(r.out, "write 1\nwrite 1\nwrite 1\nalive\n");
    run_free(&r);
    writer(&r, "stale-live", "writev", NULL, 1);
    cr_expect_str_eq(r.out, "writev 1\nwritev 1\nwritev 1\nalive\n");
    run_free(&r);
    /* A pipe keeps its SIGPIPE even when the table still says "socket with
     * SO_NOSIGPIPE". */
    expect_dies("stale-pipe", "write", NULL, 1);
    expect_dies("stale-pipe", "writev", NULL, 1);
    expect_dies("stale-pipe", "sendfile", NULL, 1);
    expect_dies("stale-pipe", "splice", NULL, 1);
}

/* --- the guard of sendfile and splice: its cost and its effect -------------- */

#define TRANSFERS 10 /* sendfile/splice calls of 4 bytes before the peer closes */

static const char *const ignoring[] = {"ignore",      "sigaction-ignore", "bsd-ignore",
                                       "sysv-ignore", "sigset-ignore",    "inherited"};
static const char *const not_ignoring[] = {"default", "handler", "ignore-then-default", "ignore-then-handler",
                                           "blocked"};
#define NELEM(a) (sizeof(a) / sizeof(a)[0])

/* The signal-mask and signal-wait system calls sigpipe_transfer HOW CALL
 * makes, as strace counts them, with the library (SENDSHIM_NOSIGPIPE=1) or
 * without it (nothing else set). */
static int sig_calls(const char *how, const char *call, int preload)
{
    char n[16];
    snprintf(n, sizeof n, "%d", TRANSFERS);
    const char *argv[] = {target_path("sigpipe_transfer"), how, call, n, NULL};
    const char *env[] = {"SENDSHIM_NOSIGPIPE=1", NULL};
    struct run_result r;
    char *trace;
    cr_assert_eq(run_strace(&r, "rt_sigprocmask,rt_sigpending,rt_sigtimedwait", argv, preload ? env : NULL,
                            preload, T, &trace),
                 0, "could not run sigpipe_transfer under strace");
    if (preload) {
        /* The guard's effect: EPIPE, no SIGPIPE, the handler never runs. */
        char want[64];
        snprintf(want, sizeof want, "transfers %d\nafter close -1 EPIPE\nhandler 0\nalive\n", TRANSFERS);
        cr_expect(r.exited && r.status == 0, "%s %s died (signal %d): %s", how, call, r.sig, r.out);
        cr_expect_str_eq(r.out, want, "%s %s", how, call);
    }
    int calls = count_lines(trace, "rt_sigprocmask(") + count_lines(trace, "rt_sigpending(") +
                count_lines(trace, "rt_sigtimedwait(");
    free(trace);
    run_free(&r);
    return calls;
}

/* A program that ignores SIGPIPE (nginx does, and python) needs no guard:
 * not one system call more than without the library. */
Test(sigpipe, guard_costs_nothing_when_sigpipe_is_ignored)
{
    if (!have_program("strace"))
        cr_skip_test("strace is not installed");
    static const char *const calls[] = {"sendfile", "splice"};
    for (size_t c = 0; c < 2; c++)
        for (size_t h = 0; h < NELEM(ignoring); h++) {
            int without = sig_calls(ignoring[h], calls[c], 0), with = sig_calls(ignoring[h], calls[c], 1);
            cr_expect_eq(with, without, "%s %s: %d signal system calls with the library, %d without",
                         ignoring[h], calls[c], with, without);
        }
}

/* Otherwise at most two per call (block, restore; or block, sigpending when
 * the program blocks SIGPIPE itself), and the sigtimedwait only after the
 * EPIPE: 2 * TRANSFERS + 3 in all. */
Test(sigpipe, guard_costs_two_system_calls_without_epipe)
{
    if (!have_program("strace"))
        cr_skip_test("strace is not installed");
    static const char *const calls[] = {"sendfile", "splice"};
    for (size_t c = 0; c < 2; c++)
        for (size_t h = 0; h < NELEM(not_ignoring); h++) {
            int without = sig_calls(not_ignoring[h], calls[c], 0),
                with = sig_calls(not_ignoring[h], calls[c], 1);
            cr_expect_leq(with - without, 2 * TRANSFERS + 3,
                          "%s %s: %d signal system calls more than without", not_ignoring[h], calls[c],
                          with - without);
            cr_expect_geq(with - without, 2 * TRANSFERS, "%s %s: the guard must act (%d more)",
                          not_ignoring[h], calls[c], with - without);
        }
}

/* sendfile sends in rounds and returns the bytes of those before a failed
 * one: a positive count can come with SIGPIPE raised (the write side shut
 * down mid-transfer). Without the library the program dies of it; with
 * SENDSHIM_NOSIGPIPE=1 it lives. */
Test(sigpipe, short_sendfile_with_sigpipe_raised_is_guarded)
{
    const char *argv[] = {target_path("sigpipe_transfer"), "default", "sendfile-cut", "0", NULL};
    const char *env[] = {"SENDSHIM_NOSIGPIPE=1", NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
    cr_expect(r.signaled && r.sig == SIGPIPE, "the kernel alone: should die of SIGPIPE: %s", r.out);
    run_free(&r);
    cr_assert_eq(run(&r, argv, env, 1, NULL, T), 0);
    cr_expect(r.exited && r.status == 0, "died (signal %d): %s", r.sig, r.out);
    cr_expect_str_eq(r.out, "cut short\nhandler 0\nalive\n");
    run_free(&r);
}

/* Every way of setting SIGPIPE is followed: ignored, the guard is off and
 * the kernel discards the signal; not ignored, the guard keeps the program
 * alive; without the library those die. */
Test(sigpipe, guard_follows_every_way_of_setting_sigpipe)
{
    static const char *const calls[] = {"sendfile", "splice"};
    for (size_t c = 0; c < 2; c++) {
        for (size_t h = 0; h < NELEM(not_ignoring); h++) {
            const char *argv[] = {target_path("sigpipe_transfer"), not_ignoring[h], calls[c], "2", NULL};
            const char *env[] = {"SENDSHIM_NOSIGPIPE=1", NULL};
            struct run_result r;
            cr_assert_eq(run(&r, argv, env, 1, NULL, T), 0);
            cr_expect_str_eq(r.out, "transfers 2\nafter close -1 EPIPE\nhandler 0\nalive\n", "%s %s",
                             not_ignoring[h], calls[c]);
            run_free(&r);
            cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
            if (strstr(not_ignoring[h], "handler"))
                cr_expect(strstr(r.out, "handler 1\n"), "%s %s without the library: %s", not_ignoring[h],
                          calls[c], r.out);
            else
                cr_expect(r.signaled && r.sig == SIGPIPE, "%s %s without the library: %s", not_ignoring[h],
                          calls[c], r.out);
            run_free(&r);
        }
        for (size_t h = 0; h < NELEM(ignoring); h++) {
            const char *argv[] = {target_path("sigpipe_transfer"), ignoring[h], calls[c], "2", NULL};
            struct run_result r;
            cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
            cr_expect_str_eq(r.out, "transfers 2\nafter close -1 EPIPE\nhandler 0\nalive\n",
                             "%s %s without the library", ignoring[h], calls[c]);
            run_free(&r);
        }
    }
}
