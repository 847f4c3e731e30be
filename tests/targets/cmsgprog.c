/* cmsgprog CASE - sends one message shaped by CASE and prints what the
 * receiver got, so a test can run it with and without the library.
 *
 * Cases (all on AF_UNIX socketpairs unless named):
 *   bsd-rights-16    FreeBSD-layout SCM_RIGHTS (12-byte header, data at 16,
 *                    level 0xffff): passes a pipe's read end, the receiver
 *                    reads through it
 *   bsd-rights-12    macOS layout (data at 12)
 *   bsd-creds        FreeBSD SCM_CREDS (type 3) on a dgram pair; the receiver
 *                    has SO_PASSCRED and prints pid/uid/gid match
 *   hdr-creds        the public header's SCM_CREDS (native mode)
 *   bsd-srcaddr      FreeBSD IP_SENDSRCADDR (type 7) 127.0.0.42 on UDP; prints
 *                    the source address the receiver saw
 *   hdr-srcaddr      the public header's IP_SENDSRCADDR (native mode)
 *   upper-iovlen     msg_iovlen with bit 32 set (POSIX says int)
 *   empty-iov        zero-length iovecs between data
 *   iov-1100-stream  1100 one-byte iovecs on a stream pair
 *   iov-1100-dgram   1100 one-byte iovecs on a dgram pair
 *   misaligned       two SCM_RIGHTS, the second header at an unaligned offset
 *   trailing-zeros   a valid SCM_RIGHTS followed by 16 zero bytes
 *   overrun          cmsg_len runs past msg_controllen
 *   fds-254          254 descriptors in one SCM_RIGHTS
 *   mmsg-bad-second  sendmmsg of 3 where message 1 has cmsg_len 15
 *   mmsg-bsd-second  sendmmsg of 3 where message 1 has a FreeBSD SCM_RIGHTS
 *   mmsg-iov-1100-first   sendmmsg of 3 where message 0 has 1100 one-byte iovecs
 *   mmsg-null-iov-second  sendmmsg of 3 where message 1 has msg_iov NULL, msg_iovlen 1
 *   upper-ctl        an SCM_RIGHTS whose cmsg_len and msg_controllen carry
 *                    garbage in their upper 32 bits
 *   junk-ttl         UDP: a control message of an unknown level with cmsg_len
 *                    25, then 20 bytes (fewer than a header after the aligned
 *                    offset 32) that read at offset 25 as IP_TTL 1; the
 *                    receiver prints the TTL it saw (IP_RECVTTL)
 *   junk-einval      UDP: cmsg_len 41, then 19 bytes that read at offset 41
 *                    as an IP_TTL of cmsg_len 19 (msg_controllen 60)
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../shim/sendshim.h"
#include "target.h"

#define BSD_SOL_SOCKET 0xffff

static union {
    struct cmsghdr align;
    unsigned char b[8192];
} ctl;

/* A BSD header: {u32 len; i32 level; i32 type}, data at data_off. */
static size_t put_bsd(unsigned char *p, int level, int type, const void *data, size_t n, size_t data_off)
{
    uint32_t len = (uint32_t)(data_off + n);
    int32_t lv = level, ty = type;
    memcpy(p, &len, 4);
    memcpy(p + 4, &lv, 4);
    memcpy(p + 8, &ty, 4);
    memcpy(p + data_off, data, n);
    return (data_off + n + 7) & ~(size_t)7;
}

static size_t put_linux(unsigned char *p, int level, int type, const void *data, size_t n)
{
    struct cmsghdr h = {.cmsg_len = CMSG_LEN(n), .cmsg_level = level, .cmsg_type = type};
    memcpy(p, &h, sizeof h);
    memcpy(p + sizeof h, data, n);
    return CMSG_SPACE(n);
}

/* Receive one message on fd and print its bytes and what came with it. */
static void receive(int fd)
{
    char data[4096];
    union {
        struct cmsghdr a;
        char b[4096];
    } in;
    struct iovec iov = {data, sizeof data - 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = in.b, .msg_controllen = sizeof in.b};
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 300) <= 0) {
        printf("received nothing\n");
        return;
    }
    ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);
    if (n < 0) {
        printf("recvmsg -1 %s\n", t_errname(errno));
        return;
    }
    data[n] = '\0';
    printf("received %zd bytes%s%s\n", n, n <= 64 ? ": " : "", n <= 64 ? data : "");
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int first;
            memcpy(&first, CMSG_DATA(c), sizeof first);
            char buf[32] = {0};
            ssize_t r = read(first, buf, sizeof buf - 1);
            printf("  SCM_RIGHTS %d fds, first reads %zd '%s'\n", nfd, r, r > 0 ? buf : "");
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred u;
            memcpy(&u, CMSG_DATA(c), sizeof u);
            printf("  SCM_CREDENTIALS pid %s uid %s gid %s\n", u.pid == getpid() ? "ours" : "other",
                   u.uid == getuid() ? "ours" : "other", u.gid == getgid() ? "ours" : "other");
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            printf("  destination %s\n", inet_ntoa(pi.ipi_addr));
        }
    }
}

static int pipe_with(const char *text)
{
    int p[2];
    if (pipe(p))
        t_die("pipe");
    if (write(p[1], text, strlen(text)) < 0)
        t_die("write");
    close(p[1]);
    return p[0];
}

static void show(const char *what, long ret)
{
    t_show(what, ret, errno);
}

static int udp_srcaddr(int type)
{
    struct sockaddr_in a;
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(rx, (struct sockaddr *)&a, sizeof a) || getsockname(rx, (struct sockaddr *)&a, &al))
        t_die("bind");
    struct in_addr src;
    inet_pton(AF_INET, "127.0.0.42", &src);
    size_t len = type == 7 ? put_bsd(ctl.b, IPPROTO_IP, 7, &src, sizeof src, 16)
                           : put_linux(ctl.b, IPPROTO_IP, IP_SENDSRCADDR, &src, sizeof src);
    struct iovec iov = {"src", 3};
    struct msghdr m = {.msg_name = &a,
                       .msg_namelen = sizeof a,
                       .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = ctl.b,
                       .msg_controllen = len};
    show("sendmsg", sendmsg(tx, &m, 0));
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    char buf[16];
    struct pollfd p = {.fd = rx, .events = POLLIN};
    if (poll(&p, 1, 1000) > 0 && recvfrom(rx, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) > 0)
        printf("source %s\n", inet_ntoa(from.sin_addr));
    else
        printf("received nothing\n");
    return 0;
}

/* An unknown level: the kernel's ip_cmsg_send skips it. */
#define JUNK_LEVEL 0x1234

/* Lay a header {len, level, type} at p, as the program's bytes (no padding). */
static void put_raw(unsigned char *p, size_t len, int level, int type)
{
    struct cmsghdr h = {.cmsg_len = len, .cmsg_level = level, .cmsg_type = type};
    memcpy(p, &h, sizeof h);
}

/* The kernel stops walking control messages when the next aligned header
 * would not fit (__cmsg_nxthdr): the bytes after the first message here are
 * never read by it. */
static int udp_junk(int ttl_case)
{
    int s[2], on = 1;
    t_pair("udp", s);
    if (setsockopt(s[1], IPPROTO_IP, IP_RECVTTL, &on, sizeof on))
        t_die("IP_RECVTTL");
    memset(ctl.b, 0xab, 64);
    size_t first = ttl_case ? 25 : 41, len = ttl_case ? 45 : 60;
    put_raw(ctl.b, first, JUNK_LEVEL, 0);
    put_raw(ctl.b + first, len - first, IPPROTO_IP, IP_TTL);
    int one = 1;
    memcpy(ctl.b + first + sizeof(struct cmsghdr), &one,
           len - first - sizeof(struct cmsghdr) < sizeof one ? len - first - sizeof(struct cmsghdr)
                                                             : sizeof one);
    struct iovec iov = {"ttl", 3};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = len};
    errno = 0;
    show("sendmsg", sendmsg(s[0], &m, 0));
    union {
        struct cmsghdr a;
        char b[256];
    } in;
    char buf[16];
    struct iovec riov = {buf, sizeof buf};
    struct msghdr r = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = in.b, .msg_controllen = sizeof in.b};
    struct pollfd p = {.fd = s[1], .events = POLLIN};
    if (poll(&p, 1, 300) <= 0 || recvmsg(s[1], &r, MSG_DONTWAIT) < 0) {
        printf("received nothing\n");
        return 0;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&r); c; c = CMSG_NXTHDR(&r, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
            int ttl;
            memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
            printf("ttl %d\n", ttl);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *c = argv[1];
    int s[2];
    int dgram = !strcmp(c, "bsd-creds") || !strcmp(c, "hdr-creds") || !strcmp(c, "iov-1100-dgram") ||
                !strncmp(c, "mmsg", 4);
    if (!strcmp(c, "bsd-srcaddr"))
        return udp_srcaddr(7);
    if (!strcmp(c, "hdr-srcaddr"))
        return udp_srcaddr(IP_SENDSRCADDR);
    if (!strncmp(c, "junk-", 5))
        return udp_junk(!strcmp(c, "junk-ttl"));
    if (socketpair(AF_UNIX, dgram ? SOCK_DGRAM : SOCK_STREAM, 0, s))
        t_die("socketpair");
    int on = 1;
    if (strstr(c, "creds"))
        setsockopt(s[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    struct iovec iov = {"data", 4};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b};
    int fd = pipe_with("through the pipe");

    if (!strcmp(c, "bsd-rights-16") || !strcmp(c, "bsd-rights-12")) {
        m.msg_controllen = put_bsd(ctl.b, BSD_SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd, c[12] == '6' ? 16 : 12);
        if (c[12] == '2') /* macOS: cmsg_len 16, padded to 4 */
            m.msg_controllen = 16;
    } else if (!strcmp(c, "bsd-creds")) {
        char zeros[84] = {0}; /* FreeBSD struct cmsgcred; its content is the kernel's to fill */
        m.msg_controllen = put_bsd(ctl.b, BSD_SOL_SOCKET, 3, zeros, sizeof zeros, 16);
    } else if (!strcmp(c, "hdr-creds")) {
        struct ucred u = {0};
        m.msg_controllen = put_linux(ctl.b, SOL_SOCKET, SCM_CREDS, &u, sizeof u);
    } else if (!strcmp(c, "upper-iovlen")) {
        m.msg_control = NULL;
        m.msg_iovlen = 1 | (sizeof(size_t) > 4 ? (size_t)1 << 32 : 0);
    } else if (!strcmp(c, "empty-iov")) {
        static struct iovec v[4] = {{"ab", 2}, {"", 0}, {NULL, 0}, {"cd", 2}};
        m.msg_control = NULL;
        m.msg_iov = v;
        m.msg_iovlen = 4;
    } else if (!strncmp(c, "iov-1100", 8)) {
        static struct iovec v[1100];
        for (int i = 0; i < 1100; i++)
            v[i] = (struct iovec){(char *)"x", 1};
        m.msg_control = NULL;
        m.msg_iov = v;
        m.msg_iovlen = 1100;
    } else if (!strcmp(c, "misaligned")) {
        int fd2 = pipe_with("second");
        size_t off = put_linux(ctl.b, SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd) - 4; /* unpadded: 20 */
        off += put_linux(ctl.b + off, SOL_SOCKET, SCM_RIGHTS, &fd2, sizeof fd2) - 4;
        m.msg_controllen = off;
    } else if (!strcmp(c, "upper-ctl")) {
        /* Different garbage: a walk that trusts both steps a terabyte on
         * and still finds itself inside msg_controllen. */
        int wide = sizeof(size_t) > 4;
        m.msg_controllen = put_linux(ctl.b, SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd) |
                           (wide ? (size_t)0x5a5a5a5a << 16 << 16 : 0);
        ((struct cmsghdr *)ctl.b)->cmsg_len |= wide ? (size_t)0x100 << 16 << 16 : 0;
    } else if (!strcmp(c, "trailing-zeros")) {
        m.msg_controllen = put_linux(ctl.b, SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd) + 16;
    } else if (!strcmp(c, "overrun")) {
        m.msg_controllen = put_linux(ctl.b, SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd);
        ((struct cmsghdr *)ctl.b)->cmsg_len = 64;
    } else if (!strcmp(c, "fds-254")) {
        int fds[254];
        for (int i = 0; i < 254; i++)
            fds[i] = fd;
        m.msg_controllen = put_linux(ctl.b, SOL_SOCKET, SCM_RIGHTS, fds, sizeof fds);
    } else if (!strncmp(c, "mmsg", 4)) {
        static union {
            struct cmsghdr a;
            unsigned char b[64];
        } c1;
        struct iovec v[3] = {{"m0", 2}, {"m1", 2}, {"m2", 2}};
        struct mmsghdr mm[3];
        memset(mm, 0, sizeof mm);
        for (int i = 0; i < 3; i++) {
            mm[i].msg_hdr.msg_iov = &v[i];
            mm[i].msg_hdr.msg_iovlen = 1;
            mm[i].msg_len = 0xdead;
        }
        mm[1].msg_hdr.msg_control = c1.b;
        if (!strcmp(c, "mmsg-iov-1100-first")) {
            static struct iovec many[1100];
            for (int i = 0; i < 1100; i++)
                many[i] = (struct iovec){(char *)"x", 1};
            mm[1].msg_hdr.msg_control = NULL;
            mm[0].msg_hdr.msg_iov = many;
            mm[0].msg_hdr.msg_iovlen = 1100;
        } else if (!strcmp(c, "mmsg-null-iov-second")) {
            mm[1].msg_hdr.msg_control = NULL;
            mm[1].msg_hdr.msg_iov = NULL;
        } else if (!strcmp(c, "mmsg-bad-second")) {
            mm[1].msg_hdr.msg_controllen = put_linux(c1.b, SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd);
            c1.a.cmsg_len = 15;
        } else {
            mm[1].msg_hdr.msg_controllen = put_bsd(c1.b, BSD_SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd, 16);
        }
        errno = 0;
        show("sendmmsg", sendmmsg(s[0], mm, 3, 0));
        printf("msg_len %x %x %x\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
        /* A fourth receive: a batch must not send more than it has. */
        for (int i = 0; i < 3 + !strcmp(c, "mmsg-iov-1100-first"); i++)
            receive(s[1]);
        return 0;
    } else {
        fprintf(stderr, "cmsgprog: unknown case %s\n", c);
        return 2;
    }
    errno = 0;
    show("sendmsg", sendmsg(s[0], &m, 0));
    receive(s[1]);
    return 0;
}
