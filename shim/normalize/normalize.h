/* normalize.h - SPEC section 7: the pure msghdr and control-message normalizer.
 *
 * Pure: no system calls, no allocation, no locks, no stdio. It reads the
 * caller's msghdr, iovec array and control buffer, and writes only into the
 * caller's scratch (stack, ~5 KiB), the optional extra buffer and the
 * diagnostic buffer. Async-signal-safe.
 *
 * Usage (one message):
 *     struct ss_norm_scratch s;
 *     struct ss_norm_result r;
 *     switch (ss_normalize(msg, &ctx, &s, NULL, 0, &r)) {
 *     case SS_NORM_UNCHANGED: forward msg as is (the fast path)
 *     case SS_NORM_REWRITTEN: forward r.msg (points into s and the user's buffers)
 *     case SS_NORM_NEED_BUF:  obtain r.need bytes (mmap), call again with them
 *     case SS_NORM_ERROR:     fail with r.err; ctx.diag holds the reason
 *     }
 * NEED_BUF is rare: more than SS_NORM_IOV_COPY iovecs to compact, a datagram
 * of more than SS_IOV_MAX iovecs to gather, or a control buffer to rewrite
 * whose Linux form exceeds SS_NORM_CTL_COPY. Errors are always reported before
 * NEED_BUF, so an invalid message never costs an mmap. The second call
 * re-reads everything (another thread may have changed it); it may answer
 * NEED_BUF again with a larger size.
 *
 * sendmmsg: see ss_normalize_batch below.
 */
#ifndef SENDSHIM_NORMALIZE_H
#define SENDSHIM_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

#define SS_IOV_MAX         1024   /* kernel UIO_MAXIOV: more iovecs is EMSGSIZE */
#define SS_SCM_MAX_FD      253    /* kernel SCM_MAX_FD (include/net/scm.h) */
#define SS_MMSG_VLEN_MAX   1024   /* sendmmsg caps vlen at UIO_MAXIOV */
#define SS_NORM_CTL_COPY   4096   /* bounded control copy held in the scratch */
#define SS_NORM_IOV_COPY   64     /* bounded iovec copy held in the scratch */
#define SS_NORM_GATHER_MAX 65536  /* largest datagram gathered from > SS_IOV_MAX iovecs */
#define SS_NORM_CTL_LIMIT  131072 /* default ctl_limit: net.core.optmem_max on current kernels */
#define SS_NORM_DIAG_MAX   192    /* a diagnostic buffer of this size never truncates */

/* Flag numbering and control-message layout of the program (SENDSHIM_FLAGS). */
enum ss_style {
    SS_STYLE_LINUX,
    SS_STYLE_FREEBSD,
    SS_STYLE_NETBSD,
    SS_STYLE_OPENBSD,
    SS_STYLE_MACOS,
    SS_NSTYLES
};

/* Stream sockets may be cut short; anything else keeps record boundaries.
 * UNKNOWN is treated as a datagram socket (never split a message). */
enum ss_sock_kind { SS_SOCK_UNKNOWN, SS_SOCK_STREAM, SS_SOCK_DGRAM };

struct ss_creds {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

/* Fills *out; called at most once per message and only when the message
 * carries an SCM_CREDS (getpid() etc. are system calls: ask only then). */
typedef void (*ss_creds_fn)(void *arg, struct ss_creds *out);

struct ss_norm_ctx {
    enum ss_sock_kind kind;
    enum ss_style style;
    unsigned index;        /* message index within a sendmmsg batch (diagnostics) */
    size_t ctl_limit;      /* controllen above this is left to the kernel (ENOBUFS); 0: default */
    ss_creds_fn get_creds; /* NULL: use creds as given */
    /* Whether every region of regions[0..n) can be read without a fault,
     * asked before the normalizer reads the program's iovec array, control
     * buffer or (gathering) data: an unreadable one is the kernel's error
     * (EFAULT; EMSGSIZE above SS_IOV_MAX iovecs, which the kernel refuses
     * before reading them), never a fault. NULL: all memory is readable. */
    int (*readable)(const struct iovec *regions, size_t n);
    void *creds_arg;
    struct ss_creds creds;
    char *diag; /* one-line diagnostic on error; may be NULL */
    size_t diag_cap;
};

/* Normalizations applied (ss_norm_result.applied), for the statistics. */
enum ss_norm_applied {
    SS_NORM_F_NAME = 1u << 0,        /* msg_name/msg_namelen inconsistent: no address */
    SS_NORM_F_IOVLEN_MASK = 1u << 1, /* upper 32 bits of msg_iovlen masked off */
    SS_NORM_F_IOV_EMPTY = 1u << 2,   /* zero-length iovecs (above SS_IOV_MAX entries: dropped) */
    SS_NORM_F_IOV_CAP = 1u << 3,     /* stream: first SS_IOV_MAX iovecs only */
    SS_NORM_F_IOV_GATHER = 1u << 4,  /* datagram gathered into one buffer */
    SS_NORM_F_CTL_MASK = 1u << 5,    /* upper 32 bits of msg_controllen masked off */
    SS_NORM_F_CTL_NONE = 1u << 6,    /* control NULL/len 0 inconsistent: no control data */
    SS_NORM_F_CTL_TRIM = 1u << 7,    /* trailing zero bytes trimmed */
    SS_NORM_F_CMSG_MASK = 1u << 8,   /* upper 32 bits of a cmsg_len masked off */
    SS_NORM_F_CMSG_REPACK = 1u << 9, /* misaligned control messages repacked */
    SS_NORM_F_CMSG_BSD = 1u << 10,   /* BSD-layout control messages rewritten */
    SS_NORM_F_CMSG_XLATE = 1u << 11, /* level/type translated (SCM_CREDS, IP_SENDSRCADDR, ...) */
};

enum ss_norm_status { SS_NORM_UNCHANGED, SS_NORM_REWRITTEN, SS_NORM_NEED_BUF, SS_NORM_ERROR };

/* The caller's bounded scratch (stack). About 5.2 KiB. */
struct ss_norm_scratch {
    struct msghdr msg;
    struct iovec iov[SS_NORM_IOV_COPY];
    union {
        struct cmsghdr align;
        unsigned char b[SS_NORM_CTL_COPY];
    } ctl;
};

struct ss_norm_result {
    const struct msghdr *msg; /* what to forward: the caller's msg or &scratch->msg */
    unsigned applied;         /* ss_norm_applied bits */
    int err;                  /* errno for SS_NORM_ERROR */
    size_t need;              /* extra bytes needed for SS_NORM_NEED_BUF */
};

/* Normalize one message. extra/extra_len: a buffer for the rare large cases
 * (NULL, 0 on the first call). Returns the status, also fills *res. */
enum ss_norm_status ss_normalize(const struct msghdr *msg, const struct ss_norm_ctx *ctx,
                                 struct ss_norm_scratch *s, void *extra, size_t extra_len,
                                 struct ss_norm_result *res);

/* sendmmsg: normalize vec[0], vec[1], ... (vlen capped at SS_MMSG_VLEN_MAX;
 * ctx->index is set to each message's index) until one is not UNCHANGED. *k
 * receives that index, or the capped vlen when the whole batch is unchanged
 * (then forward the batch as is: the fast path keeps batching). The status and
 * *res are those of message *k. How the caller proceeds (SPEC section 7):
 *   ERROR at k > 0:  send vec[0..k) (one sendmmsg) and return its result;
 *   ERROR at k == 0: -1 with res->err;
 *   REWRITTEN/NEED_BUF: message k needs a copy; the caller builds its own
 *     mmsghdr array (or sends vec[0..k) and continues from k with a fresh
 *     scratch), then calls again from k + 1 for the rest.
 * vec NULL with vlen > 0 is EFAULT at k = 0. */
enum ss_norm_status ss_normalize_batch(const struct mmsghdr *vec, unsigned vlen,
                                       const struct ss_norm_ctx *ctx, struct ss_norm_scratch *s, unsigned *k,
                                       struct ss_norm_result *res);

/* The repairs of msg that the kernel makes itself (SS_NORM_F_NAME,
 * SS_NORM_F_IOV_EMPTY among its first SS_IOV_MAX entries), which the
 * normalizer leaves to it: for SENDSHIM_STATS, once the kernel accepted the
 * message (the array is read). */
unsigned ss_norm_kernel_repairs(const struct msghdr *msg);

/* "linux", "freebsd", ...; NULL for an out-of-range value. */
const char *ss_style_name(enum ss_style style);

#pragma GCC visibility pop

#endif
