/* flags.h - the flags word of the send family (SPEC section 5): BSD numbering
 * translated to Linux, bits with no meaning for send, and the per-socket
 * meaning of MSG_EOF and MSG_CONFIRM. Pure: no system calls, no state;
 * unit-tested without sockets. */
#ifndef SENDSHIM_FLAGS_H
#define SENDSHIM_FLAGS_H

#include <sys/socket.h>

#include "config.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* MSG_EOF is Linux's MSG_FIN bit, which every Linux send path ignores (probe
 * t2: no FIN is sent). After translation this bit means "the program asked for
 * MSG_EOF", whatever the program's numbering. */
#define SS_MSG_EOF 0x200

/* Linux bits that mean something to some send path of the kernel:
 *   MSG_OOB 0x1 (TCP urgent data), MSG_DONTROUTE 0x4, MSG_PROBE 0x10 (IP: probe
 *   the path only, nothing sent), MSG_DONTWAIT 0x40, MSG_EOR 0x80 (TCP, SCTP,
 *   seqpacket), MSG_FIN 0x200 (our MSG_EOF), MSG_CONFIRM 0x800 (neighbour
 *   reachability), MSG_NOSIGNAL 0x4000, MSG_MORE 0x8000, MSG_BATCH 0x40000
 *   (KCM, and what sendmmsg sets itself), MSG_ZEROCOPY 0x4000000,
 *   MSG_FASTOPEN 0x20000000. */
#define SS_FLAGS_SEND_MEANING                                                                                \
    (0x1 | 0x4 | 0x10 | 0x40 | 0x80 | SS_MSG_EOF | 0x800 | 0x4000 | 0x8000 | 0x40000 | 0x4000000 | 0x20000000)

/* Every other bit has no meaning for send (include/linux/socket.h, net/socket.c):
 *   receive-only: MSG_PEEK 0x2, MSG_CTRUNC 0x8, MSG_TRUNC 0x20, MSG_WAITALL
 *     0x100, MSG_ERRQUEUE 0x2000, MSG_WAITFORONE 0x10000, MSG_SOCK_DEVMEM
 *     0x2000000, MSG_CMSG_CLOEXEC 0x40000000;
 *   defined but used by no protocol: MSG_SYN 0x400, MSG_RST 0x1000;
 *   kernel-internal (sendpage/splice plumbing, cleared or ignored on entry):
 *     0x20000 (MSG_SENDPAGE_NOTLAST), 0x80000 (MSG_NO_SHARED_FRAGS), 0x100000
 *     (MSG_SENDPAGE_DECRYPTED), 0x8000000 (MSG_SPLICE_PAGES);
 *   MSG_CMSG_COMPAT 0x80000000: the 32-bit compat marker; sendmsg and
 *     sendmmsg fail with EINVAL when a program sets it (probe t1), send and
 *     sendto ignore it;
 *   unused: 0x200000, 0x400000, 0x800000, 0x1000000, 0x10000000.
 * SENDSHIM_UNKNOWN_FLAGS passes, strips or rejects exactly these. */
#define SS_FLAGS_NO_SEND_MEANING ((int)~(unsigned)SS_FLAGS_SEND_MEANING)

/* Translate a flags word from the program's numbering to Linux's, apply the
 * unknown-bit mode, and store the result in *out (SS_MSG_EOF set when the
 * program asked for MSG_EOF). Linux style: bits with no meaning for send are
 * passed, stripped or rejected. BSD styles: every bit is translated by the
 * style's table (SPEC 5); a bit without a translation is dropped (pass,
 * strip) or rejected (reject), so no raw BSD value reaches the kernel.
 * Returns 0, or EINVAL under reject (then *out is untouched). */
int ss_flags_translate(enum ss_style style, enum ss_unknown_mode mode, int in, int *out);

/* The BSD bits of a style that have a Linux translation (0 for linux). */
unsigned ss_flags_style_known(enum ss_style style);

/* Give MSG_EOF and MSG_CONFIRM their meaning on a socket of this family and
 * type (0, 0 when it is unknown or not a socket). Returns the flags for the
 * kernel: SS_MSG_EOF always removed, MSG_CONFIRM kept only on AF_INET/AF_INET6
 * SOCK_DGRAM/SOCK_RAW. *eof becomes 1 when the write side must be shut down
 * after a complete send (AF_INET/AF_INET6 SOCK_STREAM), else 0. */
int ss_flags_for_socket(int flags, int family, int type, int *eof);

#pragma GCC visibility pop

#endif
