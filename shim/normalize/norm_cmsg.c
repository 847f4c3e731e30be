/* norm_cmsg.c - validation and rewriting of a control buffer (SPEC section 7).
 *
 * The kernel walks control messages as __scm_send/ip_cmsg_send do: a header
 * at offset 0, the next at CMSG_ALIGN(cmsg_len) further, and it stops when
 * fewer than sizeof(struct cmsghdr) bytes remain. Each header must have
 * sizeof(struct cmsghdr) <= cmsg_len <= bytes left (CMSG_OK), else EINVAL.
 *
 * Layout in a BSD style. A program built on Linux gets glibc's CMSG_* macros
 * (16-byte header, size_t cmsg_len) even when it uses BSD numbers, while code
 * written for BSD may build the BSD layout by hand (12-byte header, 32-bit
 * cmsg_len). The two are told apart by the word at offset 4 of each header:
 * for glibc it is the upper half of cmsg_len, always 0; for a BSD header it is
 * cmsg_level, 0xffff (SOL_SOCKET) or 41 (IPPROTO_IPV6), or 0 (IPPROTO_IP) and
 * then the next word is a BSD IPPROTO_IP type we translate (IP_SENDSRCADDR 7,
 * IP_PKTINFO) which is no Linux level. The buffer is walked in both layouts:
 * if only one parses, it wins; if both do, the one with more headers that
 * look like it wins, and a tie goes to BSD (the style says the program was
 * written for BSD). Errors are reported from the BSD reading when neither
 * parses.
 *
 * Misalignment: a header found at cmsg + cmsg_len instead of
 * cmsg + CMSG_ALIGN(cmsg_len) (code that forgot CMSG_ALIGN) is taken when the
 * aligned position holds an invalid header (the kernel's EINVAL) and the
 * packed one a valid one; the buffer is then repacked. When fewer bytes than
 * a header follow the aligned position, the kernel ignores them
 * (__cmsg_nxthdr stops), so the walk ends there too: a repair never invents
 * a control message the kernel would not have read (SPEC 7).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "norm_internal.h"

#define LINUX_HDR   sizeof(struct cmsghdr) /* 16 on LP64 */
#define LINUX_ALIGN sizeof(size_t)         /* glibc and kernel CMSG_ALIGN */

struct walk {
    const unsigned char *b;
    size_t end;
    size_t zero_from; /* every byte from here to end is zero */
    int bsd;
    unsigned min; /* smallest valid cmsg_len: Linux header, or BSD data offset */
    unsigned data_off;
    unsigned align;
};

struct wpos {
    size_t pos;
    size_t idx;
    int packed; /* a step went to the packed (misaligned) position */
};

struct cm {
    size_t idx, off;
    uint32_t len; /* cmsg_len, low 32 bits */
    int hi;       /* Linux layout: upper 32 bits of cmsg_len were set */
    int level, type;
    const unsigned char *data;
    size_t dlen;
    uint32_t w4, w8; /* raw words at offsets 4 and 8 (layout detection) */
};

enum { W_ITEM, W_END, W_TRIM, W_SHORT_TAIL, W_ERR_SHORT, W_ERR_PAST };

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static size_t align_up(size_t x, size_t a)
{
    return (x + a - 1) & ~(a - 1);
}

static void walk_init(struct walk *w, const struct ss_norm_ctx *ctx, const unsigned char *b, size_t len,
                      size_t zero_from, int bsd)
{
    w->b = b;
    w->end = len;
    w->zero_from = zero_from;
    w->bsd = bsd;
    if (bsd) {
        struct ss_cmsg_layout l;
        ss_cmsg_bsd_layout(ctx->style, &l);
        w->min = w->data_off = l.data_off;
        w->align = l.align;
    } else {
        w->min = w->data_off = LINUX_HDR;
        w->align = LINUX_ALIGN;
    }
}

/* A header could start at x: the end, the zero tail, fewer bytes than a
 * header (where the kernel stops walking and ignores the rest: a step to
 * the packed position would read those bytes as a message the kernel never
 * sees), or a plausible header. */
static int good_at(const struct walk *w, size_t x)
{
    if (x >= w->end || x >= w->zero_from || w->end - x < w->min)
        return 1;
    uint32_t l = rd32(w->b + x);
    return l >= w->min && l <= w->end - x;
}

static int walk_next(const struct walk *w, struct wpos *st, struct cm *c)
{
    size_t x = st->pos;
    c->idx = st->idx;
    c->off = x;
    if (x >= w->end)
        return W_END;
    if (x >= w->zero_from)
        return W_TRIM;
    size_t rem = w->end - x;
    if (rem < w->min)
        return W_SHORT_TAIL; /* the kernel ignores fewer bytes than a header */
    c->len = rd32(w->b + x);
    c->w4 = rd32(w->b + x + 4);
    c->w8 = rd32(w->b + x + 8);
    if (c->len < w->min)
        return W_ERR_SHORT;
    if (c->len > rem)
        return W_ERR_PAST;
    if (w->bsd) {
        c->hi = 0;
        c->level = (int)c->w4;
        c->type = (int)c->w8;
    } else {
        c->hi = c->w4 != 0;
        c->level = (int)c->w8;
        c->type = (int)rd32(w->b + x + 12);
    }
    c->data = w->b + x + w->data_off;
    c->dlen = c->len - w->data_off;
    size_t a = x + align_up(c->len, w->align), p = x + c->len;
    if (a != p && !good_at(w, a) && good_at(w, p)) {
        st->pos = p;
        st->packed = 1;
    } else {
        st->pos = a;
    }
    st->idx++;
    return W_ITEM;
}

static int bsd_evidence(enum ss_style style, const struct cm *c)
{
    return c->w4 == SS_BSD_SOL_SOCKET || c->w4 == IPPROTO_IPV6 ||
           (c->w4 == IPPROTO_IP && ss_cmsg_bsd_find(style, IPPROTO_IP, (int)c->w8));
}

/* -1 when the walk hits an invalid header, else the evidence count. */
static long score(const struct walk *w, enum ss_style style)
{
    struct wpos st = {0, 0, 0};
    struct cm c;
    long points = 0;
    int r;
    while ((r = walk_next(w, &st, &c)) == W_ITEM) {
        int b = bsd_evidence(style, &c);
        points += w->bsd ? b : (c.w4 == 0 && !b);
    }
    return (r == W_ERR_SHORT || r == W_ERR_PAST) ? -1 : points;
}

static void diag_cm(struct ss_buf *b, const struct cm *c)
{
    ss_buf_str(b, "control message ");
    ss_buf_u64(b, c->idx);
}

/* Find the translation of c. 0 and *xl (NULL: keep numbers), or -1: a BSD
 * value with no Linux equivalent. */
static int resolve(const struct ss_norm_ctx *ctx, int bsd, const struct cm *c, const struct ss_cmsg_xl **xl)
{
    *xl = ss_cmsg_private_find(c->level, c->type);
    if (*xl)
        return 0;
    if (bsd) {
        if (!ss_cmsg_bsd_strict_level(c->level))
            return 0;
        *xl = ss_cmsg_bsd_find(ctx->style, c->level, c->type);
        return *xl ? 0 : -1;
    }
    /* Linux layout in a BSD style with BSD's SOL_SOCKET: Linux would accept
     * it and silently drop the descriptors of an SCM_RIGHTS. */
    if (ctx->style != SS_STYLE_LINUX && c->level == SS_BSD_SOL_SOCKET) {
        *xl = ss_cmsg_bsd_find(ctx->style, c->level, c->type);
        return *xl ? 0 : -1;
    }
    return 0;
}

static int fail_len(const struct ss_norm_ctx *ctx, const struct walk *w, const struct cm *c, int past)
{
    struct ss_buf b;
    if (ss_norm_diag_begin(ctx, &b)) {
        diag_cm(&b, c);
        ss_buf_str(&b, " has cmsg_len ");
        ss_buf_u64(&b, c->len);
        if (past) {
            ss_buf_str(&b, ", past msg_controllen (");
        } else {
            ss_buf_str(&b, ", below the ");
            ss_buf_u64(&b, w->min);
            ss_buf_str(&b, "-byte header (");
        }
        ss_buf_u64(&b, w->end - c->off);
        ss_buf_str(&b, " bytes left)");
    }
    return EINVAL;
}

static int fail_unknown(const struct ss_norm_ctx *ctx, int bsd, const struct cm *c)
{
    struct ss_buf b;
    if (ss_norm_diag_begin(ctx, &b)) {
        diag_cm(&b, c);
        ss_buf_str(&b, " (");
        ss_buf_str(&b, ss_style_name(ctx->style));
        ss_buf_str(&b, bsd ? " layout, level " : " level ");
        ss_buf_hex(&b, (uint32_t)c->level);
        ss_buf_str(&b, " type ");
        ss_buf_i64(&b, c->type);
        ss_buf_str(&b, ") has no Linux equivalent");
    }
    return EINVAL;
}

static int fail_payload(const struct ss_norm_ctx *ctx, const struct cm *c, const struct ss_cmsg_xl *xl,
                        size_t min)
{
    struct ss_buf b;
    if (ss_norm_diag_begin(ctx, &b)) {
        diag_cm(&b, c);
        ss_buf_str(&b, " (");
        ss_buf_str(&b, xl->name);
        ss_buf_str(&b, ") carries ");
        ss_buf_u64(&b, c->dlen);
        ss_buf_str(&b, " bytes, needs ");
        ss_buf_u64(&b, min);
    }
    return EINVAL;
}

static int fail_fds(const struct ss_norm_ctx *ctx, const struct cm *c, size_t nfds)
{
    struct ss_buf b;
    if (ss_norm_diag_begin(ctx, &b)) {
        diag_cm(&b, c);
        ss_buf_str(&b, " brings SCM_RIGHTS to ");
        ss_buf_u64(&b, nfds);
        ss_buf_str(&b, " descriptors, above SCM_MAX_FD (");
        ss_buf_u64(&b, SS_SCM_MAX_FD);
        ss_buf_str(&b, ")");
    }
    return EINVAL;
}

/* Upper half of a Linux cmsg_len equal to a BSD level: a BSD header read in
 * the Linux layout. Masking would be wrong: a macOS SCM_RIGHTS {16, 0xffff,
 * 1, fd} becomes Linux SOL_SOCKET/type fd with no descriptors, which the
 * kernel accepts, losing the fd. Unmasked, the kernel says EINVAL; so do we. */
static int fail_bsd_header(const struct ss_norm_ctx *ctx, const struct cm *c)
{
    struct ss_buf b;
    if (ss_norm_diag_begin(ctx, &b)) {
        diag_cm(&b, c);
        ss_buf_str(&b, " has cmsg_len ");
        ss_buf_hex(&b, (uint64_t)c->w4 << 32 | c->len);
        ss_buf_str(&b, ", a BSD-layout header (level ");
        ss_buf_hex(&b, c->w4);
        ss_buf_str(&b, ")? set SENDSHIM_FLAGS to the program's system");
    }
    return EINVAL;
}

static size_t zero_tail(const unsigned char *b, size_t len)
{
    while (len > 0 && b[len - 1] == 0)
        len--;
    return len;
}

static int choose_bsd(const struct ss_norm_ctx *ctx, const unsigned char *b, size_t len, size_t zf)
{
    struct walk wl, wb;
    if (ctx->style == SS_STYLE_LINUX || (unsigned)ctx->style >= SS_NSTYLES)
        return 0;
    walk_init(&wl, ctx, b, len, zf, 0);
    walk_init(&wb, ctx, b, len, zf, 1);
    long sl = score(&wl, ctx->style), sb = score(&wb, ctx->style);
    if (sb < 0 && sl >= 0)
        return 0;
    if (sl < 0)
        return 1;
    return sb >= sl;
}

int ss_ctl_plan(const struct ss_norm_ctx *ctx, const void *ctl, size_t len, struct ss_ctl_plan *p)
{
    const unsigned char *b = ctl;
    size_t zf = zero_tail(b, len), nfds = 0;
    struct walk w;
    struct wpos st = {0, 0, 0};
    struct cm c;
    int r;

    memset(p, 0, sizeof *p);
    p->base = b;
    p->len = p->keep_len = len;
    p->bsd = choose_bsd(ctx, b, len, zf);
    p->copy = p->bsd;
    walk_init(&w, ctx, b, len, zf, p->bsd);
    while ((r = walk_next(&w, &st, &c)) == W_ITEM) {
        const struct ss_cmsg_xl *xl;
        size_t odlen = c.dlen, min;
        int level = c.level, type = c.type;
        if (c.hi && (c.w4 == SS_BSD_SOL_SOCKET || c.w4 == IPPROTO_IPV6))
            return fail_bsd_header(ctx, &c);
        if (c.hi) {
            p->applied |= SS_NORM_F_CMSG_MASK;
            p->copy = 1;
        }
        if (resolve(ctx, p->bsd, &c, &xl) < 0)
            return fail_unknown(ctx, p->bsd, &c);
        if (xl) {
            odlen = ss_cmsg_xl_out_len(xl, c.dlen, &min);
            if (odlen == 0 && min > 0)
                return fail_payload(ctx, &c, xl, min);
            level = xl->to_level;
            type = xl->to_type;
            p->creds |= xl->kind == SS_XL_CREDS;
            p->applied |= SS_NORM_F_CMSG_XLATE;
            p->copy = 1;
        }
        if (level == SOL_SOCKET && type == SCM_RIGHTS) {
            /* The kernel counts (cmsg_len - header) / sizeof(int), and the
             * total over all SCM_RIGHTS of a message (scm_fp_copy). */
            nfds += c.dlen / sizeof(int);
            if (nfds > SS_SCM_MAX_FD)
                return fail_fds(ctx, &c, nfds);
        }
        p->out_len += CMSG_SPACE(odlen);
    }
    if (r == W_ERR_SHORT || r == W_ERR_PAST)
        return fail_len(ctx, &w, &c, r == W_ERR_PAST);
    if (r == W_TRIM) {
        p->applied |= SS_NORM_F_CTL_TRIM;
        p->keep_len = c.off;
    }
    if (st.packed) {
        p->applied |= SS_NORM_F_CMSG_REPACK;
        p->copy = 1;
    }
    if (p->bsd)
        p->applied |= SS_NORM_F_CMSG_BSD;
    return 0;
}

size_t ss_ctl_emit(const struct ss_norm_ctx *ctx, const struct ss_ctl_plan *p, const struct ss_creds *cr,
                   unsigned char *out, size_t cap)
{
    struct walk w;
    struct wpos st = {0, 0, 0};
    struct cm c;
    size_t o = 0;

    /* The buffer may change under us (another thread): every write is
     * bounded by cap, whatever the second walk finds. */
    walk_init(&w, ctx, p->base, p->len, zero_tail(p->base, p->len), p->bsd);
    while (walk_next(&w, &st, &c) == W_ITEM) {
        const struct ss_cmsg_xl *xl;
        struct cmsghdr h;
        size_t odlen = c.dlen, min;
        if (resolve(ctx, p->bsd, &c, &xl) < 0)
            break;
        h.cmsg_level = c.level;
        h.cmsg_type = c.type;
        if (xl) {
            odlen = ss_cmsg_xl_out_len(xl, c.dlen, &min);
            if (odlen == 0 && min > 0)
                break;
            h.cmsg_level = xl->to_level;
            h.cmsg_type = xl->to_type;
        }
        if (CMSG_SPACE(odlen) > cap - o)
            break;
        h.cmsg_len = CMSG_LEN(odlen);
        memcpy(out + o, &h, sizeof h);
        if (xl)
            ss_cmsg_xl_write(xl, c.data, c.dlen, cr, out + o + LINUX_HDR);
        else
            memcpy(out + o + LINUX_HDR, c.data, odlen);
        memset(out + o + CMSG_LEN(odlen), 0, CMSG_SPACE(odlen) - CMSG_LEN(odlen));
        o += CMSG_SPACE(odlen);
    }
    return o;
}
