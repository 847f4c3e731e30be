/* test_flags.c - SPEC 5 at work: MSG_EOF over real loopback sockets,
 * MSG_CONFIRM and BSD flag numbering checked at the kernel with strace, the
 * unknown-bit modes, and a BSD-style program run under the library. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define T 20 /* seconds a spawned program may take */

static void run_ok(struct run_result *r, const char *const argv[], const char *const env[], int preload)
{
    cr_assert_eq(run(r, argv, env, preload, NULL, T), 0, "could not run %s", argv[0]);
    cr_assert(!r->timed_out, "%s timed out: %s", argv[0], r->out);
}

/* Run a target (argv after its name) with the library and env, return stdout. */
static char *target_out(const char *name, const char *const args[], const char *const env[], int preload)
{
    const char *argv[16];
    int n = 0;
    argv[n++] = target_path(name);
    for (int i = 0; args && args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct run_result r;
    run_ok(&r, argv, env, preload);
    cr_assert(r.exited && r.status == 0, "%s failed (status %d, signal %d): %s", name, r.status, r.sig,
              r.err);
    char *out = strdup(r.out);
    run_free(&r);
    return out;
}

/* Run a target under strace with the library preloaded into the target only
 * (strace -E) and the SENDSHIM_* settings in env; returns strace's log and,
 * in *out, the target's stdout. */
static char *strace_target(const char *const prog[], const char *const env[], char **out)
{
    if (!have_program("strace"))
        cr_skip_test("strace is not installed");
    struct run_result r;
    char *text;
    cr_assert_eq(run_strace(&r, "sendto,sendmsg,sendmmsg,shutdown", prog, env, 1, T, &text), 0,
                 "could not run %s under strace", prog[0]);
    cr_assert(!r.timed_out, "strace timed out: %s", r.out);
    cr_assert_eq(r.status, 0, "strace run failed: %s %s", r.out, r.err);
    *out = strdup(r.out);
    run_free(&r);
    return text;
}

/* The flags argument of the sendto(2) strace showed for the send of `len`
 * bytes (flags_send's i-th send carries i bytes), or NULL when there was no
 * such system call. Lines look like
 *   sendto(3, "ab", 2, MSG_DONTWAIT|MSG_NOSIGNAL, NULL, 0) = 2 */
static const char *sendto_flags(const char *log, int len)
{
    static char flags[256];
    const char *p = log;
    while ((p = strstr(p, "sendto(")) != NULL) {
        const char *q = strstr(p, "\", ");
        const char *eol = strchr(p, '\n');
        if (q && (!eol || q < eol)) {
            int l = -1;
            char f[256];
            if (sscanf(q + 3, "%d, %255[^,]", &l, f) == 2 && l == len) {
                strcpy(flags, f);
                return flags;
            }
        }
        p += 7;
    }
    return NULL;
}

/* flags_send KIND F1 F2 ... under strace; check each send's kernel flags. */
struct flag_case {
    const char *in;   /* the program's value */
    const char *want; /* strace's rendering of what the kernel got; NULL: no syscall */
};

static void check_flags(const char *kind, const char *const env[], const struct flag_case *cases, size_t n)
{
    const char *prog[40];
    size_t k = 0;
    prog[k++] = target_path("flags_send");
    prog[k++] = kind;
    for (size_t i = 0; i < n && k < 39; i++)
        prog[k++] = cases[i].in;
    prog[k] = NULL;
    char *out;
    char *log = strace_target(prog, env, &out);
    for (size_t i = 0; i < n; i++) {
        const char *got = sendto_flags(log, (int)i + 1);
        if (!cases[i].want) {
            cr_expect_null(got, "%s %s: a system call reached the kernel (flags %s)", env ? env[0] : "",
                           cases[i].in, got);
            char line[64];
            snprintf(line, sizeof line, "%s -1 EINVAL", cases[i].in);
            cr_expect(strstr(out, line), "%s: want '%s' in\n%s", cases[i].in, line, out);
            continue;
        }
        cr_expect_not_null(got, "%s %s: no sendto seen in\n%s", env ? env[0] : "", cases[i].in, log);
        if (got)
            cr_expect_str_eq(got, cases[i].want, "%s %s %s: kernel got %s, want %s", kind, env ? env[0] : "",
                             cases[i].in, got, cases[i].want);
    }
    free(out);
    free(log);
}

/* --- MSG_EOF --------------------------------------------------------------- */

Test(flags, eof_on_tcp_ends_the_stream_after_every_send_call)
{
    const char *kinds[] = {"tcp", "tcp6"};
    const char *calls[] = {"send", "sendto", "sendmsg", "sendmmsg", "zero"};
    for (size_t k = 0; k < 2; k++) {
        for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
            const char *args[] = {kinds[k], calls[c], NULL};
            char *out = target_out("flags_eof", args, NULL, 1);
            int zero = !strcmp(calls[c], "zero");
            char want[128];
            snprintf(want, sizeof want, "peer %d bytes EOF\nagain -1 EPIPE\n", zero ? 0 : 5);
            cr_expect(strstr(out, want), "%s %s:\n%s", kinds[k], calls[c], out);
            free(out);
        }
    }
}

Test(flags, eof_without_the_library_is_ignored_by_linux)
{
    /* The oracle for the test above: Linux alone sends no FIN. */
    const char *args[] = {"tcp", "send", NULL};
    char *out = target_out("flags_eof", args, NULL, 0);
    cr_expect(strstr(out, "peer 5 bytes open\nagain 1\n"), "%s", out);
    free(out);
}

Test(flags, eof_short_count_leaves_the_stream_open_until_the_retry_completes)
{
    const char *args[] = {"tcp", "send", "nonblock", NULL};
    char *out = target_out("flags_eof", args, NULL, 1);
    cr_expect_str_eq(out, "short\npeer 4194304 bytes EOF\n");
    free(out);
}

/* short= and batch= rewrite the request the kernel gets; MSG_EOF's "was
 * everything sent?" asks about the request the program made, so a call cut
 * by the fault leaves the stream open, and the next send goes through. */
Test(flags, eof_after_a_fault_that_cut_the_call_leaves_the_stream_open)
{
    static const struct {
        const char *rule, *call, *want;
    } cases[] = {
        {"*:when=1:short=2", "send", "send 2\npeer 2 bytes open\nagain 1\n"},
        {"*:when=1:short=2", "sendto", "sendto 2\npeer 2 bytes open\nagain 1\n"},
        {"*:when=1:short=2", "sendmsg", "sendmsg 2\npeer 2 bytes open\nagain 1\n"},
        {"*:when=1:short=2", "sendmmsg", "sendmmsg 1\npeer 2 bytes open\nagain 1\n"},
        {"sendmmsg:when=1:batch=1", "sendmmsg", "sendmmsg 1\npeer 3 bytes open\nagain 1\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rules[64];
        snprintf(rules, sizeof rules, "SENDSHIM_FAULTS=%s", cases[i].rule);
        const char *env[] = {rules, "SENDSHIM_LOG=none", NULL};
        const char *args[] = {"tcp", cases[i].call, NULL};
        char *out = target_out("flags_eof", args, env, 1);
        cr_expect_str_eq(out, cases[i].want, "%s %s", cases[i].rule, cases[i].call);
        free(out);
    }
}

/* The library sends the first 1024 of 1100 iovecs on a stream (SPEC 7): a
 * short count, so MSG_EOF must leave the stream open although every byte of
 * the normalized message was sent. */
Test(flags, eof_waits_for_the_iovecs_past_the_first_1024)
{
    const char *args[] = {"tcp", "sendmsg-1100", NULL};
    char *out = target_out("flags_eof", args, NULL, 1);
    cr_expect_str_eq(out, "sendmsg-1100 1024\npeer 1024 bytes open\nagain 1\n");
    free(out);
}

Test(flags, eof_never_shuts_down_udp_or_unix_sockets)
{
    const char *kinds[] = {"udp", "udp6", "unix-stream", "unix-dgram"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *args[] = {kinds[k], "send", NULL};
        char *out = target_out("flags_eof", args, NULL, 1);
        cr_expect_str_eq(out, "send 5\npeer 5 bytes open\nagain 1\n", "%s", kinds[k]);
        free(out);
    }
    /* And at the kernel: the bit is gone and there is no shutdown. */
    const char *prog[] = {target_path("flags_send"), "udp", "0x200", NULL};
    char *out;
    char *log = strace_target(prog, NULL, &out);
    const char *f = sendto_flags(log, 1);
    cr_expect(f && !strcmp(f, "0"), "udp MSG_EOF reached the kernel as %s", f ? f : "(nothing)");
    cr_expect_null(strstr(log, "shutdown("), "%s", log);
    free(out);
    free(log);
}

Test(flags, eof_on_tcp_is_send_then_shutdown_at_the_kernel)
{
    const char *prog[] = {target_path("flags_send"), "tcp", "0x200", NULL};
    char *out;
    char *log = strace_target(prog, NULL, &out);
    const char *f = sendto_flags(log, 1);
    cr_expect(f && !strcmp(f, "0"), "MSG_EOF reached the kernel as %s", f ? f : "(nothing)");
    const char *send = strstr(log, "sendto(");
    const char *shut = strstr(log, "shutdown(");
    cr_expect(send && shut && shut > send && strstr(shut, "SHUT_WR"), "%s", log);
    free(out);
    free(log);
}

/* --- MSG_CONFIRM ----------------------------------------------------------- */

Test(flags, confirm_reaches_the_kernel_only_on_inet_datagrams)
{
    const struct flag_case pass[] = {{"0x800", "MSG_CONFIRM"}, {"0x4800", "MSG_CONFIRM|MSG_NOSIGNAL"}};
    const struct flag_case strip[] = {{"0x800", "0"}, {"0x4800", "MSG_NOSIGNAL"}};
    check_flags("udp", NULL, pass, 2);
    check_flags("udp6", NULL, pass, 2);
    check_flags("tcp", NULL, strip, 2);
    check_flags("unix-stream", NULL, strip, 2);
    check_flags("unix-dgram", NULL, strip, 2);
    check_flags("unix-seqpacket", NULL, strip, 2);
}

/* --- BSD numbering, one row of SPEC 5 per case ----------------------------- */

/* Rows shared by the four systems: OOB, DONTROUTE, EOR, DONTWAIT, and the
 * receive-only TRUNC (0x10, Linux MSG_PROBE) and WAITALL (0x40, Linux
 * MSG_DONTWAIT) that must be dropped. */
#define COMMON_ROWS                                                                                          \
    {"0x1", "MSG_OOB"}, {"0x4", "MSG_DONTROUTE"}, {"0x8", "MSG_EOR"}, {"0x80", "MSG_DONTWAIT"},              \
        {"0x10", "0"},                                                                                       \
    {                                                                                                        \
        "0x40", "0"                                                                                          \
    }

Test(flags, freebsd_numbering_at_the_kernel)
{
    const char *env[] = {"SENDSHIM_FLAGS=freebsd", NULL};
    const struct flag_case rows[] = {COMMON_ROWS,
                                     {"0x20000", "MSG_NOSIGNAL"},
                                     {"0x4000", "MSG_DONTWAIT"},
                                     {"0x40000", "0"},
                                     {"0x8000", "0"}, /* MSG_COMPAT: raw it would be MSG_MORE */
                                     {"0x2", "0"},
                                     {"0x100", "0"}}; /* MSG_EOF, last: the stream ends */
    check_flags("tcp", env, rows, sizeof rows / sizeof rows[0]);
}

Test(flags, macos_numbering_at_the_kernel)
{
    const char *env[] = {"SENDSHIM_FLAGS=macos", NULL};
    const struct flag_case rows[] = {COMMON_ROWS,     {"0x80000", "MSG_NOSIGNAL"},
                                     {"0x4000", "0"}, {"0x400", "0"},
                                     {"0x800", "0"},  {"0x100", "0"}};
    check_flags("tcp", env, rows, sizeof rows / sizeof rows[0]);
}

Test(flags, netbsd_numbering_at_the_kernel)
{
    const char *env[] = {"SENDSHIM_FLAGS=netbsd", NULL};
    const struct flag_case rows[] = {
        COMMON_ROWS,    {"0x400", "MSG_NOSIGNAL"}, {"0x1000", "MSG_DONTWAIT"}, {"0x800", "0"},
        {"0x100", "0"}, {"0x20000", "0"}};
    check_flags("tcp", env, rows, sizeof rows / sizeof rows[0]);
}

Test(flags, openbsd_numbering_at_the_kernel)
{
    const char *env[] = {"SENDSHIM_FLAGS=openbsd", NULL};
    const struct flag_case rows[] = {COMMON_ROWS,     {"0x400", "MSG_NOSIGNAL"},
                                     {"0x1000", "0"}, {"0x800", "0"},
                                     {"0x100", "0"},  {"0x20000", "0"}};
    check_flags("tcp", env, rows, sizeof rows / sizeof rows[0]);
}

Test(flags, bsd_eof_shuts_down_only_where_the_system_has_msg_eof)
{
    const char *styles[] = {"SENDSHIM_FLAGS=freebsd", "SENDSHIM_FLAGS=macos", "SENDSHIM_FLAGS=netbsd",
                            "SENDSHIM_FLAGS=openbsd"};
    for (int i = 0; i < 4; i++) {
        const char *env[] = {styles[i], NULL};
        const char *prog[] = {target_path("flags_send"), "tcp", "0x100", NULL};
        char *out;
        char *log = strace_target(prog, env, &out);
        int shut = strstr(log, "shutdown(") != NULL;
        cr_expect_eq(shut, i < 2, "%s: shutdown %s\n%s", styles[i], shut ? "seen" : "missing", log);
        free(out);
        free(log);
    }
}

Test(flags, bsd_reject_mode_fails_untranslated_bits_before_the_kernel)
{
    const char *env[] = {"SENDSHIM_FLAGS=freebsd", "SENDSHIM_UNKNOWN_FLAGS=reject", NULL};
    const struct flag_case rows[] = {
        {"0x10", NULL}, {"0x20000", "MSG_NOSIGNAL"}, {"0x8000", NULL}, {"0x40", NULL}};
    check_flags("udp", env, rows, sizeof rows / sizeof rows[0]);
}

/* --- SENDSHIM_UNKNOWN_FLAGS on Linux numbering ----------------------------- */

Test(flags, linux_unknown_bits_pass_strip_reject)
{
    const char *pass_env[] = {"SENDSHIM_UNKNOWN_FLAGS=pass", NULL};
    const char *strip_env[] = {"SENDSHIM_UNKNOWN_FLAGS=strip", NULL};
    const char *reject_env[] = {"SENDSHIM_UNKNOWN_FLAGS=reject", NULL};
    const struct flag_case pass[] = {
        {"0x100", "MSG_WAITALL"}, {"0x4020", "MSG_TRUNC|MSG_NOSIGNAL"}, {"0x40", "MSG_DONTWAIT"}};
    const struct flag_case strip[] = {{"0x100", "0"}, {"0x4020", "MSG_NOSIGNAL"}, {"0x40", "MSG_DONTWAIT"}};
    const struct flag_case reject[] = {{"0x100", NULL}, {"0x4020", NULL}, {"0x40", "MSG_DONTWAIT"}};
    check_flags("udp", pass_env, pass, 3);
    check_flags("udp", strip_env, strip, 3);
    check_flags("udp", reject_env, reject, 3);
}

/* --- A BSD-style program ---------------------------------------------------- */

Test(flags, bsd_style_program_works_unchanged_under_the_library)
{
    char *out = target_out("bsd_portable", NULL, NULL, 1);
    cr_expect_str_eq(out, "SO_NOSIGPIPE on\n"
                          "send MSG_EOF 7\n"
                          "server read 7 bytes, then EOF\n"
                          "client read 5 bytes\n"
                          "write after close -1 EPIPE\n"
                          "write after close -1 EPIPE\n"
                          "write after close -1 EPIPE\n"
                          "alive\n");
    free(out);
    /* Without the library: no EOF, and SIGPIPE kills it. */
    struct run_result r;
    const char *argv[] = {target_path("bsd_portable"), NULL};
    run_ok(&r, argv, NULL, 0);
    cr_expect(r.signaled && r.sig == SIGPIPE, "without the library it should die of SIGPIPE: %s", r.out);
    cr_expect(strstr(r.out, "no EOF"), "%s", r.out);
    run_free(&r);
}
