/* test_normalize.c - SPEC section 7, row by row, for shim/normalize/normalize.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "normalize.h"
#include "sendshim.h"

static char diag[SS_NORM_DIAG_MAX];
static struct ss_norm_scratch scr;
static struct ss_norm_result res;
static int creds_calls;

static void fake_creds(void *arg, struct ss_creds *out)
{
    (void)arg;
    creds_calls++;
    out->pid = 4242;
    out->uid = 1001;
    out->gid = 2002;
}

static struct ss_norm_ctx ctx_of(enum ss_style style, enum ss_sock_kind kind)
{
    struct ss_norm_ctx c = {.kind = kind, .style = style, .diag = diag, .diag_cap = sizeof diag};
    c.get_creds = fake_creds;
    diag[0] = 0;
    creds_calls = 0;
    return c;
}

static enum ss_norm_status norm(const struct msghdr *m, enum ss_style style, enum ss_sock_kind kind)
{
    struct ss_norm_ctx c = ctx_of(style, kind);
    memset(&res, 0xa5, sizeof res);
    return ss_normalize(m, &c, &scr, NULL, 0, &res);
}

static struct iovec iov1 = {"x", 1};

static struct msghdr msg_ctl(void *ctl, size_t len)
{
    struct msghdr m = {.msg_iov = &iov1, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = len};
    return m;
}

/* Linux-layout cmsg at p; returns CMSG_SPACE(dlen). */
static size_t put_linux(void *p, int level, int type, const void *data, size_t dlen)
{
    struct cmsghdr h = {.cmsg_len = CMSG_LEN(dlen), .cmsg_level = level, .cmsg_type = type};
    memcpy(p, &h, sizeof h);
    memcpy((char *)p + sizeof h, data, dlen);
    return CMSG_SPACE(dlen);
}

/* BSD-layout cmsg: {u32 len; int level; int type}, data at off, aligned to al. */
static size_t put_bsd(void *p, unsigned off, unsigned al, int level, int type, const void *data, size_t dlen)
{
    uint32_t len = off + dlen;
    memcpy(p, &len, 4);
    memcpy((char *)p + 4, &level, 4);
    memcpy((char *)p + 8, &type, 4);
    memcpy((char *)p + off, data, dlen);
    return (len + al - 1) & ~(size_t)(al - 1);
}

static const struct cmsghdr *out_cmsg(size_t off)
{
    return (const struct cmsghdr *)((const char *)res.msg->msg_control + off);
}

/* The first control message out is `level`/`type` with `dlen` bytes of data;
 * returns it. `what` names the case. */
static const struct cmsghdr *expect_first_cmsg(int level, int type, size_t dlen, const char *what)
{
    const struct cmsghdr *c = out_cmsg(0);
    cr_assert_eq(c->cmsg_level, level, "%s: level %d, expected %d", what, c->cmsg_level, level);
    cr_assert_eq(c->cmsg_type, type, "%s: type %d, expected %d", what, c->cmsg_type, type);
    cr_assert_eq(c->cmsg_len, CMSG_LEN(dlen), "%s: cmsg_len %zu, expected %zu", what, (size_t)c->cmsg_len,
                 (size_t)CMSG_LEN(dlen));
    return c;
}

static union {
    struct cmsghdr h;
    unsigned char b[8192];
} cb;

/* Clear cb and put one Linux SCM_RIGHTS message carrying `fd` at its start;
 * returns its CMSG_SPACE. */
static size_t cb_one_fd(int fd)
{
    memset(&cb, 0, sizeof cb);
    return put_linux(cb.b, SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd);
}

/* `m` goes with no control at all: msg_control NULL, msg_controllen 0;
 * `what` names the case. */
static void expect_no_control(const struct msghdr *m, const char *what)
{
    cr_assert_eq(norm(m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s: %s", what, diag);
    cr_assert_null(res.msg->msg_control, "%s: control kept", what);
    cr_assert_eq(res.msg->msg_controllen, 0, "%s: msg_controllen %zu", what, (size_t)res.msg->msg_controllen);
}

/* ---- fast path ----------------------------------------------------------- */

Test(normalize, plain_message_unchanged)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct iovec v[2] = {{"ab", 2}, {"c", 1}};
    struct msghdr m = {.msg_name = &sin, .msg_namelen = sizeof sin, .msg_iov = v, .msg_iovlen = 2};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_UNCHANGED);
    cr_assert_eq(res.msg, &m);
    cr_assert_eq(res.applied, 0);
    cr_assert_eq(norm(&m, SS_STYLE_FREEBSD, SS_SOCK_STREAM), SS_NORM_UNCHANGED);
}

Test(normalize, ordinary_control_unchanged)
{
    int fds[2] = {0, 1};
    struct in_pktinfo pi = {0};
    memset(&cb, 0, sizeof cb);
    size_t n = put_linux(cb.b, SOL_SOCKET, SCM_RIGHTS, fds, sizeof fds);
    n += put_linux(cb.b + n, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
    struct msghdr m = msg_ctl(&cb, n);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_UNCHANGED);
    /* Unpadded last message (controllen = CMSG_LEN): the kernel accepts it. */
    m.msg_controllen = CMSG_SPACE(sizeof fds) + CMSG_LEN(sizeof pi);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_UNCHANGED);
    /* glibc-built program in a BSD style: Linux layout recognised, untouched. */
    cr_assert_eq(norm(&m, SS_STYLE_FREEBSD, SS_SOCK_DGRAM), SS_NORM_UNCHANGED, "%s", diag);
    cr_assert_eq(norm(&m, SS_STYLE_MACOS, SS_SOCK_DGRAM), SS_NORM_UNCHANGED, "%s", diag);
    cr_assert_eq(creds_calls, 0);
}

Test(normalize, short_nonzero_tail_left_to_kernel)
{
    size_t n = cb_one_fd(0);
    cb.b[n + 3] = 7; /* 8 bytes of tail, not zero: fewer than a header, ignored */
    struct msghdr m = msg_ctl(&cb, n + 8);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_UNCHANGED);
}

/* ---- msg NULL, msgvec NULL ------------------------------------------------ */

Test(normalize, msg_null_efault)
{
    cr_assert_eq(norm(NULL, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EFAULT);
    cr_assert(strncmp(diag, "message 0: ", 11) == 0, "%s", diag);
}

Test(normalize, msgvec_null_efault)
{
    struct ss_norm_ctx c = ctx_of(SS_STYLE_LINUX, SS_SOCK_DGRAM);
    unsigned k = 99;
    cr_assert_eq(ss_normalize_batch(NULL, 3, &c, &scr, &k, &res), SS_NORM_ERROR);
    cr_assert_eq(res.err, EFAULT);
    cr_assert_eq(k, 0);
    cr_assert_eq(ss_normalize_batch(NULL, 0, &c, &scr, &k, &res), SS_NORM_UNCHANGED);
    cr_assert_eq(k, 0);
}

/* ---- name ------------------------------------------------------------------ */

Test(normalize, name_null_with_length)
{
    struct msghdr m = {.msg_name = NULL, .msg_namelen = 1000, .msg_iov = &iov1, .msg_iovlen = 1};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN);
    cr_assert_null(res.msg->msg_name);
    cr_assert_eq(res.msg->msg_namelen, 0);
    cr_assert_eq(res.msg->msg_iov, &iov1);
    cr_assert(res.applied & SS_NORM_F_NAME);
}

Test(normalize, name_with_zero_length)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct msghdr m = {.msg_name = &sin, .msg_namelen = 0, .msg_iov = &iov1, .msg_iovlen = 1};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN);
    cr_assert_null(res.msg->msg_name);
    cr_assert_eq(res.applied, SS_NORM_F_NAME);
}

/* ---- upper 32 bits ----------------------------------------------------------- */

Test(normalize, iovlen_upper_bits_masked)
{
    struct msghdr m = {.msg_iov = &iov1, .msg_iovlen = (size_t)1 << 33 | 1};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_iovlen, 1);
    cr_assert_eq(res.applied, SS_NORM_F_IOVLEN_MASK);
}

Test(normalize, controllen_upper_bits_masked)
{
    size_t n = cb_one_fd(0);
    struct msghdr m = msg_ctl(&cb, (size_t)1 << 32 | n);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_controllen, n);
    cr_assert_eq(res.msg->msg_control, &cb); /* no copy needed */
    cr_assert_eq(res.applied, SS_NORM_F_CTL_MASK);
}

Test(normalize, cmsg_len_upper_bits_masked)
{
    size_t n = cb_one_fd(3);
    cb.h.cmsg_len |= (size_t)1 << 32; /* the kernel: EINVAL (probe t5) */
    struct msghdr m = msg_ctl(&cb, n);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_control, scr.ctl.b);
    cr_assert_eq(res.msg->msg_controllen, CMSG_SPACE(4));
    cr_assert_eq(out_cmsg(0)->cmsg_len, CMSG_LEN(4));
    cr_assert_eq(*(int *)CMSG_DATA(out_cmsg(0)), 3);
    cr_assert(res.applied & SS_NORM_F_CMSG_MASK);
    cr_assert_eq(cb.h.cmsg_len >> 32, 1, "the caller's buffer is never written");
}

/* ---- iovecs ----------------------------------------------------------------- */

/* Up to 1024 entries the kernel skips empty ones itself: the normalizer
 * leaves the array unread (issue 13: an array the kernel refuses with EFAULT
 * must not fault in the library), and SENDSHIM_STATS learns of the repair
 * from ss_norm_kernel_repairs once the kernel accepted the message. */
Test(normalize, zero_length_iovecs_left_to_the_kernel)
{
    struct iovec v[4] = {{"ab", 2}, {(void *)1, 0}, {NULL, 0}, {"c", 1}};
    struct msghdr m = {.msg_iov = v, .msg_iovlen = 4};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_STREAM), SS_NORM_UNCHANGED);
    cr_assert_eq(res.msg, &m);
    cr_assert_eq(ss_norm_kernel_repairs(&m), SS_NORM_F_IOV_EMPTY);
    m.msg_name = v;
    cr_assert_eq(ss_norm_kernel_repairs(&m), SS_NORM_F_IOV_EMPTY | SS_NORM_F_NAME);
    v[1].iov_len = v[2].iov_len = 1;
    cr_assert_eq(ss_norm_kernel_repairs(&m), SS_NORM_F_NAME);
}

Test(normalize, iov_null_with_length_efault)
{
    struct msghdr m = {.msg_iov = NULL, .msg_iovlen = 3};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_STREAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EFAULT);
    struct msghdr z = {.msg_iov = NULL, .msg_iovlen = 0};
    cr_assert_eq(norm(&z, SS_STYLE_LINUX, SS_SOCK_STREAM), SS_NORM_UNCHANGED);
}

static struct iovec many[3000];
static char bytes[3000];

static void fill_many(size_t n, size_t each)
{
    for (size_t i = 0; i < n; i++) {
        bytes[i] = (char)i;
        many[i].iov_base = &bytes[i];
        many[i].iov_len = each;
    }
}

Test(normalize, stream_over_iov_max_sends_first_1024)
{
    fill_many(2000, 1);
    struct msghdr m = {.msg_iov = many, .msg_iovlen = 2000};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_STREAM), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_iov, many);
    cr_assert_eq(res.msg->msg_iovlen, SS_IOV_MAX);
    cr_assert(res.applied & SS_NORM_F_IOV_CAP);
}

Test(normalize, stream_over_iov_max_after_dropping_empty)
{
    fill_many(2100, 1);
    for (int i = 0; i < 2100; i += 3)
        many[i].iov_len = 0; /* 700 empty, 1400 non-empty */
    struct msghdr m = {.msg_iov = many, .msg_iovlen = 2100};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_STREAM), SS_NORM_NEED_BUF);
    size_t need = res.need;
    cr_assert_geq(need, SS_IOV_MAX * sizeof(struct iovec));
    void *x = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct ss_norm_ctx c = ctx_of(SS_STYLE_LINUX, SS_SOCK_STREAM);
    cr_assert_eq(ss_normalize(&m, &c, &scr, x, need, &res), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_iovlen, SS_IOV_MAX);
    for (size_t i = 0; i < SS_IOV_MAX; i++)
        cr_assert_neq(res.msg->msg_iov[i].iov_len, 0);
    cr_assert_eq(res.msg->msg_iov[0].iov_base, many[1].iov_base);
    cr_assert(res.applied & SS_NORM_F_IOV_CAP);
    munmap(x, need);
}

Test(normalize, over_iov_max_but_few_non_empty)
{
    fill_many(1500, 0);
    many[3].iov_len = many[700].iov_len = 1;
    struct msghdr m = {.msg_iov = many, .msg_iovlen = 1500};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_iov, many); /* prefix of the caller's array */
    cr_assert_eq(res.msg->msg_iovlen, 701);
    many[1400].iov_len = 1; /* now past entry 1024: compacted into the scratch */
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_iovlen, 3);
    cr_assert_eq(res.msg->msg_iov[2].iov_base, &bytes[1400]);
}

Test(normalize, datagram_over_iov_max_gathered)
{
    fill_many(1500, 1);
    struct msghdr m = {.msg_iov = many, .msg_iovlen = 1500};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_NEED_BUF);
    size_t need = res.need;
    cr_assert_geq(need, 1500);
    static unsigned char x[1500 + 64];
    struct ss_norm_ctx c = ctx_of(SS_STYLE_LINUX, SS_SOCK_DGRAM);
    cr_assert_eq(ss_normalize(&m, &c, &scr, x, need - 1, &res), SS_NORM_NEED_BUF, "too small is refused");
    cr_assert_eq(ss_normalize(&m, &c, &scr, x, sizeof x, &res), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_iovlen, 1);
    cr_assert_eq(res.msg->msg_iov[0].iov_len, 1500);
    cr_assert(memcmp(res.msg->msg_iov[0].iov_base, bytes, 1500) == 0);
    cr_assert(res.applied & SS_NORM_F_IOV_GATHER);
    /* Unknown socket kind: a datagram is never split either. */
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_UNKNOWN), SS_NORM_NEED_BUF);
}

Test(normalize, datagram_over_iov_max_too_big_emsgsize)
{
    static char big[100];
    for (int i = 0; i < 1100; i++)
        many[i] = (struct iovec){big, sizeof big};
    struct msghdr m = {.msg_iov = many, .msg_iovlen = 1100};
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EMSGSIZE); /* what the kernel says (probe t5: iovlen 1025) */
    cr_assert(strstr(diag, "110000 bytes"), "%s", diag);
}

/* ---- control: NULL / empty --------------------------------------------------- */

Test(normalize, control_null_with_length)
{
    struct msghdr m = msg_ctl(NULL, 10); /* the kernel: EFAULT */
    expect_no_control(&m, "NULL control of 10 bytes");
    cr_assert_eq(res.applied, SS_NORM_F_CTL_NONE);
}

Test(normalize, control_buffer_with_zero_length)
{
    struct msghdr m = msg_ctl(&cb, 0);
    expect_no_control(&m, "control buffer of 0 bytes");
    cr_assert_eq(res.applied, SS_NORM_F_CTL_NONE);
}

/* ---- control: trailing zeros ----------------------------------------------------- */

Test(normalize, trailing_zeros_trimmed)
{
    size_t n = cb_one_fd(5);
    struct msghdr m = msg_ctl(&cb, n + 16); /* the kernel: EINVAL (probe t5) */
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_control, &cb);
    cr_assert_eq(res.msg->msg_controllen, n);
    cr_assert_eq(res.applied, SS_NORM_F_CTL_TRIM);
    m.msg_controllen = n + 200;
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_controllen, n);
}

Test(normalize, all_zero_control_trimmed_to_none)
{
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, 16); /* cmsg_len 0: the kernel says EINVAL */
    expect_no_control(&m, "16 zero bytes of control");
}

/* ---- control: invalid lengths ----------------------------------------------------- */

Test(normalize, cmsg_len_below_header_einval)
{
    size_t n = cb_one_fd(0);
    cb.h.cmsg_len = 15;
    struct msghdr m = msg_ctl(&cb, n);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EINVAL);
    cr_assert_str_eq(
        diag, "message 0: control message 0 has cmsg_len 15, below the 16-byte header (24 bytes left)");
}

Test(normalize, second_cmsg_past_controllen_einval)
{
    size_t n = cb_one_fd(0);
    struct cmsghdr h = {.cmsg_len = 64, .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS};
    memcpy(cb.b + n, &h, sizeof h);
    struct msghdr m = msg_ctl(&cb, n + 24);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EINVAL);
    cr_assert_str_eq(diag,
                     "message 0: control message 1 has cmsg_len 64, past msg_controllen (24 bytes left)");
}

/* ---- SCM_MAX_FD ---------------------------------------------------------------------- */

static size_t rights(void *p, int nfds)
{
    static int fds[300];
    return put_linux(p, SOL_SOCKET, SCM_RIGHTS, fds, nfds * sizeof(int));
}

Test(normalize, scm_max_fd)
{
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, rights(cb.b, 253));
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_UNCHANGED);
    m.msg_controllen = rights(cb.b, 254);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EINVAL);
    cr_assert(strstr(diag, "254 descriptors"), "%s", diag);
}

Test(normalize, scm_max_fd_across_messages)
{
    memset(&cb, 0, sizeof cb);
    size_t n = rights(cb.b, 200);
    n += rights(cb.b + n, 100);
    struct msghdr m = msg_ctl(&cb, n);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EINVAL);
    cr_assert_str_eq(diag, "message 0: control message 1 brings SCM_RIGHTS to 300 descriptors, above "
                           "SCM_MAX_FD (253)");
}

/* ---- misaligned ---------------------------------------------------------------------- */

Test(normalize, misaligned_repacked)
{
    int a = 7, b = 9;
    memset(&cb, 0, sizeof cb);
    put_linux(cb.b, SOL_SOCKET, SCM_RIGHTS, &a, 4);
    put_linux(cb.b + CMSG_LEN(4), SOL_SOCKET, SCM_RIGHTS, &b, 4); /* at 20, not 24 */
    struct msghdr m = msg_ctl(&cb, 2 * CMSG_LEN(4));
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
    cr_assert(res.applied & SS_NORM_F_CMSG_REPACK);
    cr_assert_eq(res.msg->msg_controllen, 2 * CMSG_SPACE(4));
    cr_assert_eq(*(int *)CMSG_DATA(out_cmsg(0)), 7);
    cr_assert_eq(out_cmsg(CMSG_SPACE(4))->cmsg_len, CMSG_LEN(4));
    cr_assert_eq(*(int *)CMSG_DATA(out_cmsg(CMSG_SPACE(4))), 9);
}

/* Fewer bytes than a header after the aligned end of the last message: the
 * kernel stops there (__cmsg_nxthdr) and ignores them, so they are never
 * read at the unaligned offset as a message of their own (issue 13: they
 * became an IP_TTL 1, or a 19-byte IP_TTL the kernel refuses). */
static void junk_after(size_t first, size_t controllen)
{
    memset(&cb, 0xab, sizeof cb);
    struct cmsghdr h = {.cmsg_len = first, .cmsg_level = 0x1234, .cmsg_type = 0};
    memcpy(cb.b, &h, sizeof h);
    h = (struct cmsghdr){.cmsg_len = controllen - first, .cmsg_level = IPPROTO_IP, .cmsg_type = IP_TTL};
    memcpy(cb.b + first, &h, sizeof h);
    int one = 1;
    if (controllen - first >= CMSG_LEN(sizeof one))
        memcpy(cb.b + first + sizeof h, &one, sizeof one);
    struct msghdr m = msg_ctl(&cb, controllen);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_UNCHANGED, "%s", diag);
    cr_assert_eq(res.msg, &m);
}

Test(normalize, junk_the_kernel_ignores_is_not_repacked)
{
    junk_after(25, 45); /* aligned next header at 32: 13 bytes left */
    junk_after(41, 60); /* at 48: 12 bytes left */
}

/* ---- native private values ----------------------------------------------------------- */

Test(normalize, native_private_scm_creds)
{
    char payload[84] = {0}; /* FreeBSD struct cmsgcred size; content ignored */
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, put_linux(cb.b, SOL_SOCKET, SCM_CREDS, payload, sizeof payload));
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
    cr_assert_eq(creds_calls, 1);
    const struct cmsghdr *c =
        expect_first_cmsg(SOL_SOCKET, SCM_CREDENTIALS, sizeof(struct ucred), "SCM_CREDS");
    struct ucred u;
    memcpy(&u, CMSG_DATA(c), sizeof u);
    cr_assert_eq(u.pid, 4242);
    cr_assert_eq(u.uid, 1001);
    cr_assert_eq(u.gid, 2002);
    cr_assert(res.applied & SS_NORM_F_CMSG_XLATE);
}

Test(normalize, creds_prefilled_without_callback)
{
    char payload[4] = {0};
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, put_linux(cb.b, SOL_SOCKET, SCM_CREDS, payload, 0));
    struct ss_norm_ctx c = ctx_of(SS_STYLE_LINUX, SS_SOCK_DGRAM);
    c.get_creds = NULL;
    c.creds = (struct ss_creds){.pid = 11, .uid = 12, .gid = 13};
    cr_assert_eq(ss_normalize(&m, &c, &scr, NULL, 0, &res), SS_NORM_REWRITTEN);
    struct ucred u;
    memcpy(&u, CMSG_DATA(out_cmsg(0)), sizeof u);
    cr_assert_eq(u.pid, 11);
    cr_assert_eq(u.gid, 13);
}

Test(normalize, native_private_ip_sendsrcaddr)
{
    struct in_addr a = {htonl(0x7f00002a)};
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, put_linux(cb.b, IPPROTO_IP, IP_SENDSRCADDR, &a, sizeof a));
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
    const struct cmsghdr *c =
        expect_first_cmsg(IPPROTO_IP, IP_PKTINFO, sizeof(struct in_pktinfo), "IP_SENDSRCADDR");
    struct in_pktinfo pi;
    memcpy(&pi, CMSG_DATA(c), sizeof pi);
    cr_assert_eq(pi.ipi_spec_dst.s_addr, a.s_addr);
    cr_assert_eq(pi.ipi_ifindex, 0);
    cr_assert_eq(pi.ipi_addr.s_addr, 0);
    cr_assert_eq(creds_calls, 0, "credentials asked only for SCM_CREDS");
}

Test(normalize, sendsrcaddr_payload_too_short)
{
    char two[2] = {1, 2};
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, put_linux(cb.b, IPPROTO_IP, IP_SENDSRCADDR, two, 2));
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EINVAL);
    cr_assert(strstr(diag, "IP_SENDSRCADDR"), "%s", diag);
}

/* ---- BSD layouts ----------------------------------------------------------------------- */

struct bsd_style {
    enum ss_style style;
    unsigned off, al;
};
static const struct bsd_style bsds[] = {
    {SS_STYLE_FREEBSD, 16, 8}, {SS_STYLE_NETBSD, 16, 8}, {SS_STYLE_OPENBSD, 16, 8}, {SS_STYLE_MACOS, 12, 4}};

Test(normalize_bsd, scm_rights_every_style)
{
    for (size_t i = 0; i < sizeof bsds / sizeof bsds[0]; i++) {
        const struct bsd_style *b = &bsds[i];
        int fds[2] = {1, 4};
        memset(&cb, 0, sizeof cb);
        size_t n = put_bsd(cb.b, b->off, b->al, 0xffff, 1, fds, sizeof fds);
        n += put_bsd(cb.b + n, b->off, b->al, 0xffff, 1, fds + 1, 4);
        struct msghdr m = msg_ctl(&cb, n);
        cr_assert_eq(norm(&m, b->style, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s: %s", ss_style_name(b->style),
                     diag);
        cr_assert(res.applied & SS_NORM_F_CMSG_BSD);
        const struct cmsghdr *c = expect_first_cmsg(SOL_SOCKET, SCM_RIGHTS, 8, ss_style_name(b->style));
        cr_assert(memcmp(CMSG_DATA(c), fds, 8) == 0);
        c = out_cmsg(CMSG_SPACE(8));
        cr_assert_eq(c->cmsg_len, CMSG_LEN(4));
        cr_assert_eq(*(int *)CMSG_DATA(c), 4);
        cr_assert_eq(res.msg->msg_controllen, CMSG_SPACE(8) + CMSG_SPACE(4));
    }
}

static int kernel_errno(const struct msghdr *m, int type);

Test(normalize_bsd, raw_bsd_rights_never_reach_linux_in_native_mode)
{
    /* In native mode nothing is guessed. A BSD header's level word sits in
     * Linux's upper half of cmsg_len: masking it would turn a macOS
     * SCM_RIGHTS into a Linux SCM_RIGHTS without descriptors (fd lost), so
     * it is EINVAL, as the kernel says for the raw buffer. */
    for (size_t i = 0; i < sizeof bsds / sizeof bsds[0]; i++) {
        int fd = 1;
        memset(&cb, 0, sizeof cb);
        struct msghdr m = msg_ctl(&cb, put_bsd(cb.b, bsds[i].off, bsds[i].al, 0xffff, 1, &fd, 4));
        cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_ERROR, "%s",
                     ss_style_name(bsds[i].style));
        cr_assert_eq(res.err, EINVAL);
        cr_assert(strstr(diag, "BSD-layout"), "%s", diag);
        cr_assert_eq(kernel_errno(&m, SOCK_DGRAM), EINVAL);
    }
}

Test(normalize_bsd, scm_creds_per_style)
{
    static const struct {
        enum ss_style style;
        unsigned off, al;
        int type;
    } t[] = {{SS_STYLE_FREEBSD, 16, 8, 0x03}, {SS_STYLE_MACOS, 12, 4, 0x03}, {SS_STYLE_NETBSD, 16, 8, 0x10}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char cmsgcred[84] = {0};
        memset(&cb, 0, sizeof cb);
        struct msghdr m = msg_ctl(&cb, put_bsd(cb.b, t[i].off, t[i].al, 0xffff, t[i].type, cmsgcred, 84));
        cr_assert_eq(norm(&m, t[i].style, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
        const struct cmsghdr *c = out_cmsg(0);
        cr_assert_eq(c->cmsg_level, SOL_SOCKET);
        cr_assert_eq(c->cmsg_type, SCM_CREDENTIALS);
        struct ucred u;
        memcpy(&u, CMSG_DATA(c), sizeof u);
        cr_assert_eq(u.pid, 4242);
        cr_assert_eq(creds_calls, 1);
        cr_assert_eq(res.msg->msg_controllen, CMSG_SPACE(sizeof u));
    }
}

Test(normalize_bsd, openbsd_has_no_scm_creds)
{
    char payload[4] = {0};
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, put_bsd(cb.b, 16, 8, 0xffff, 0x03, payload, 4));
    cr_assert_eq(norm(&m, SS_STYLE_OPENBSD, SS_SOCK_DGRAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EINVAL);
    cr_assert(strstr(diag, "openbsd layout, level 0xffff type 3"), "%s", diag);
}

Test(normalize_bsd, ip_sendsrcaddr_to_pktinfo)
{
    enum ss_style st[] = {SS_STYLE_FREEBSD, SS_STYLE_NETBSD, SS_STYLE_OPENBSD};
    for (size_t i = 0; i < 3; i++) {
        struct in_addr a = {htonl(0x7f00002a)};
        memset(&cb, 0, sizeof cb);
        struct msghdr m = msg_ctl(&cb, put_bsd(cb.b, 16, 8, IPPROTO_IP, 7, &a, sizeof a));
        cr_assert_eq(norm(&m, st[i], SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
        const struct cmsghdr *c = out_cmsg(0);
        cr_assert_eq(c->cmsg_level, IPPROTO_IP);
        cr_assert_eq(c->cmsg_type, IP_PKTINFO);
        struct in_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        cr_assert_eq(pi.ipi_spec_dst.s_addr, a.s_addr);
    }
}

Test(normalize_bsd, netbsd_and_macos_ip_pktinfo)
{
    struct {
        struct in_addr a;
        unsigned ifindex;
    } nb = {{htonl(0x7f000005)}, 3};
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, put_bsd(cb.b, 16, 8, IPPROTO_IP, 25, &nb, sizeof nb));
    cr_assert_eq(norm(&m, SS_STYLE_NETBSD, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
    struct in_pktinfo pi;
    memcpy(&pi, CMSG_DATA(out_cmsg(0)), sizeof pi);
    cr_assert_eq(out_cmsg(0)->cmsg_type, IP_PKTINFO);
    cr_assert_eq(pi.ipi_ifindex, 3);
    cr_assert_eq(pi.ipi_spec_dst.s_addr, nb.a.s_addr);

    struct in_pktinfo mac = {.ipi_ifindex = 2, .ipi_spec_dst = {htonl(0x7f000006)}};
    memset(&cb, 0, sizeof cb);
    m = msg_ctl(&cb, put_bsd(cb.b, 12, 4, IPPROTO_IP, 26, &mac, sizeof mac));
    cr_assert_eq(norm(&m, SS_STYLE_MACOS, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
    cr_assert_eq(out_cmsg(0)->cmsg_type, IP_PKTINFO);
    cr_assert(memcmp(CMSG_DATA(out_cmsg(0)), &mac, sizeof mac) == 0);
}

Test(normalize_bsd, ipv6_pktinfo_46_to_50)
{
    for (size_t i = 0; i < sizeof bsds / sizeof bsds[0]; i++) {
        struct in6_pktinfo pi = {.ipi6_addr = IN6ADDR_LOOPBACK_INIT, .ipi6_ifindex = 1};
        memset(&cb, 0, sizeof cb);
        struct msghdr m =
            msg_ctl(&cb, put_bsd(cb.b, bsds[i].off, bsds[i].al, IPPROTO_IPV6, 46, &pi, sizeof pi));
        cr_assert_eq(norm(&m, bsds[i].style, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
        cr_assert_eq(out_cmsg(0)->cmsg_level, IPPROTO_IPV6);
        cr_assert_eq(out_cmsg(0)->cmsg_type, IPV6_PKTINFO);
        cr_assert_eq(IPV6_PKTINFO, 50);
        cr_assert(memcmp(CMSG_DATA(out_cmsg(0)), &pi, sizeof pi) == 0);
    }
}

Test(normalize_bsd, unknown_bsd_ip_type_rejected)
{
    int tos = 0x10; /* BSD IP_TOS is 3; Linux IPPROTO_IP 3 means something else */
    memset(&cb, 0, sizeof cb);
    /* level IPPROTO_IPV6, BSD IPV6_DSTOPTS 50 == Linux IPV6_PKTINFO */
    struct msghdr m = msg_ctl(&cb, put_bsd(cb.b, 16, 8, IPPROTO_IPV6, 50, &tos, 4));
    cr_assert_eq(norm(&m, SS_STYLE_FREEBSD, SS_SOCK_DGRAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EINVAL);
}

Test(normalize_bsd, other_levels_keep_numbers)
{
    int v = 1;
    memset(&cb, 0, sizeof cb);
    size_t n = put_bsd(cb.b, 16, 8, 0xffff, 1, &v, 4); /* makes the buffer clearly BSD */
    n += put_bsd(cb.b + n, 16, 8, IPPROTO_SCTP, 2, &v, 4);
    struct msghdr m = msg_ctl(&cb, n);
    cr_assert_eq(norm(&m, SS_STYLE_FREEBSD, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
    cr_assert_eq(out_cmsg(CMSG_SPACE(4))->cmsg_level, IPPROTO_SCTP);
    cr_assert_eq(out_cmsg(CMSG_SPACE(4))->cmsg_type, 2);
}

Test(normalize_bsd, linux_layout_private_values_in_bsd_style)
{
    /* A program built on Linux with sendshim.h, run with --flags=freebsd. */
    struct in_addr a = {htonl(0x7f000001)};
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, put_linux(cb.b, IPPROTO_IP, IP_SENDSRCADDR, &a, sizeof a));
    cr_assert_eq(norm(&m, SS_STYLE_FREEBSD, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
    cr_assert_eq(res.applied & SS_NORM_F_CMSG_BSD, 0);
    cr_assert_eq(out_cmsg(0)->cmsg_type, IP_PKTINFO);
}

Test(normalize_bsd, linux_layout_bsd_sol_socket_translated)
{
    int fd = 2; /* level 0xffff in a glibc header: Linux would drop the fd */
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, put_linux(cb.b, 0xffff, 1, &fd, 4));
    cr_assert_eq(norm(&m, SS_STYLE_NETBSD, SS_SOCK_DGRAM), SS_NORM_REWRITTEN, "%s", diag);
    cr_assert_eq(out_cmsg(0)->cmsg_level, SOL_SOCKET);
    cr_assert_eq(out_cmsg(0)->cmsg_type, SCM_RIGHTS);
    cr_assert_eq(*(int *)CMSG_DATA(out_cmsg(0)), 2);
}

Test(normalize_bsd, bsd_cmsg_len_below_header)
{
    int fd = 0;
    memset(&cb, 0, sizeof cb);
    size_t n = put_bsd(cb.b, 12, 4, 0xffff, 1, &fd, 4);
    uint32_t bad = 8;
    memcpy(cb.b, &bad, 4);
    struct msghdr m = msg_ctl(&cb, n);
    cr_assert_eq(norm(&m, SS_STYLE_MACOS, SS_SOCK_DGRAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EINVAL);
    cr_assert_str_eq(diag,
                     "message 0: control message 0 has cmsg_len 8, below the 12-byte header (16 bytes left)");
}

/* ---- bounded copy ------------------------------------------------------------------ */

Test(normalize, large_valid_control_passed_through)
{
    memset(&cb, 0, sizeof cb);
    size_t n = 0;
    int v = 1;
    while (n + CMSG_SPACE(4) <= 6000)
        n += put_linux(cb.b + n, 12345, 1, &v, 4); /* unknown level: the kernel ignores it */
    struct msghdr m = msg_ctl(&cb, n);
    cr_assert_gt(n, SS_NORM_CTL_COPY);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_UNCHANGED);
    m.msg_controllen = n + 32; /* trailing zeros: trimmed without a copy */
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_control, &cb);
    cr_assert_eq(res.msg->msg_controllen, n);
}

Test(normalize, large_control_needing_rewrite_asks_for_buffer)
{
    memset(&cb, 0, sizeof cb);
    size_t n = 0;
    int v = 1;
    for (int i = 0; i < 250; i++) /* 250 SCM_RIGHTS of one fd: 250 <= SCM_MAX_FD */
        n += put_bsd(cb.b + n, 12, 4, 0xffff, 1, &v, 4);
    struct msghdr m = msg_ctl(&cb, n);
    cr_assert_eq(norm(&m, SS_STYLE_MACOS, SS_SOCK_DGRAM), SS_NORM_NEED_BUF, "%s", diag);
    size_t need = res.need;
    cr_assert_geq(need, 250 * CMSG_SPACE(4));
    void *x = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct ss_norm_ctx c = ctx_of(SS_STYLE_MACOS, SS_SOCK_DGRAM);
    cr_assert_eq(ss_normalize(&m, &c, &scr, x, need, &res), SS_NORM_REWRITTEN);
    cr_assert_eq(res.msg->msg_controllen, 250 * CMSG_SPACE(4));
    cr_assert_eq(out_cmsg(249 * CMSG_SPACE(4))->cmsg_type, SCM_RIGHTS);
    munmap(x, need);
}

Test(normalize, control_above_limit_not_read)
{
    /* The kernel answers ENOBUFS; the library must not read 1 GiB. */
    struct msghdr m = msg_ctl(&cb, (size_t)1 << 30);
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_UNCHANGED);
}

Test(normalize, no_diag_buffer)
{
    struct ss_norm_ctx c = {.kind = SS_SOCK_DGRAM};
    cr_assert_eq(ss_normalize(NULL, &c, &scr, NULL, 0, &res), SS_NORM_ERROR);
    cr_assert_eq(res.err, EFAULT);
}

Test(normalize, scratch_is_modest)
{
    cr_assert_leq(sizeof(struct ss_norm_scratch), 6 * 1024);
}

/* ---- sendmmsg ------------------------------------------------------------------------- */

Test(normalize, batch_failure_at_k_truncates)
{
    static struct mmsghdr v[3];
    memset(v, 0, sizeof v);
    size_t n = cb_one_fd(0);
    cb.h.cmsg_len = 15;
    for (int i = 0; i < 3; i++)
        v[i].msg_hdr = msg_ctl(NULL, 0);
    v[1].msg_hdr = msg_ctl(&cb, n);
    struct ss_norm_ctx c = ctx_of(SS_STYLE_LINUX, SS_SOCK_DGRAM);
    unsigned k;
    cr_assert_eq(ss_normalize_batch(v, 3, &c, &scr, &k, &res), SS_NORM_ERROR);
    cr_assert_eq(k, 1);
    cr_assert_eq(res.err, EINVAL);
    cr_assert(strncmp(diag, "message 1: control message 0", 28) == 0, "%s", diag);
}

Test(normalize, batch_unchanged_and_capped)
{
    static struct mmsghdr v[2000];
    for (int i = 0; i < 2000; i++)
        v[i].msg_hdr = msg_ctl(NULL, 0);
    struct ss_norm_ctx c = ctx_of(SS_STYLE_LINUX, SS_SOCK_DGRAM);
    unsigned k;
    cr_assert_eq(ss_normalize_batch(v, 2000, &c, &scr, &k, &res), SS_NORM_UNCHANGED);
    cr_assert_eq(k, SS_MMSG_VLEN_MAX);
    v[5].msg_hdr.msg_namelen = 4; /* name NULL with a length */
    cr_assert_eq(ss_normalize_batch(v, 2000, &c, &scr, &k, &res), SS_NORM_REWRITTEN);
    cr_assert_eq(k, 5);
}

/* ---- the kernel as oracle: each error case fails there with the same errno ------ */

static int kernel_errno(const struct msghdr *m, int type)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, type, 0, sv), 0);
    errno = 0;
    ssize_t r = sendmsg(sv[0], m, MSG_DONTWAIT | MSG_NOSIGNAL);
    int e = r < 0 ? errno : 0;
    close(sv[0]);
    close(sv[1]);
    return e;
}

/* The library refuses `m` with the errno the kernel gives for it; `what`
 * names the case. */
static void expect_kernel_errno(const struct msghdr *m, const char *what)
{
    cr_assert_eq(norm(m, SS_STYLE_LINUX, SS_SOCK_DGRAM), SS_NORM_ERROR, "%s: not refused", what);
    int kernel = kernel_errno(m, SOCK_DGRAM);
    cr_assert_eq(res.err, kernel, "%s: errno %d, the kernel's %d", what, res.err, kernel);
}

Test(normalize, error_errnos_match_kernel)
{
    size_t n = cb_one_fd(0);
    cb.h.cmsg_len = 15;
    struct msghdr m = msg_ctl(&cb, n);
    expect_kernel_errno(&m, "cmsg_len below the header");

    cb.h.cmsg_len = n + 8;
    expect_kernel_errno(&m, "cmsg_len past msg_controllen");

    memset(&cb, 0, sizeof cb);
    m = msg_ctl(&cb, rights(cb.b, 254));
    expect_kernel_errno(&m, "254 descriptors");

    static char big[100];
    for (int i = 0; i < 1100; i++)
        many[i] = (struct iovec){big, sizeof big};
    struct msghdr d = {.msg_iov = many, .msg_iovlen = 1100};
    expect_kernel_errno(&d, "1100 iovecs of 100 bytes");

    struct msghdr f = {.msg_iov = NULL, .msg_iovlen = 2};
    expect_kernel_errno(&f, "msg_iov NULL with msg_iovlen 2");
}

/* ---- memory the kernel would refuse (issue 13) ---------------------------------------- */

/* A fake kernel: every region is readable except those that touch `hole`. */
static const void *hole;
static int asked;
static int fake_readable(const struct iovec *r, size_t n)
{
    asked++;
    for (size_t i = 0; i < n; i++)
        if ((const char *)hole >= (const char *)r[i].iov_base &&
            (const char *)hole < (const char *)r[i].iov_base + r[i].iov_len)
            return 0;
    return 1;
}

static enum ss_norm_status norm_mem(const struct msghdr *m, enum ss_sock_kind kind, const void *bad)
{
    struct ss_norm_ctx c = ctx_of(SS_STYLE_LINUX, kind);
    c.readable = fake_readable;
    hole = bad;
    asked = 0;
    memset(&res, 0xa5, sizeof res);
    return ss_normalize(m, &c, &scr, NULL, 0, &res);
}

/* An array of up to 1024 entries is not read, nor asked about: the kernel
 * reads it, and says EFAULT when it cannot (an address no page backs here
 * would crash this test if it were read). */
Test(normalize, short_iovec_array_is_never_read)
{
    int fd = 0;
    memset(&cb, 0, sizeof cb);
    struct msghdr m = msg_ctl(&cb, put_linux(cb.b, SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd));
    m.msg_iov = (struct iovec *)16;
    m.msg_iovlen = 1024;
    cr_assert_eq(norm_mem(&m, SS_SOCK_DGRAM, NULL), SS_NORM_UNCHANGED, "%s", diag);
    cr_assert_eq(asked, 0);
    m.msg_controllen |= (size_t)1 << 40; /* rewritten: the array is still the program's, unread */
    cr_assert_eq(norm_mem(&m, SS_SOCK_DGRAM, NULL), SS_NORM_REWRITTEN, "%s", diag);
    cr_assert_eq(res.msg->msg_iov, (struct iovec *)16);
}

Test(normalize, unreadable_beyond_iov_max_is_emsgsize)
{
    static struct iovec v[1100];
    for (int i = 0; i < 1100; i++)
        v[i] = (struct iovec){"x", 1};
    struct msghdr m = {.msg_iov = v, .msg_iovlen = 1100};
    /* The array: the kernel refuses more than 1024 entries unread. */
    cr_assert_eq(norm_mem(&m, SS_SOCK_STREAM, &v[1050]), SS_NORM_ERROR);
    cr_assert_eq(res.err, EMSGSIZE);
    cr_assert(strstr(diag, "the array of 1100 iovecs cannot be read"), "%s", diag);
    /* The data a datagram gathers. */
    static char bad[1];
    v[700].iov_base = bad;
    cr_assert_eq(norm_mem(&m, SS_SOCK_DGRAM, bad), SS_NORM_ERROR);
    cr_assert_eq(res.err, EMSGSIZE);
    cr_assert(strstr(diag, "the data of 1100 iovecs cannot be read"), "%s", diag);
    /* A stream sends the first 1024 entries and gathers nothing. */
    cr_assert_eq(norm_mem(&m, SS_SOCK_STREAM, bad), SS_NORM_REWRITTEN, "%s", diag);
    /* NULL with more than 1024: EMSGSIZE, as the kernel says before reading. */
    m.msg_iov = NULL;
    cr_assert_eq(norm(&m, SS_STYLE_LINUX, SS_SOCK_STREAM), SS_NORM_ERROR);
    cr_assert_eq(res.err, EMSGSIZE);
}
