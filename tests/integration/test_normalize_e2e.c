/* test_normalize_e2e.c - normalization and BSD control-message translation
 * end to end (issue 4): cmsgprog sends a shaped message on a real socket with
 * the library preloaded, and prints what the receiver got. Each case also runs
 * without the library, to show that the kernel alone would not deliver it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

struct norm_case {
    const char *name;
    const char *style;   /* SENDSHIM_FLAGS */
    const char *with;    /* exact stdout with the library */
    const char *without; /* a line stdout has without it */
    const char *diag;    /* a diagnostic expected on stderr, or NULL for none */
};

static const struct norm_case cases[] = {
    {"bsd-rights-16", "freebsd",
     "sendmsg 4\nreceived 4 bytes: data\n  SCM_RIGHTS 1 fds, first reads 16 'through the pipe'\n",
     "sendmsg -1 EINVAL", NULL},
    {"bsd-rights-12", "macos",
     "sendmsg 4\nreceived 4 bytes: data\n  SCM_RIGHTS 1 fds, first reads 16 'through the pipe'\n",
     "sendmsg -1 EINVAL", NULL},
    {"bsd-creds", "freebsd",
     "sendmsg 4\nreceived 4 bytes: data\n  SCM_CREDENTIALS pid ours uid ours gid ours\n", "sendmsg -1 EINVAL",
     NULL},
    {"hdr-creds", "linux",
     "sendmsg 4\nreceived 4 bytes: data\n  SCM_CREDENTIALS pid ours uid ours gid ours\n", "sendmsg -1 EINVAL",
     NULL},
    {"bsd-srcaddr", "freebsd", "sendmsg 3\nsource 127.0.0.42\n", "source 127.0.0.1", NULL},
    {"hdr-srcaddr", "linux", "sendmsg 3\nsource 127.0.0.42\n", "sendmsg -1 EINVAL", NULL},
    {"upper-iovlen", "linux", "sendmsg 4\nreceived 4 bytes: data\n", "sendmsg -1 EMSGSIZE", NULL},
    {"iov-1100-stream", "linux", "sendmsg 1024\nreceived 1024 bytes\n", "sendmsg -1 EMSGSIZE", NULL},
    {"iov-1100-dgram", "linux", "sendmsg 1100\nreceived 1100 bytes\n", "sendmsg -1 EMSGSIZE", NULL},
    {"misaligned", "linux",
     "sendmsg 4\nreceived 4 bytes: data\n  SCM_RIGHTS 2 fds, first reads 16 'through the pipe'\n",
     "sendmsg -1 EINVAL", NULL},
    {"trailing-zeros", "linux",
     "sendmsg 4\nreceived 4 bytes: data\n  SCM_RIGHTS 1 fds, first reads 16 'through the pipe'\n",
     "sendmsg -1 EINVAL", NULL},
    {"overrun", "linux", "sendmsg -1 EINVAL\nreceived nothing\n", "sendmsg -1 EINVAL",
     "sendmsg(fd=3): message 0: control message 0 has cmsg_len 64, past msg_controllen (24 bytes left)\n"},
    {"fds-254", "linux", "sendmsg -1 EINVAL\nreceived nothing\n", "sendmsg -1 EINVAL",
     "sendmsg(fd=3): message 0: control message 0 brings SCM_RIGHTS to 254 descriptors, above SCM_MAX_FD "
     "(253)\n"},
    {"mmsg-bad-second", "linux",
     "sendmmsg 1\nmsg_len 2 dead dead\nreceived 2 bytes: m0\nreceived nothing\nreceived nothing\n",
     "sendmmsg 1",
     "sendmmsg(fd=3): message 1: control message 0 has cmsg_len 15, below the 16-byte header (24 bytes "
     "left)\n"},
    {"mmsg-bsd-second", "freebsd",
     "sendmmsg 3\nmsg_len 2 2 2\nreceived 2 bytes: m0\nreceived 2 bytes: m1\n  SCM_RIGHTS 1 fds, first reads "
     "16 'through "
     "the pipe'\nreceived 2 bytes: m2\n",
     "sendmmsg 1", NULL},
    /* The first message gathered into a mapping of its own: the batch is
     * still the program's 3 messages (it once became 4, the fourth read
     * from the library's scratch). */
    {"mmsg-iov-1100-first", "linux",
     "sendmmsg 3\nmsg_len 44c 2 2\nreceived 1100 bytes\nreceived 2 bytes: m1\nreceived 2 bytes: m2\nreceived "
     "nothing\n",
     "sendmmsg -1 EMSGSIZE", NULL},
    /* The kernel alone sends message 0 too; the library says why it stopped. */
    {"mmsg-null-iov-second", "linux",
     "sendmmsg 1\nmsg_len 2 dead dead\nreceived 2 bytes: m0\nreceived nothing\nreceived nothing\n",
     "sendmmsg 1", "sendmmsg(fd=3): message 1: msg_iov is NULL with msg_iovlen 1\n"},
};

Test(normalize_e2e, every_case_with_and_without_the_library)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct norm_case *c = &cases[i];
        char style[64];
        snprintf(style, sizeof style, "SENDSHIM_FLAGS=%s", c->style);
        const char *argv[] = {target_path("cmsgprog"), c->name, NULL};
        const char *env[] = {style, NULL};
        struct run_result with, without;
        cr_assert_eq(run(&with, argv, env, 1, NULL, 20), 0);
        cr_assert_eq(run(&without, argv, NULL, 0, NULL, 20), 0);
        cr_expect_eq(with.status, 0, "%s: %s", c->name, with.err);
        cr_expect_str_eq(with.out, c->with, "%s with the library:\n%s", c->name, with.out);
        cr_expect(strstr(without.out, c->without), "%s without the library:\n%s", c->name, without.out);
        if (c->diag) {
            cr_expect(strncmp(with.err, "sendshim[", 9) == 0 && strstr(with.err, c->diag), "%s: stderr %s",
                      c->name, with.err);
            cr_expect_eq(count_lines(with.err, "sendshim["), 1, "%s: %s", c->name, with.err);
        } else {
            cr_expect_str_empty(with.err, "%s: stderr %s", c->name, with.err);
        }
        run_free(&with);
        run_free(&without);
    }
}

/* A batch whose second message needs a rewritten copy still leaves as one
 * sendmmsg system call. */
Test(normalize_e2e, rewritten_batch_is_still_one_sendmmsg)
{
    if (!have_program("strace"))
        cr_skip_test("strace is not installed");
    const char *argv[] = {target_path("cmsgprog"), "mmsg-bsd-second", NULL};
    const char *env[] = {"SENDSHIM_FLAGS=freebsd", NULL};
    struct run_result r;
    char *text;
    cr_assert_eq(run_strace(&r, "sendmmsg,sendmsg,sendto", argv, env, 1, 20, &text), 0);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(count_lines(text, "sendmmsg("), 1, "%s", text);
    cr_expect_eq(count_lines(text, "sendmsg("), 0, "%s", text);
    cr_expect(strstr(text, "], 3, 0) = 3"), "%s", text);
    run_free(&r);
    free(text);
}

/* Issue 13: after normalization every later step sees the normalized header.
 * upper-ctl's msg_controllen and cmsg_len carry garbage in their upper 32
 * bits; the library masks them and sends (the kernel alone: ENOBUFS). The
 * trace formatter, the statistics and a fault's log line used to get the
 * program's header back and walk its control messages with the garbage
 * (SIGSEGV under SENDSHIM_TRACE=1). */
Test(normalize_e2e, later_steps_see_the_normalized_header)
{
    const char *settings[][3] = {
        {"SENDSHIM_TRACE=1", NULL, NULL},
        {"SENDSHIM_STATS=1", NULL, NULL},
        {"SENDSHIM_TRACE=1", "SENDSHIM_STATS=1", "SENDSHIM_FAULTS=sendmsg:delay=1ms"},
    };
    const char *argv[] = {target_path("cmsgprog"), "upper-ctl", NULL};
    struct run_result without;
    cr_assert_eq(run(&without, argv, NULL, 0, NULL, 20), 0);
    cr_expect_str_eq(without.out, "sendmsg -1 ENOBUFS\nreceived nothing\n", "%s", without.out);
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const char *env[] = {settings[i][0], settings[i][1], settings[i][2], NULL};
        struct run_result r;
        cr_assert_eq(run(&r, argv, env, 1, NULL, 20), 0);
        cr_expect_eq(r.status, 0, "%s: status %d, stderr %s", settings[i][0], r.status, r.err);
        cr_expect_str_eq(
            r.out,
            "sendmsg 4\nreceived 4 bytes: data\n  SCM_RIGHTS 1 fds, first reads 16 'through the pipe'\n",
            "%s: %s", settings[i][0], r.out);
        if (!strcmp(settings[i][0], "SENDSHIM_TRACE=1"))
            cr_expect(strstr(r.err, "trace: sendmsg(fd=3, 1 iov, 4 bytes, cmsg=SCM_RIGHTS, flags=0) = 4\n"),
                      "%s", r.err);
        run_free(&r);
    }
    run_free(&without);
}

/* README "What costs nothing": SENDSHIM_STATS=1 counts a message the
 * kernel repairs (here zero-length iovecs) as normalized once the kernel
 * accepted it, also when a p= rule was drawn for the call and did not fire
 * (the fault stage's early exit must not skip the count). */
Test(normalize_e2e, stats_count_kernel_repairs_when_a_drawn_rule_does_not_fire)
{
    const char *argv[] = {target_path("cmsgprog"), "empty-iov", NULL};
    const char *env[] = {"SENDSHIM_STATS=1", "SENDSHIM_FAULTS=*:p=0.000001:error=ENOBUFS", "SENDSHIM_SEED=1",
                         NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, env, 1, NULL, 20), 0);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "sendmsg 4\nreceived 4 bytes: abcd\n");
    cr_expect(strstr(r.err, "stats: flags_rewritten=0 normalized=1 faults=0\n"), "%s", r.err);
    cr_expect(strstr(r.err, "matched=1 fired=0\n"), "%s", r.err);
    run_free(&r);
}

/* The same on the descriptor step's forward (path.h), where a call no rule
 * may fire on goes to libc from its wrapper: statistics alone, and with a
 * rule not yet due. */
Test(normalize_e2e, stats_count_kernel_repairs_of_a_message_the_step_forwards)
{
    const char *argv[] = {target_path("cmsgprog"), "empty-iov", NULL};
    const char *rules[] = {NULL, "SENDSHIM_FAULTS=*:when=99:error=ENOBUFS"};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const char *env[] = {"SENDSHIM_STATS=1", rules[i], NULL};
        struct run_result r;
        cr_assert_eq(run(&r, argv, env, 1, NULL, 20), 0);
        cr_expect_eq(r.status, 0, "%s", r.err);
        cr_expect_str_eq(r.out, "sendmsg 4\nreceived 4 bytes: abcd\n");
        cr_expect(strstr(r.err, "stats: flags_rewritten=0 normalized=1 faults=0\n"), "%s: %s",
                  rules[i] ? rules[i] : "no rules", r.err);
        run_free(&r);
    }
}

/* Issue 13: fewer bytes than a header after the aligned end of the last
 * control message are ignored by the kernel (__cmsg_nxthdr stops); read at
 * the unaligned offset they used to become a control message of their own.
 * The kernel alone is the oracle: the datagram leaves with the default TTL
 * (not the crafted IP_TTL 1), and the 19-byte IP_TTL the repack made (EINVAL)
 * is never seen. */
Test(normalize_e2e, junk_the_kernel_ignores_is_never_a_control_message)
{
    const char *names[] = {"junk-ttl", "junk-einval"};
    const char *settings[] = {NULL, "SENDSHIM_FLAGS=linux", "SENDSHIM_TRACE=1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *argv[] = {target_path("cmsgprog"), names[i], NULL};
        struct run_result without;
        cr_assert_eq(run(&without, argv, NULL, 0, NULL, 20), 0);
        cr_expect_str_eq(without.out, "sendmsg 3\nttl 64\n", "%s without the library: %s", names[i],
                         without.out);
        for (size_t j = 0; j < sizeof settings / sizeof settings[0]; j++) {
            const char *env[] = {settings[j], NULL};
            struct run_result r;
            cr_assert_eq(run(&r, argv, env, 1, NULL, 20), 0);
            cr_expect_str_eq(r.out, without.out, "%s (%s): %s", names[i], env[0] ? env[0] : "nothing set",
                             r.out);
            cr_expect_eq(r.status, 0, "%s: %s", names[i], r.err);
            run_free(&r);
        }
        run_free(&without);
    }
}

/* Issue 13: bad iovec, control, name and vector pointers get the kernel's
 * answer (EFAULT, or EMSGSIZE above 1024 iovecs, which it refuses unread),
 * never a SIGSEGV in the library, with nothing configured and with each
 * step that reads messages on (statistics, trace, a fault rule, drop). badptr runs
 * each case in a child; the kernel alone is the oracle. Two cases are README
 * Limits, as a bad msghdr pointer is: an unreadable control buffer (read
 * unasked, as musl's sendmsg copies it), and a bad sendmmsg vector once
 * anything is configured; they are left out of the comparison. */
static int documented_limit(const char *line, const char *mode)
{
    return !strncmp(line, "ctl-unmapped ", 13) || (mode && !strncmp(line, "mmsg-vec-unmapped ", 18));
}

Test(normalize_e2e, bad_pointers_get_the_kernels_answer)
{
    const char *modes[] = {NULL, "SENDSHIM_STATS=1", "SENDSHIM_TRACE=1", "SENDSHIM_FAULTS=*:delay=1us",
                           "SENDSHIM_FAULTS=*:drop"};
    const char *argv[] = {target_path("badptr"), NULL};
    struct run_result kernel;
    cr_assert_eq(run(&kernel, argv, NULL, 0, NULL, 60), 0);
    cr_assert_eq(kernel.status, 0, "%s", kernel.err);
    cr_expect_eq(count_lines(kernel.out, "signal"), 0, "%s", kernel.out);
    cr_expect_eq(count_lines(kernel.out, " -1 E"), 12, "%s", kernel.out);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        const char *env[] = {modes[i], NULL};
        struct run_result r;
        cr_assert_eq(run(&r, argv, env, 1, NULL, 60), 0);
        const char *mode = modes[i] ? modes[i] : "nothing configured";
        cr_expect_eq(r.status, 0, "%s: %s", mode, r.err);
        int compared = 0;
        for (const char *k = kernel.out; *k;) {
            const char *nl = strchr(k, '\n');
            size_t n = nl ? (size_t)(nl - k + 1) : strlen(k);
            char want[128];
            snprintf(want, sizeof want, "%.*s", (int)n, k);
            if (!documented_limit(want, modes[i])) {
                cr_expect(strstr(r.out, want), "%s: want %s got\n%s", mode, want, r.out);
                compared++;
            }
            k += n;
        }
        cr_expect_geq(compared, 10, "%s", mode);
        run_free(&r);
    }
    run_free(&kernel);
}

/* FreeBSD code sizes SCM_CREDS with struct cmsgcred, which sendshim.h now
 * provides (bsd_cmsgcred compiling with that header alone is the first
 * check): FreeBSD's layout, and the 84-byte payload still becomes the
 * sender's credentials (the kernel alone refuses the message). */
Test(normalize_e2e, scm_creds_sized_with_struct_cmsgcred)
{
    const char *argv[] = {target_path("bsd_cmsgcred"), NULL};
    static const char layout[] = "sizeof 84 offsets 0 4 8 12 16 20\n";
    struct run_result r;
    cr_assert_eq(run(&r, argv, NULL, 1, NULL, 20), 0);
    cr_expect(r.exited && r.status == 0, "status %d: %s", r.status, r.err);
    cr_expect_str_eq(r.out, "sizeof 84 offsets 0 4 8 12 16 20\nsendmsg 4\nreceived 4 bytes\n"
                            "  SCM_CREDENTIALS pid ours uid ours gid ours\n");
    run_free(&r);
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, 20), 0);
    cr_expect(!strncmp(r.out, layout, sizeof layout - 1) && strstr(r.out, "sendmsg -1 EINVAL\n"), "%s",
              r.out);
    run_free(&r);
}

/* A program with its own struct cmsgcred says SENDSHIM_NO_CMSGCRED and the
 * header stays out of its way. */
Test(normalize_e2e, struct_cmsgcred_can_be_left_to_the_program)
{
    if (!have_program("cc"))
        cr_skip_test("cc is not installed");
    char dir[] = "/tmp/sendshim-cmsgcred-XXXXXX";
    cr_assert(mkdtemp(dir));
    char src[128], cmd[1024];
    snprintf(src, sizeof src, "%s/own.c", dir);
    FILE *f = fopen(src, "w");
    cr_assert_not_null(f);
    fputs("#define SENDSHIM_NO_CMSGCRED\n"
          "#include \"sendshim.h\"\n"
          "struct cmsgcred { int mine; };\n"
          "int main(void) { struct cmsgcred c = {0}; return c.mine; }\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -std=c99 -Wall -Werror -I'%s/shim' -o '%s/own' '%s' -ldl && '%s/own'",
             top_dir(), dir, src, dir);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, 60), 0);
    cr_expect(r.exited && r.status == 0, "%s", r.err);
    run_free(&r);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* README's Limits, checked on this kernel: a 0-byte sendmsg on a unix stream
 * socket carrying SCM_RIGHTS returns 0 and delivers nothing (BSD delivers the
 * descriptor), and credentials reach only a receiver with SO_PASSCRED. The
 * same with and without the library. */
Test(normalize_e2e, limits_empty_stream_rights_and_creds_without_passcred)
{
    static const char *const limit_cases[][2] = {
        {"rights-empty", "sendmsg 0\nstream recvmsg -1 EAGAIN\n"},
        {"creds-nopass", "sendmsg 4\nno-passcred recvmsg 4 rights 0 creds 0\nsendmsg 4\npasscred recvmsg 4 "
                         "rights 0 creds 1\n"}};
    for (size_t i = 0; i < sizeof limit_cases / sizeof limit_cases[0]; i++)
        for (int preload = 0; preload < 2; preload++) {
            const char *argv[] = {target_path("cmsg_limits"), limit_cases[i][0], NULL};
            const char *env[] = {"SENDSHIM_FLAGS=freebsd", NULL};
            struct run_result r;
            cr_assert_eq(run(&r, argv, preload ? env : NULL, preload, NULL, 20), 0);
            cr_expect(r.exited && r.status == 0, "%s: %s", limit_cases[i][0], r.err);
            cr_expect_str_eq(r.out, limit_cases[i][1], "%s (library %d)", limit_cases[i][0], preload);
            run_free(&r);
        }
}
