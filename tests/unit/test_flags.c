/* test_flags.c - the pure flag translation of shim/flags/flags.c: every row of
 * SPEC 5's table per style, the unknown-bit modes, the per-socket meaning
 * of MSG_EOF and MSG_CONFIRM, and the bits the front word lets leave as they
 * are. */
#include <criterion/criterion.h>

#include <errno.h>
#include <sys/socket.h>

#include "flags.h"
#include "config.h"
#include "policy.h"

#define NBITS 32

static int xl(enum ss_style style, enum ss_unknown_mode mode, unsigned in, int *out)
{
    *out = -1;
    return ss_flags_translate(style, mode, (int)in, out);
}

/* One row of SPEC 5's BSD table: a BSD value and the Linux flags it becomes
 * (SS_MSG_EOF: the program asked for MSG_EOF). */
struct row {
    const char *meaning;
    unsigned bsd;
    int linux_flags;
};

static void check_rows(enum ss_style style, const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (int mode = SS_UNKNOWN_PASS; mode <= SS_UNKNOWN_REJECT; mode++) {
            int out;
            cr_expect_eq(xl(style, mode, rows[i].bsd, &out), 0, "%s: %s 0x%x refused in mode %d",
                         ss_style_name(style), rows[i].meaning, rows[i].bsd, mode);
            cr_expect_eq(out, rows[i].linux_flags, "%s: %s 0x%x -> 0x%x, want 0x%x", ss_style_name(style),
                         rows[i].meaning, rows[i].bsd, (unsigned)out, (unsigned)rows[i].linux_flags);
        }
    }
    /* All rows at once: the union. */
    unsigned all = 0;
    int want = 0, out;
    for (size_t i = 0; i < n; i++) {
        all |= rows[i].bsd;
        want |= rows[i].linux_flags;
    }
    cr_expect_eq(xl(style, SS_UNKNOWN_REJECT, all, &out), 0);
    cr_expect_eq(out, want, "%s: union 0x%x -> 0x%x, want 0x%x", ss_style_name(style), all, (unsigned)out,
                 (unsigned)want);
    cr_expect_eq(ss_flags_style_known(style), all, "%s: known bits 0x%x, table 0x%x", ss_style_name(style),
                 ss_flags_style_known(style), all);
}

/* Receive-only bits of the table: dropped under pass and strip, EINVAL under
 * reject. */
static void check_dropped(enum ss_style style, const unsigned *bits, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int out;
        cr_expect_eq(xl(style, SS_UNKNOWN_PASS, bits[i], &out), 0);
        cr_expect_eq(out, 0, "%s: 0x%x passed as 0x%x", ss_style_name(style), bits[i], (unsigned)out);
        cr_expect_eq(xl(style, SS_UNKNOWN_STRIP, bits[i], &out), 0);
        cr_expect_eq(out, 0);
        cr_expect_eq(xl(style, SS_UNKNOWN_REJECT, bits[i], &out), EINVAL, "%s: 0x%x not rejected",
                     ss_style_name(style), bits[i]);
        cr_expect_eq(out, -1, "rejected call must leave *out alone");
    }
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The rows every BSD style shares: the same values on all four (README's
 * table). */
static const struct row bsd_shared[] = {
    {"OOB", 0x1, MSG_OOB},
    {"DONTROUTE", 0x4, MSG_DONTROUTE},
    {"EOR", 0x8, MSG_EOR},
    {"DONTWAIT", 0x80, MSG_DONTWAIT},
};

/* One BSD style's whole table: the shared rows and its own, then the bits it
 * drops. */
static void check_bsd_table(enum ss_style style, const struct row *own, size_t n_own, const unsigned *dropped,
                            size_t n_dropped)
{
    struct row rows[COUNT(bsd_shared) + 8];
    size_t n = 0;
    cr_assert_leq(n_own, COUNT(rows) - COUNT(bsd_shared), "%s: more rows than check_bsd_table holds",
                  ss_style_name(style));
    for (size_t i = 0; i < COUNT(bsd_shared); i++)
        rows[n++] = bsd_shared[i];
    for (size_t i = 0; i < n_own; i++)
        rows[n++] = own[i];
    check_rows(style, rows, n);
    check_dropped(style, dropped, n_dropped);
}

Test(flags, freebsd_rows)
{
    static const struct row own[] = {
        {"EOF", 0x100, SS_MSG_EOF},
        {"NOSIGNAL", 0x20000, MSG_NOSIGNAL},
        {"NBIO", 0x4000, MSG_DONTWAIT},
    };
    static const unsigned dropped[] = {0x10, 0x40, 0x40000};
    check_bsd_table(SS_STYLE_FREEBSD, own, COUNT(own), dropped, COUNT(dropped));
}

Test(flags, macos_rows)
{
    static const struct row own[] = {
        {"EOF", 0x100, SS_MSG_EOF},
        {"NOSIGNAL", 0x80000, MSG_NOSIGNAL},
    };
    static const unsigned dropped[] = {0x10, 0x40};
    check_bsd_table(SS_STYLE_MACOS, own, COUNT(own), dropped, COUNT(dropped));
}

Test(flags, netbsd_rows)
{
    static const struct row own[] = {
        {"NOSIGNAL", 0x400, MSG_NOSIGNAL},
        {"NBIO", 0x1000, MSG_DONTWAIT},
    };
    /* No MSG_EOF on NetBSD: 0x100 is MSG_BCAST there (receive-only). */
    static const unsigned dropped[] = {0x10, 0x40, 0x800, 0x100};
    check_bsd_table(SS_STYLE_NETBSD, own, COUNT(own), dropped, COUNT(dropped));
}

Test(flags, openbsd_rows)
{
    static const struct row own[] = {
        {"NOSIGNAL", 0x400, MSG_NOSIGNAL},
    };
    /* OpenBSD has neither MSG_EOF nor MSG_NBIO. */
    static const unsigned dropped[] = {0x10, 0x40, 0x800, 0x100, 0x1000};
    check_bsd_table(SS_STYLE_OPENBSD, own, COUNT(own), dropped, COUNT(dropped));
}

/* No raw BSD value ever reaches the kernel: every single bit of every BSD
 * style becomes 0 or exactly the translated value, and the two most
 * dangerous raw values (0x10 = Linux MSG_PROBE, 0x8000 = MSG_MORE) never
 * appear unless the style's table maps to them (none does). */
Test(flags, bsd_styles_never_pass_raw_bits)
{
    const enum ss_style styles[] = {SS_STYLE_FREEBSD, SS_STYLE_NETBSD, SS_STYLE_OPENBSD, SS_STYLE_MACOS};
    const int allowed = MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_DONTWAIT | SS_MSG_EOF | MSG_NOSIGNAL;
    for (size_t s = 0; s < sizeof styles / sizeof styles[0]; s++) {
        unsigned known = ss_flags_style_known(styles[s]);
        for (int b = 0; b < NBITS; b++) {
            unsigned bit = 1u << b;
            int out;
            for (int mode = SS_UNKNOWN_PASS; mode <= SS_UNKNOWN_STRIP; mode++) {
                cr_assert_eq(xl(styles[s], mode, bit, &out), 0);
                cr_expect_eq(out & ~allowed, 0, "%s bit 0x%x -> 0x%x", ss_style_name(styles[s]), bit,
                             (unsigned)out);
                cr_expect_eq(out != 0, (known & bit) != 0, "%s bit 0x%x -> 0x%x", ss_style_name(styles[s]),
                             bit, (unsigned)out);
            }
            int r = xl(styles[s], SS_UNKNOWN_REJECT, bit, &out);
            cr_expect_eq(r, (known & bit) ? 0 : EINVAL, "%s reject bit 0x%x -> %d", ss_style_name(styles[s]),
                         bit, r);
        }
        /* A translated bit next to an untranslated one: dropped, or EINVAL. */
        int out;
        cr_expect_eq(xl(styles[s], SS_UNKNOWN_PASS, 0x1 | 0x10, &out), 0);
        cr_expect_eq(out, MSG_OOB);
        cr_expect_eq(xl(styles[s], SS_UNKNOWN_REJECT, 0x1 | 0x10, &out), EINVAL);
    }
}

/* The Linux set of bits with no meaning for send, decided from the kernel
 * (see flags.h): exactly these 20 bits. */
Test(flags, linux_no_send_meaning_set_is_exact)
{
    const unsigned expected = 0x2 | 0x8 | 0x20 | 0x100 | 0x400 | 0x1000 | 0x2000 | 0x10000 | 0x20000 |
                              0x80000 | 0x100000 | 0x200000 | 0x400000 | 0x800000 | 0x1000000 | 0x2000000 |
                              0x8000000 | 0x10000000 | 0x40000000 | 0x80000000u;
    cr_expect_eq((unsigned)SS_FLAGS_NO_SEND_MEANING, expected, "set 0x%x, want 0x%x",
                 (unsigned)SS_FLAGS_NO_SEND_MEANING, expected);
    /* The named receive-only flags are in it; the send flags are not. */
    const unsigned recv_only[] = {MSG_PEEK,       MSG_CTRUNC,       MSG_TRUNC, MSG_WAITALL, MSG_ERRQUEUE,
                                  MSG_WAITFORONE, MSG_CMSG_CLOEXEC, MSG_SYN,   MSG_RST,     0x80000000u};
    for (size_t i = 0; i < sizeof recv_only / sizeof recv_only[0]; i++)
        cr_expect(SS_FLAGS_NO_SEND_MEANING & recv_only[i], "0x%x missing", recv_only[i]);
    const unsigned send_flags[] = {MSG_OOB,  MSG_DONTROUTE, MSG_PROXY,    MSG_DONTWAIT,
                                   MSG_EOR,  MSG_FIN,       MSG_CONFIRM,  MSG_NOSIGNAL,
                                   MSG_MORE, MSG_BATCH,     MSG_ZEROCOPY, MSG_FASTOPEN};
    for (size_t i = 0; i < sizeof send_flags / sizeof send_flags[0]; i++)
        cr_expect(!(SS_FLAGS_NO_SEND_MEANING & send_flags[i]), "send flag 0x%x counted unknown",
                  send_flags[i]);
}

Test(flags, linux_unknown_modes)
{
    int out;
    const int meaningful = MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE | SS_MSG_EOF | MSG_CONFIRM;
    for (int b = 0; b < NBITS; b++) {
        unsigned bit = 1u << b;
        int unknown = (SS_FLAGS_NO_SEND_MEANING & bit) != 0;
        unsigned in = bit | (unsigned)meaningful;
        cr_expect_eq(xl(SS_STYLE_LINUX, SS_UNKNOWN_PASS, in, &out), 0);
        cr_expect_eq((unsigned)out, in, "pass changed 0x%x to 0x%x", in, (unsigned)out);
        cr_expect_eq(xl(SS_STYLE_LINUX, SS_UNKNOWN_STRIP, in, &out), 0);
        cr_expect_eq((unsigned)out, unknown ? (unsigned)meaningful : in, "strip 0x%x -> 0x%x", in,
                     (unsigned)out);
        int r = xl(SS_STYLE_LINUX, SS_UNKNOWN_REJECT, in, &out);
        cr_expect_eq(r, unknown ? EINVAL : 0, "reject 0x%x -> %d", in, r);
        if (!unknown)
            cr_expect_eq((unsigned)out, in);
    }
    cr_expect_eq(xl(SS_STYLE_LINUX, SS_UNKNOWN_REJECT, 0, &out), 0);
    cr_expect_eq(out, 0);
}

Test(flags, eof_only_on_inet_streams)
{
    int eof;
    const int fams[] = {AF_INET, AF_INET6, AF_UNIX, AF_NETLINK, AF_PACKET, 0};
    const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, 0};
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            int inet = fams[f] == AF_INET || fams[f] == AF_INET6;
            int out = ss_flags_for_socket(SS_MSG_EOF | MSG_DONTWAIT, fams[f], types[t], &eof);
            cr_expect_eq(out, MSG_DONTWAIT, "EOF bit must never reach the kernel (fam %d type %d)", fams[f],
                         types[t]);
            cr_expect_eq(eof, inet && types[t] == SOCK_STREAM, "fam %d type %d eof %d", fams[f], types[t],
                         eof);
            out = ss_flags_for_socket(MSG_DONTWAIT, fams[f], types[t], &eof);
            cr_expect_eq(eof, 0);
            cr_expect_eq(out, MSG_DONTWAIT);
        }
    }
}

Test(flags, confirm_only_on_inet_datagrams)
{
    int eof;
    const int fams[] = {AF_INET, AF_INET6, AF_UNIX, AF_PACKET, 0};
    const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, 0};
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            int keep = (fams[f] == AF_INET || fams[f] == AF_INET6) &&
                       (types[t] == SOCK_DGRAM || types[t] == SOCK_RAW);
            int out = ss_flags_for_socket(MSG_CONFIRM | MSG_NOSIGNAL, fams[f], types[t], &eof);
            cr_expect_eq(out, MSG_NOSIGNAL | (keep ? MSG_CONFIRM : 0), "fam %d type %d -> 0x%x", fams[f],
                         types[t], (unsigned)out);
            cr_expect_eq(eof, 0);
        }
    }
}

/* The whole path for a BSD program's MSG_EOF: FreeBSD 0x100 on TCP becomes a
 * shutdown request and never the raw bit (which is Linux MSG_WAITALL). */
Test(flags, freebsd_eof_end_to_end)
{
    int out, eof;
    cr_assert_eq(ss_flags_translate(SS_STYLE_FREEBSD, SS_UNKNOWN_PASS, 0x100 | 0x20000, &out), 0);
    out = ss_flags_for_socket(out, AF_INET, SOCK_STREAM, &eof);
    cr_expect_eq(out, MSG_NOSIGNAL);
    cr_expect_eq(eof, 1);
}

/* The front word (shim/core/policy.h) lets a call leave with its flags
 * unchanged only when every bit of them is one translation leaves alone:
 * exactly the bits whose translation is themselves, never MSG_EOF or
 * MSG_CONFIRM. Checked against ss_flags_translate bit by bit, and at the
 * values that matter. */
static int same_flags_for(enum ss_style style, enum ss_unknown_mode mode)
{
    struct ss_config cfg = {0};
    cfg.style = style;
    cfg.unknown = mode;
    return ss_policy_same_flags(&cfg);
}

Test(flags, front_word_passes_only_bits_translation_leaves_alone)
{
    const enum ss_style styles[] = {SS_STYLE_LINUX, SS_STYLE_FREEBSD, SS_STYLE_NETBSD, SS_STYLE_OPENBSD,
                                    SS_STYLE_MACOS};
    const enum ss_unknown_mode modes[] = {SS_UNKNOWN_PASS, SS_UNKNOWN_STRIP, SS_UNKNOWN_REJECT};
    for (size_t s = 0; s < sizeof styles / sizeof styles[0]; s++)
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            unsigned same = (unsigned)same_flags_for(styles[s], modes[m]);
            for (unsigned b = 0; b < NBITS; b++) {
                int out, err = xl(styles[s], modes[m], 1u << b, &out);
                int unchanged = !err && (unsigned)out == 1u << b && !(out & (SS_MSG_EOF | MSG_CONFIRM));
                cr_assert_eq(!!(same & (1u << b)), unchanged, "style %d mode %d bit 0x%x", styles[s],
                             modes[m], 1u << b);
            }
        }
    unsigned lin = (unsigned)same_flags_for(SS_STYLE_LINUX, SS_UNKNOWN_PASS);
    cr_assert_eq(lin & (MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE), MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE);
    cr_assert_eq(lin & (SS_MSG_EOF | MSG_CONFIRM), 0, "MSG_EOF and MSG_CONFIRM need the socket");
    cr_assert(lin & MSG_PEEK, "passed as it is under pass");
    cr_assert(!((unsigned)same_flags_for(SS_STYLE_LINUX, SS_UNKNOWN_STRIP) & MSG_PEEK), "stripped");
    cr_assert(!((unsigned)same_flags_for(SS_STYLE_LINUX, SS_UNKNOWN_REJECT) & MSG_PEEK), "rejected");
    unsigned fbsd = (unsigned)same_flags_for(SS_STYLE_FREEBSD, SS_UNKNOWN_PASS);
    cr_assert_eq(fbsd & (0x1 | 0x4), 0x1 | 0x4, "MSG_OOB and MSG_DONTROUTE are the same bits");
    cr_assert_eq(fbsd & (0x80 | 0x20000 | 0x100), 0, "FreeBSD's MSG_DONTWAIT, MSG_NOSIGNAL, MSG_EOF");
}
