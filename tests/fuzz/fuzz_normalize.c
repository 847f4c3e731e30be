/* fuzz_normalize.c - libFuzzer target for shim/normalize/normalize.c.
 *
 * Input: an 8-byte header (style, kind, flags, iovec count (2 bytes), name
 * length, trim, and bit 0 of the last: the readability check says no), then
 * one byte per iovec (its length), then the control buffer. Arrays are allocated at their exact size so ASan
 * catches any read past them. Besides ASan/UBSan, the output is checked: a rewritten message must be one the
 * kernel's cmsg walk accepts (every cmsg_len within bounds), with at most SS_IOV_MAX iovecs and SS_SCM_MAX_FD
 * descriptors, and control messages are repacked only where the kernel would refuse them.
 *
 * Build and run: `make fuzz` (the Makefile's FUZZ_NORMALIZE_SRCS are the
 * sources it links).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "normalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    F_NAME_NULL = 1 << 0,
    F_NAMELEN0 = 1 << 1,
    F_CTL_NULL = 1 << 2,
    F_IOVLEN_HI = 1 << 3,
    F_CTLLEN_HI = 1 << 4,
    F_IOV_NULL = 1 << 5,
    F_CTLLEN_ODD = 1 << 6, /* controllen shorter than the buffer by hdr[6] % 16 */
    F_NO_DIAG = 1 << 7,
};

#define MAX_IOV 2100

static unsigned char payload[256];

static void creds(void *arg, struct ss_creds *out)
{
    (void)arg;
    out->pid = 1;
    out->uid = 2;
    out->gid = 3;
}

static int refuse(const struct iovec *regions, size_t n)
{
    (void)regions;
    (void)n;
    return 0;
}

static void check_output(const struct ss_norm_result *r, const struct ss_norm_scratch *s)
{
    const struct msghdr *m = r->msg;
    if (m != &s->msg)
        abort();
    if (m->msg_iovlen > SS_IOV_MAX)
        abort();
    if (m->msg_controllen == 0 || !m->msg_control)
        return;
    if (r->applied &
        (SS_NORM_F_CMSG_BSD | SS_NORM_F_CMSG_REPACK | SS_NORM_F_CMSG_XLATE | SS_NORM_F_CMSG_MASK)) {
        /* A rewritten buffer: walk it as the kernel does. */
        const unsigned char *b = m->msg_control;
        size_t off = 0, len = m->msg_controllen, fds = 0;
        while (len - off >= sizeof(struct cmsghdr)) {
            struct cmsghdr h;
            memcpy(&h, b + off, sizeof h);
            if (h.cmsg_len < sizeof h || h.cmsg_len > len - off)
                abort();
            if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS)
                fds += (h.cmsg_len - sizeof h) / sizeof(int);
            off += CMSG_ALIGN(h.cmsg_len);
            if (off >= len)
                break;
        }
        if (fds > SS_SCM_MAX_FD)
            abort();
    }
}

/* The kernel's walk of the program's buffer (__cmsg_nxthdr, CMSG_OK) with
 * the lengths masked to 32 bits as SPEC 7 does: 1 when it meets an invalid
 * header (EINVAL). */
static int kernel_refuses(const struct msghdr *m)
{
    const unsigned char *b = m->msg_control;
    size_t len = (uint32_t)m->msg_controllen, off = 0;
    if (!b)
        return 0;
    while (len - off >= sizeof(struct cmsghdr)) {
        struct cmsghdr h;
        memcpy(&h, b + off, sizeof h);
        uint32_t l = (uint32_t)h.cmsg_len;
        if (l < sizeof h || l > len - off)
            return 1;
        if (CMSG_ALIGN(l) >= len - off)
            return 0;
        off += CMSG_ALIGN(l);
    }
    return 0;
}

static void run(const struct msghdr *m, struct ss_norm_ctx *ctx)
{
    struct ss_norm_scratch s;
    struct ss_norm_result r;
    enum ss_norm_status st = ss_normalize(m, ctx, &s, NULL, 0, &r);
    if (st == SS_NORM_NEED_BUF) {
        size_t need = r.need;
        if (need == 0 || need > (1u << 22))
            abort();
        void *x = malloc(need);
        st = ss_normalize(m, ctx, &s, x, need, &r);
        if (st != SS_NORM_REWRITTEN)
            abort(); /* the input did not change: the buffer must do */
        check_output(&r, &s);
        free(x);
    } else if (st == SS_NORM_REWRITTEN) {
        check_output(&r, &s);
    } else if (st == SS_NORM_ERROR) {
        if (r.err == 0)
            abort();
        if (ctx->diag && strnlen(ctx->diag, ctx->diag_cap) >= ctx->diag_cap)
            abort();
    } else if (st != SS_NORM_UNCHANGED || r.msg != m) {
        abort();
    }
    /* Repacking repairs only what the kernel refuses: it never turns bytes
     * the kernel ignores into a control message (SPEC 7). */
    if (st == SS_NORM_REWRITTEN && (r.applied & SS_NORM_F_CMSG_REPACK) && !(r.applied & SS_NORM_F_CMSG_BSD) &&
        !kernel_refuses(m))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char diag[SS_NORM_DIAG_MAX];
    struct sockaddr_storage name;
    if (size < 8)
        return 0;
    enum ss_style style = (enum ss_style)(data[0] % SS_NSTYLES);
    enum ss_sock_kind kind = (enum ss_sock_kind)(data[1] % 3);
    uint8_t flags = data[2];
    size_t niov = (size_t)(data[3] | data[4] << 8) % (MAX_IOV + 1);
    socklen_t namelen = data[5];
    size_t trim = data[6] % 16;
    int unreadable = data[7] & 1; /* the kernel says no memory can be read */
    data += 8;
    size -= 8;
    if (niov > size)
        niov = size;

    struct iovec *iov = malloc((niov ? niov : 1) * sizeof *iov);
    for (size_t i = 0; i < niov; i++) {
        iov[i].iov_base = payload + (data[i] & 0x0f);
        iov[i].iov_len = data[i] > 0xf0 ? 0 : data[i] & 0x7f;
    }
    data += niov;
    size -= niov;
    unsigned char *ctl = malloc(size ? size : 1);
    memcpy(ctl, data, size);

    memset(&name, 0, sizeof name);
    struct msghdr m = {
        .msg_name = (flags & F_NAME_NULL) ? NULL : &name,
        .msg_namelen = (flags & F_NAMELEN0) ? 0 : namelen % sizeof name,
        .msg_iov = (flags & F_IOV_NULL) ? NULL : iov,
        .msg_iovlen = niov,
        .msg_control = (flags & F_CTL_NULL) ? NULL : ctl,
        .msg_controllen = size,
    };
    if ((flags & F_CTLLEN_ODD) && trim <= size)
        m.msg_controllen = size - trim;
    if (flags & F_IOVLEN_HI)
        m.msg_iovlen |= (size_t)1 << 40;
    if (flags & F_CTLLEN_HI)
        m.msg_controllen |= (size_t)1 << 35;

    struct ss_norm_ctx ctx = {
        .kind = kind,
        .style = style,
        .index = 7,
        .get_creds = creds,
        .readable = unreadable ? refuse : NULL,
        .diag = (flags & F_NO_DIAG) ? NULL : diag,
        .diag_cap = sizeof diag,
    };
    run(&m, &ctx);

    struct mmsghdr vec[2] = {{.msg_hdr = m}, {.msg_hdr = m}};
    struct ss_norm_scratch s;
    struct ss_norm_result r;
    unsigned k;
    ss_normalize_batch(vec, 2, &ctx, &s, &k, &r);
    if (k > 2)
        abort();

    free(ctl);
    free(iov);
    return 0;
}
