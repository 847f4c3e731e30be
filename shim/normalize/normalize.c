/* normalize.c - SPEC section 7: msghdr normalization (name, iovecs, control).
 * See normalize.h for the interface and norm_cmsg.c for control messages. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "norm_internal.h"

/* Beyond this many iovecs the library does not read the array: the kernel
 * answers EMSGSIZE above SS_IOV_MAX without reading it either, and a garbage
 * msg_iovlen must not make us read gigabytes. No datagram we could gather has
 * more non-empty entries than SS_NORM_GATHER_MAX bytes. */
#define SS_NORM_IOV_SCAN_MAX 65536
#define LOW32                0xffffffffu
#define EXTRA_ALIGN          16

static const char *const style_names[SS_NSTYLES] = {"linux", "freebsd", "netbsd", "openbsd", "macos"};

const char *ss_style_name(enum ss_style style)
{
    return (unsigned)style < SS_NSTYLES ? style_names[style] : NULL;
}

int ss_norm_diag_begin(const struct ss_norm_ctx *ctx, struct ss_buf *b)
{
    if (!ctx->diag || ctx->diag_cap == 0)
        return 0;
    ss_buf_init(b, ctx->diag, ctx->diag_cap);
    ss_buf_str(b, "message ");
    ss_buf_u64(b, ctx->index);
    ss_buf_str(b, ": ");
    return 1;
}

static void diag_text(const struct ss_norm_ctx *ctx, const char *what, uint64_t v1, const char *mid,
                      uint64_t v2, const char *tail)
{
    struct ss_buf b;
    if (!ss_norm_diag_begin(ctx, &b))
        return;
    ss_buf_str(&b, what);
    ss_buf_u64(&b, v1);
    if (mid) {
        ss_buf_str(&b, mid);
        ss_buf_u64(&b, v2);
    }
    if (tail)
        ss_buf_str(&b, tail);
}

enum iov_mode { IOV_SAME, IOV_PREFIX, IOV_COMPACT, IOV_GATHER };

struct iov_plan {
    enum iov_mode mode;
    size_t count;  /* entries forwarded (SAME, PREFIX) or copied (COMPACT) */
    size_t gather; /* bytes (GATHER) */
    unsigned applied;
};

static int readable(const struct ss_norm_ctx *ctx, const void *p, size_t len)
{
    struct iovec r = {(void *)p, len};
    return !ctx->readable || ctx->readable(&r, 1);
}

/* The kernel refuses more than SS_IOV_MAX iovecs with EMSGSIZE before it
 * reads them (sendmsg_copy_msghdr): when the library, going beyond, cannot
 * read them (the array, or the data it gathers), that is the answer. */
static int beyond_max_unreadable(const struct ss_norm_ctx *ctx, const char *what, size_t iovlen)
{
    diag_text(ctx, what, iovlen, " iovecs cannot be read (the kernel refuses more than ", SS_IOV_MAX,
              " with EMSGSIZE)");
    return EMSGSIZE;
}

static int plan_iov(const struct ss_norm_ctx *ctx, const struct iovec *iov, size_t iovlen,
                    struct iov_plan *ip)
{
    size_t n = 0, last = 0, cut = 0, total = 0;
    int toolong = 0;

    ip->mode = IOV_SAME;
    ip->count = iovlen;
    ip->gather = 0;
    ip->applied = 0;
    if (iovlen == 0)
        return 0;
    if (iovlen > SS_NORM_IOV_SCAN_MAX) {
        diag_text(ctx, "msg_iovlen ", iovlen, " is above the ", SS_NORM_IOV_SCAN_MAX,
                  " entries the library reads");
        return EMSGSIZE;
    }
    if (iovlen > SS_IOV_MAX && (!iov || !readable(ctx, iov, iovlen * sizeof *iov)))
        return beyond_max_unreadable(ctx, "the array of ", iovlen);
    if (!iov) {
        diag_text(ctx, "msg_iov is NULL with msg_iovlen ", iovlen, NULL, 0, NULL);
        return EFAULT;
    }
    /* Up to SS_IOV_MAX entries the kernel takes the array as it is (and
     * skips empty entries itself): the library does not read it, so an
     * array the kernel cannot read gets its EFAULT, not a fault here. */
    if (iovlen <= SS_IOV_MAX)
        return 0;
    for (size_t i = 0; i < iovlen; i++) {
        size_t len = iov[i].iov_len;
        if (len == 0)
            continue;
        n++;
        last = i;
        if (n == SS_IOV_MAX)
            cut = i + 1;
        toolong |= len > SSIZE_MAX;
        total = len > SIZE_MAX - total ? SIZE_MAX : total + len;
    }
    if (n != iovlen)
        ip->applied |= SS_NORM_F_IOV_EMPTY;
    if (toolong) {
        diag_text(ctx, "an iovec of ", iovlen, " entries has an iov_len above SSIZE_MAX", 0, NULL);
        return EINVAL;
    }
    if (n <= SS_IOV_MAX) {
        if (last < SS_IOV_MAX) {
            ip->mode = IOV_PREFIX;
            ip->count = last + 1;
        } else {
            ip->mode = IOV_COMPACT;
            ip->count = n;
        }
        return 0;
    }
    if (ctx->kind == SS_SOCK_STREAM) {
        /* A legal short write: the caller sees the count and sends the rest. */
        ip->applied |= SS_NORM_F_IOV_CAP;
        if (cut == SS_IOV_MAX) {
            ip->mode = IOV_PREFIX;
            ip->applied &= ~SS_NORM_F_IOV_EMPTY;
        } else {
            ip->mode = IOV_COMPACT;
        }
        ip->count = SS_IOV_MAX;
        return 0;
    }
    /* Datagram (or unknown): never split; gather if it fits. */
    if (total > SS_NORM_GATHER_MAX) {
        struct ss_buf b;
        if (ss_norm_diag_begin(ctx, &b)) {
            ss_buf_u64(&b, iovlen);
            ss_buf_str(&b, " iovecs (");
            ss_buf_u64(&b, n);
            ss_buf_str(&b, " non-empty, above IOV_MAX 1024) carry ");
            ss_buf_u64(&b, total);
            ss_buf_str(&b, " bytes, more than the ");
            ss_buf_u64(&b, SS_NORM_GATHER_MAX);
            ss_buf_str(&b, " a datagram gathered into one buffer may hold");
        }
        return EMSGSIZE;
    }
    if (ctx->readable && !ctx->readable(iov, iovlen))
        return beyond_max_unreadable(ctx, "the data of ", iovlen);
    ip->mode = IOV_GATHER;
    ip->gather = total;
    ip->applied |= SS_NORM_F_IOV_GATHER;
    return 0;
}

/* Copy the non-empty entries of iov, at most max of them. */
static size_t compact(const struct iovec *iov, size_t iovlen, struct iovec *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < iovlen && k < max; i++)
        if (iov[i].iov_len)
            out[k++] = iov[i];
    return k;
}

static size_t gather(const struct iovec *iov, size_t iovlen, unsigned char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < iovlen && o < cap; i++) {
        size_t len = iov[i].iov_len;
        if (len > cap - o)
            len = cap - o;
        if (len)
            memcpy(out + o, iov[i].iov_base, len);
        o += len;
    }
    return o;
}

static enum ss_norm_status fail(struct ss_norm_result *res, int err)
{
    res->err = err;
    return SS_NORM_ERROR;
}

/* The kernel ignores a NULL name, and a zero length means no name. */
static int name_mismatch(const struct msghdr *m)
{
    return (m->msg_name == NULL) != (m->msg_namelen == 0);
}

unsigned ss_norm_kernel_repairs(const struct msghdr *m)
{
    unsigned applied = name_mismatch(m) ? SS_NORM_F_NAME : 0;
    size_t n = (unsigned)m->msg_iovlen;
    for (size_t i = 0; m->msg_iov && i < n && i < SS_IOV_MAX; i++)
        if (m->msg_iov[i].iov_len == 0)
            return applied | SS_NORM_F_IOV_EMPTY;
    return applied;
}

enum ss_norm_status ss_normalize(const struct msghdr *msg, const struct ss_norm_ctx *ctx,
                                 struct ss_norm_scratch *s, void *extra, size_t extra_len,
                                 struct ss_norm_result *res)
{
    struct iov_plan ip;
    struct ss_ctl_plan cp;
    unsigned applied = 0;
    int err, ctl_plan = 0;

    res->msg = msg;
    res->applied = 0;
    res->err = 0;
    res->need = 0;
    if (!msg) {
        diag_text(ctx, "msghdr at address ", 0, NULL, 0, " (NULL)");
        return fail(res, EFAULT);
    }

    void *name = msg->msg_name;
    socklen_t namelen = msg->msg_namelen;
    if (name_mismatch(msg)) {
        name = NULL;
        namelen = 0;
        applied |= SS_NORM_F_NAME;
    }

    /* POSIX declares msg_iovlen int and msg_controllen socklen_t; glibc makes
     * them size_t, so a 32-bit store leaves garbage above. musl masks. */
    size_t iovlen = msg->msg_iovlen;
    if (iovlen > LOW32) {
        iovlen &= LOW32;
        applied |= SS_NORM_F_IOVLEN_MASK;
    }
    void *ctl = msg->msg_control;
    size_t ctllen = msg->msg_controllen;
    size_t limit = ctx->ctl_limit ? ctx->ctl_limit : SS_NORM_CTL_LIMIT;
    if (ctllen > LOW32) {
        ctllen &= LOW32;
        applied |= SS_NORM_F_CTL_MASK;
    }
    if ((ctl == NULL) != (ctllen == 0)) {
        ctl = NULL;
        ctllen = 0;
        applied |= SS_NORM_F_CTL_NONE;
    }
    /* Larger control buffers are the kernel's ENOBUFS; we do not read them. */
    int read_ctl = ctllen > 0 && ctllen <= INT_MAX && ctllen <= limit;

    err = plan_iov(ctx, msg->msg_iov, iovlen, &ip);
    if (err)
        return fail(res, err);
    applied |= ip.applied;
    /* The control buffer is read unasked on the common path (asking costs a
     * system call, about 10 us: README Limits); on the rare path beyond
     * SS_IOV_MAX iovecs, where the array was asked about, it is asked too. */
    if (read_ctl && iovlen > SS_IOV_MAX && !readable(ctx, ctl, ctllen)) {
        diag_text(ctx, "msg_control of ", ctllen, " bytes cannot be read", 0, NULL);
        return fail(res, EFAULT);
    }

    if (read_ctl) {
        err = ss_ctl_plan(ctx, ctl, ctllen, &cp);
        if (err)
            return fail(res, err);
        ctl_plan = 1;
        applied |= cp.applied;
    }
    if (applied == 0)
        return SS_NORM_UNCHANGED;

    /* Room: the scratch, else the extra buffer [iovecs][control][gather]. */
    size_t need_iov = 0, need_ctl = 0, need_gather = 0;
    if (ip.mode == IOV_COMPACT && ip.count > SS_NORM_IOV_COPY)
        need_iov = ip.count * sizeof(struct iovec);
    if (ctl_plan && cp.copy && cp.out_len > SS_NORM_CTL_COPY)
        need_ctl = (cp.out_len + EXTRA_ALIGN - 1) & ~(size_t)(EXTRA_ALIGN - 1);
    if (ip.mode == IOV_GATHER)
        need_gather = ip.gather;
    size_t need = need_iov + need_ctl + need_gather;
    unsigned char *x = NULL;
    if (need) {
        need += EXTRA_ALIGN; /* slack to align the start */
        if (!extra || extra_len < need) {
            res->need = need;
            res->applied = applied;
            return SS_NORM_NEED_BUF;
        }
        x = (unsigned char *)(((uintptr_t)extra + EXTRA_ALIGN - 1) & ~(uintptr_t)(EXTRA_ALIGN - 1));
    }

    struct msghdr *m = &s->msg;
    *m = *msg;
    m->msg_name = name;
    m->msg_namelen = namelen;
    m->msg_iovlen = iovlen;
    switch (ip.mode) {
    case IOV_SAME:
    case IOV_PREFIX:
        m->msg_iovlen = ip.count;
        break;
    case IOV_COMPACT: {
        struct iovec *dst = need_iov ? (struct iovec *)x : s->iov;
        m->msg_iov = dst;
        m->msg_iovlen = compact(msg->msg_iov, iovlen, dst, ip.count);
        break;
    }
    case IOV_GATHER: {
        unsigned char *g = x + need_iov + need_ctl;
        s->iov[0].iov_base = g;
        s->iov[0].iov_len = gather(msg->msg_iov, iovlen, g, ip.gather);
        m->msg_iov = s->iov;
        m->msg_iovlen = 1;
        break;
    }
    }

    m->msg_control = ctl;
    m->msg_controllen = ctllen;
    if (ctl_plan && cp.copy) {
        struct ss_creds cr = ctx->creds;
        unsigned char *dst = need_ctl ? x + need_iov : s->ctl.b;
        size_t cap = need_ctl ? need_ctl : sizeof s->ctl.b;
        if (cp.creds && ctx->get_creds)
            ctx->get_creds(ctx->creds_arg, &cr);
        m->msg_controllen = ss_ctl_emit(ctx, &cp, &cr, dst, cap);
        m->msg_control = dst;
    } else if (ctl_plan) {
        m->msg_controllen = cp.keep_len;
    }
    if (m->msg_controllen == 0)
        m->msg_control = NULL;

    res->msg = m;
    res->applied = applied;
    return SS_NORM_REWRITTEN;
}

enum ss_norm_status ss_normalize_batch(const struct mmsghdr *vec, unsigned vlen,
                                       const struct ss_norm_ctx *ctx, struct ss_norm_scratch *s, unsigned *k,
                                       struct ss_norm_result *res)
{
    struct ss_norm_ctx c = *ctx;
    enum ss_norm_status st = SS_NORM_UNCHANGED;
    unsigned i;

    if (vlen > SS_MMSG_VLEN_MAX)
        vlen = SS_MMSG_VLEN_MAX;
    res->msg = NULL;
    res->applied = 0;
    res->err = 0;
    res->need = 0;
    if (!vec && vlen > 0) {
        *k = 0;
        c.index = 0;
        diag_text(&c, "msgvec at address ", 0, NULL, 0, " (NULL) with vlen > 0");
        return fail(res, EFAULT);
    }
    for (i = 0; i < vlen; i++) {
        c.index = i;
        st = ss_normalize(&vec[i].msg_hdr, &c, s, NULL, 0, res);
        if (st != SS_NORM_UNCHANGED)
            break;
    }
    *k = i;
    return st;
}
