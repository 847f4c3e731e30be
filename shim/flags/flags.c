/* flags.c - flag translation tables (SPEC section 5). Pure.
 *
 * The BSD values come from each system's own header: FreeBSD sys/sys/socket.h,
 * NetBSD sys/sys/socket.h, OpenBSD sys/sys/socket.h, XNU bsd/sys/socket.h.
 * Bits of those headers that are not in a table below (receive-only flags such
 * as MSG_PEEK 0x2, MSG_TRUNC 0x10, MSG_CTRUNC 0x20, MSG_WAITALL 0x40,
 * MSG_CMSG_CLOEXEC, MSG_WAITFORONE; FreeBSD MSG_NOTIFICATION 0x2000 and
 * MSG_COMPAT 0x8000; NetBSD/OpenBSD MSG_BCAST 0x100 and MSG_MCAST 0x200; macOS
 * MSG_FLUSH 0x400, MSG_HOLD 0x800, MSG_SEND 0x1000, MSG_HAVEMORE 0x2000,
 * MSG_RCVMORE 0x4000, MSG_NEEDSA 0x10000; unused bits) have no Linux
 * translation: dropped, or EINVAL under SENDSHIM_UNKNOWN_FLAGS=reject. They
 * must never reach Linux raw: 0x10 is MSG_PROBE there (a datagram reported
 * sent but never sent), 0x8000 is MSG_MORE (data corked).
 */
#include "flags.h"

#include <errno.h>

struct xlate {
    unsigned bsd;
    unsigned linux_bits;
};

#define XLATE_MAX 8 /* translated bits per style */

/* The rows of SPEC 5's table. Linux values: MSG_OOB 0x1, MSG_DONTROUTE 0x4,
 * MSG_DONTWAIT 0x40, MSG_EOR 0x80, MSG_NOSIGNAL 0x4000; EOF is SS_MSG_EOF. */
static const struct xlate table[][XLATE_MAX] = {
    [SS_STYLE_LINUX] = {{0, 0}},
    [SS_STYLE_FREEBSD] =
        {
            {0x1, MSG_OOB},
            {0x4, MSG_DONTROUTE},
            {0x8, MSG_EOR},
            {0x80, MSG_DONTWAIT},
            {0x100, SS_MSG_EOF},
            {0x20000, MSG_NOSIGNAL},
            {0x4000, MSG_DONTWAIT}, /* MSG_NBIO */
        },
    [SS_STYLE_NETBSD] =
        {
            {0x1, MSG_OOB},
            {0x4, MSG_DONTROUTE},
            {0x8, MSG_EOR},
            {0x80, MSG_DONTWAIT},
            {0x400, MSG_NOSIGNAL},
            {0x1000, MSG_DONTWAIT}, /* MSG_NBIO */
        },
    [SS_STYLE_OPENBSD] =
        {
            {0x1, MSG_OOB},
            {0x4, MSG_DONTROUTE},
            {0x8, MSG_EOR},
            {0x80, MSG_DONTWAIT},
            {0x400, MSG_NOSIGNAL},
        },
    [SS_STYLE_MACOS] =
        {
            {0x1, MSG_OOB},
            {0x4, MSG_DONTROUTE},
            {0x8, MSG_EOR},
            {0x80, MSG_DONTWAIT},
            {0x100, SS_MSG_EOF},
            {0x80000, MSG_NOSIGNAL},
        },
};

#define NSTYLES  (sizeof table / sizeof table[0])
#define BITS_MAX 32 /* bits of the flags word */

/* The same tables by bit: map[style][b] is what BSD bit b becomes (0: no
 * translation), known[style] the bits that have one. Built on first use, so
 * a call walks only the bits it has set. Every entry is stored once with its
 * final value, so racing builders (threads, signal handlers) store the same
 * values, and a reader that sees `ready` sees the whole table. */
static unsigned map[NSTYLES][BITS_MAX];
static unsigned known[NSTYLES];
static int ready;

static void build_maps(void)
{
    for (unsigned s = 0; s < NSTYLES; s++) {
        unsigned k = 0;
        for (int i = 0; i < XLATE_MAX && table[s][i].bsd; i++) {
            unsigned bit = (unsigned)__builtin_ctz(table[s][i].bsd);
            __atomic_store_n(&map[s][bit], table[s][i].linux_bits, __ATOMIC_RELAXED);
            k |= table[s][i].bsd;
        }
        __atomic_store_n(&known[s], k, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
}

unsigned ss_flags_style_known(enum ss_style style)
{
    if ((unsigned)style >= NSTYLES)
        return 0;
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
        build_maps();
    return known[style];
}

int ss_flags_translate(enum ss_style style, enum ss_unknown_mode mode, int in, int *out)
{
    unsigned bits = (unsigned)in;
    if (style == SS_STYLE_LINUX || (unsigned)style >= NSTYLES) {
        unsigned unknown = bits & (unsigned)SS_FLAGS_NO_SEND_MEANING;
        if (unknown && mode == SS_UNKNOWN_REJECT)
            return EINVAL;
        if (mode == SS_UNKNOWN_STRIP)
            bits &= ~unknown;
        *out = (int)bits;
        return 0;
    }
    /* Whatever has no Linux translation is never passed raw. */
    if ((bits & ~ss_flags_style_known(style)) && mode == SS_UNKNOWN_REJECT)
        return EINVAL;
    unsigned linux_bits = 0;
    for (unsigned rest = bits & known[style]; rest; rest &= rest - 1)
        linux_bits |= map[style][__builtin_ctz(rest)];
    *out = (int)linux_bits;
    return 0;
}

int ss_flags_for_socket(int flags, int family, int type, int *eof)
{
    int inet = family == AF_INET || family == AF_INET6;
    *eof = (flags & SS_MSG_EOF) && inet && type == SOCK_STREAM;
    flags &= ~SS_MSG_EOF;
    /* MSG_CONFIRM only means something to IP datagram paths (it refreshes the
     * neighbour entry); elsewhere it is removed, never an error. */
    if ((flags & MSG_CONFIRM) && !(inet && (type == SOCK_DGRAM || type == SOCK_RAW)))
        flags &= ~MSG_CONFIRM;
    return flags;
}
