/* norm_internal.h - pieces shared by normalize.c, norm_cmsg.c and cmsg_bsd.c. */
#ifndef SENDSHIM_NORM_INTERNAL_H
#define SENDSHIM_NORM_INTERNAL_H

#include <stddef.h>

#include "fmt.h"
#include "normalize.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* BSD SOL_SOCKET (FreeBSD, NetBSD, OpenBSD and XNU sys/socket.h). */
#define SS_BSD_SOL_SOCKET 0xffff

/* How a translated control message's payload is rewritten. */
enum ss_xl_kind {
    SS_XL_COPY,         /* payload unchanged, only level/type change */
    SS_XL_CREDS,        /* any payload -> struct ucred {pid, uid, gid} */
    SS_XL_SRCADDR,      /* struct in_addr -> struct in_pktinfo {0, spec_dst = addr, 0} */
    SS_XL_PKTINFO_NBSD, /* NetBSD {in_addr addr; unsigned ifindex} -> struct in_pktinfo */
};

struct ss_cmsg_xl {
    unsigned styles; /* 1u << ss_style where the source values apply */
    int level, type; /* source values */
    int to_level, to_type;
    enum ss_xl_kind kind;
    const char *name;
};

/* Layout of a BSD style's control messages: a 12-byte header
 * {u32 len; int level; int type}, data at data_off, next header aligned to
 * align. Linux: 16-byte header {size_t len; int level; int type}, align 8. */
struct ss_cmsg_layout {
    unsigned data_off;
    unsigned align;
};

/* Translation of a BSD-layout message of that style, or NULL. */
const struct ss_cmsg_xl *ss_cmsg_bsd_find(enum ss_style style, int level, int type);
/* Translation of sendshim.h's private values (SCM_CREDS, IP_SENDSRCADDR), or NULL. */
const struct ss_cmsg_xl *ss_cmsg_private_find(int level, int type);
/* Levels whose types the BSD table must know (others keep their numbers). */
int ss_cmsg_bsd_strict_level(int level);
void ss_cmsg_bsd_layout(enum ss_style style, struct ss_cmsg_layout *l);
/* Bytes of the Linux payload written for a translation of an n-byte payload,
 * or 0 when n is too short for the source type; *min receives the minimum. */
size_t ss_cmsg_xl_out_len(const struct ss_cmsg_xl *xl, size_t n, size_t *min);
/* Write the Linux payload (ss_cmsg_xl_out_len bytes). */
void ss_cmsg_xl_write(const struct ss_cmsg_xl *xl, const unsigned char *in, size_t n,
                      const struct ss_creds *cr, unsigned char *out);

/* Plan for a control buffer (norm_cmsg.c). */
struct ss_ctl_plan {
    const unsigned char *base;
    size_t len;      /* controllen after masking */
    int bsd;         /* the buffer is read in the BSD layout of ctx->style */
    int copy;        /* a rewritten Linux-layout buffer is needed */
    int creds;       /* an SCM_CREDS is present */
    size_t keep_len; /* controllen to forward when not copying (after trimming) */
    size_t out_len;  /* bytes of the rewritten buffer when copying */
    unsigned applied;
};

/* 0, or an errno with the diagnostic written. */
int ss_ctl_plan(const struct ss_norm_ctx *ctx, const void *ctl, size_t len, struct ss_ctl_plan *p);
/* Write the Linux-layout buffer (p->out_len bytes, never more than cap) into
 * out (8-aligned); returns the bytes written. */
size_t ss_ctl_emit(const struct ss_norm_ctx *ctx, const struct ss_ctl_plan *p, const struct ss_creds *cr,
                   unsigned char *out, size_t cap);

/* Start the diagnostic line ("message K: "); 0 when there is no buffer. */
int ss_norm_diag_begin(const struct ss_norm_ctx *ctx, struct ss_buf *b);

#pragma GCC visibility pop

#endif
