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
