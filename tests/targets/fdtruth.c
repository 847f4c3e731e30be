/* fdtruth - a descriptor number reused behind the library's back, to see that
 * no stale belief about it changes a result (SPEC 6, last point).
 *
 *   fdtruth CASE CLOSER [RECV [CALL]]
 *
 * CLOSER closes the old descriptor(s) at number N the way the library may
 * miss: close_range, closefrom, sys_close (syscall(SYS_close)), fclose
 * (fclose(fdopen(fd)): glibc closes inside libc), or close (the library
 * sees it: a control). RECV receives a socket in SCM_RIGHTS, which lands at
 * N: recvmsg (the library sees it), recvmmsg (not interposed) or
 * sys_recvmsg (syscall(SYS_recvmsg)). Every case prints "number same" when
 * the new descriptor got the old one's number (else "number differs"), then
 * what happened. close_range and closefrom exit 3 after "unsupported CLOSER"
 * where the C library lacks them; "fdtruth libc" prints "glibc X.Y" or
 * "other".
 *
 *   fdtruth plain N
 *
 * N rounds of send, write and recvmsg with no control data on a unix stream
 * socketpair, for counting system calls; prints "plain N failed F" (F sends
 * a fault rule failed).
 *
 * CASE:
 *   file     a UDP socket at N is closed, open() makes a file at N;
 *            "write R" of 12 bytes, then "file SIZE"
 *   pipe     UDP sockets at N and N+1 are closed, pipe() makes N and N+1;
 *            "write R" of 12 bytes to the write end, "read R" from the read
 *            end, then the read end is closed and "write R" again (SIGPIPE
 *            by default), then "alive"
 *   scm-pipe the write end of a pipe at N (written once) is closed; a unix
 *            stream socket whose peer is gone arrives at N; "write R", "alive"
 *   scm-nosigpipe
 *            a unix stream socket with SO_NOSIGPIPE at N is closed; a unix
 *            stream socket whose peer is gone arrives; "getsockopt V", then
 *            CALL (write, writev, send, sendfile, splice; default write)
 *            "CALL R", "alive"
 *   scm-nosigpipe-call
 *            the same without reading the option back
 *   scm-after
 *            a TCP socket at N that sent 20 bytes is closed; a TCP socket
 *            arrives; "send R" of 1 byte, "peer N"
 *   scm-short
 *            a TCP socket at N is closed; a connected UDP socket arrives;
 *            "send R" of a 12-byte datagram, "peer N" (the datagram's size)
 *   scm-drop a UDP socket at N is closed; a TCP socket arrives; "send R" of
 *            12 bytes, "peer N"
 *   scm-drop-udp
 *            a TCP socket at N is closed; a connected UDP socket arrives;
 *            "send R" of a 12-byte datagram, "peer R" (what arrived)
 *   scm-eof  a UDP socket at N is closed; a TCP socket arrives; "send R" of
 *            1 byte with MSG_EOF, then "peer N bytes EOF" or "peer N bytes
 *            open" (no EOF within 2 s)
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "sendshim.h"
#include "target.h"

#define MSG       "hello world\n" /* 12 bytes */
#define MSG_LEN   12
#define EOF_WAIT  2000 /* ms the peer waits for EOF */
#define OLD_BYTES 20   /* what the old TCP socket sent (scm-after) */

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* Print a call's result and errno (read after the call). */
#define SHOW(label, expr)                                                                                    \
    do {                                                                                                     \
        long r_ = (long)(expr);                                                                              \
        t_show(label, r_, errno);                                                                            \
    } while (0)

static const char *closer = "close";

#define EXIT_UNSUPPORTED 3

/* The C library has no such function (musl, glibc before 2.34). */
static __attribute__((unused, noreturn)) void unsupported(void)
{
    printf("unsupported %s\n", closer);
    exit(EXIT_UNSUPPORTED);
}

/* Close fd the way CLOSER says. */
static void close_old(int fd)
{
    if (!strcmp(closer, "close_range")) {
        /* Called through libc's close_range when it has one (glibc 2.34+). */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
        if (close_range((unsigned)fd, (unsigned)fd, 0))
            t_die("close_range");
#else
        unsupported();
#endif
    } else if (!strcmp(closer, "closefrom")) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
        closefrom(fd); /* callers make fd the highest descriptor */
#else
        unsupported();
#endif
    } else if (!strcmp(closer, "sys_close")) {
        if (syscall(SYS_close, fd))
            t_die("SYS_close");
    } else if (!strcmp(closer, "fclose")) {
        FILE *f = fdopen(fd, "w");
        if (!f)
            t_die("fdopen");
        fclose(f);
    } else if (close(fd)) {
        t_die("close");
    }
}

static void show_number(int got, int want)
{
    printf("number %s\n", got == want ? "same" : "differs");
    fflush(stdout);
}

/* A UDP socket bound to loopback (the receiver) and one connected to it. */
static void udp_pair(int s[2])
{
    t_pair("udp", s);
}

/* Send fd over a unix socketpair now; the receiving end is returned, to be
 * read with receive() once the old descriptor is closed. */
static int pass(int fd)
{
    int u[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, u))
        t_die("socketpair");
    char byte = 'f';
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(u[0], &m, 0) != 1)
        t_die("sendmsg SCM_RIGHTS");
    return u[1];
}

/* Receive the descriptor pass() sent on channel, the way RECV says. */
static int receive(int channel, const char *how)
{
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct mmsghdr mm;
    memset(&mm, 0, sizeof mm);
    struct msghdr *m = &mm.msg_hdr;
    m->msg_iov = &iov;
    m->msg_iovlen = 1;
    m->msg_control = ctl.buf;
    m->msg_controllen = sizeof ctl.buf;
    long r;
    if (!strcmp(how, "recvmmsg"))
        r = recvmmsg(channel, &mm, 1, 0, NULL) == 1 ? 1 : -1;
    else if (!strcmp(how, "sys_recvmsg"))
        r = syscall(SYS_recvmsg, channel, m, 0);
    else
        r = recvmsg(channel, m, 0);
    struct cmsghdr *c = CMSG_FIRSTHDR(m);
    if (r != 1 || !c || c->cmsg_type != SCM_RIGHTS)
        t_die("receive SCM_RIGHTS");
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

/* How many bytes the peer reads within EOF_WAIT ms, and whether it saw EOF. */
static void peer_report(int fd, int want_eof)
{
    char buf[64];
    long total = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, want_eof ? EOF_WAIT : 500) <= 0) {
            printf(want_eof ? "peer %ld bytes open\n" : "peer %ld\n", total);
            break;
        }
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            printf(want_eof ? "peer %ld bytes EOF\n" : "peer %ld\n", total);
            break;
        }
        total += n;
        if (!want_eof)
            continue;
    }
    fflush(stdout);
}

static void case_file(void)
{
    int s[2];
    udp_pair(s);
    int n = s[0];
    close_old(n);
    char path[] = "/tmp/fdtruth.XXXXXX";
    int tmp = mkstemp(path);
    if (tmp < 0)
        t_die("mkstemp");
    unlink(path);
    /* mkstemp's descriptor is the lowest free number: the socket's. */
    show_number(tmp, n);
    SHOW("write", write(tmp, MSG, MSG_LEN));
    struct stat st;
    if (fstat(tmp, &st))
        t_die("fstat");
    printf("file %ld\n", (long)st.st_size);
}

static void case_pipe(void)
{
    int a[2], b[2];
    udp_pair(a);
    udp_pair(b); /* b[1] < b[0]: the receiver is made first */
    int lo = b[1], hi = b[0];
    if (hi != lo + 1)
        t_die("udp_pair numbers");
    if (!strcmp(closer, "closefrom")) {
        close_old(lo);
    } else {
        close_old(hi);
        close_old(lo);
    }
    int p[2];
    if (pipe(p))
        t_die("pipe");
    show_number(p[1], hi);
    SHOW("write", write(p[1], MSG, MSG_LEN));
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    char buf[64];
    SHOW("read", read(p[0], buf, sizeof buf));
    close(p[0]);
    SHOW("write", write(p[1], MSG, MSG_LEN));
    puts("alive");
}

/* A unix stream socket whose peer is closed. */
static int orphan_unix(void)
{
    int u[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, u))
        t_die("socketpair");
    close(u[1]);
    return u[0];
}

static long do_call(const char *call, int fd)
{
    struct iovec iov = {MSG, MSG_LEN};
    if (!strcmp(call, "writev"))
        return writev(fd, &iov, 1);
    if (!strcmp(call, "send"))
        return send(fd, MSG, MSG_LEN, 0);
    if (!strcmp(call, "sendfile")) {
        char path[] = "/tmp/fdtruth.XXXXXX";
        int f = mkstemp(path);
        if (f < 0 || write(f, MSG, MSG_LEN) != MSG_LEN)
            t_die("mkstemp");
        unlink(path);
        lseek(f, 0, SEEK_SET);
        return sendfile(fd, f, NULL, MSG_LEN);
    }
    if (!strcmp(call, "splice")) { /* one end must be a pipe */
        int p[2];
        if (pipe(p) || write(p[1], MSG, MSG_LEN) != MSG_LEN)
            t_die("pipe");
        return splice(p[0], NULL, fd, NULL, MSG_LEN, 0);
    }
    return write(fd, MSG, MSG_LEN);
}

#define PARK_MAX 64 /* numbers below N a case may have to fill */

/* Fill every free number below n with /dev/null, so that n, once closed,
 * is where the next descriptor lands. Returns how many were parked in park. */
static int park_below(int n, int park[PARK_MAX])
{
    int np = 0;
    for (int i = 0; i < n; i++) {
        if (fcntl(i, F_GETFD) >= 0)
            continue;
        if (np == PARK_MAX)
            t_die("too many free numbers");
        int d = open("/dev/null", O_RDONLY);
        if (d != i)
            t_die("park");
        park[np++] = d;
    }
    return np;
}

/* `old` (the highest descriptor: closefrom closes from it up) is closed the
 * way CLOSER says while `incoming` travels in SCM_RIGHTS; it arrives at old's
 * number. Returns the received descriptor. */
static int swap_at(int old, int incoming, const char *recv_how)
{
    int channel = pass(incoming);
    close(incoming);
    int park[PARK_MAX];
    int np = park_below(old, park);
    close_old(old);
    int got = receive(channel, recv_how);
    for (int i = 0; i < np; i++)
        close(park[i]);
    close(channel);
    show_number(got, old);
    return got;
}

/* Move fd above every other descriptor (closefrom closes from it up). */
static int highest(int fd)
{
    int h = fcntl(fd, F_DUPFD, PARK_MAX / 2);
    if (h < 0)
        t_die("F_DUPFD");
    close(fd);
    return h;
}

static void case_scm_pipe(const char *recv_how)
{
    int p[2];
    if (pipe(p))
        t_die("pipe");
    int old = highest(p[1]);
    /* The library learns the pipe is a pipe (under SENDSHIM_NOSIGPIPE=1 a
     * write asks once). */
    SHOW("write", write(old, "x", 1));
    int got = swap_at(old, orphan_unix(), recv_how);
    SHOW("write", write(got, MSG, MSG_LEN));
    puts("alive");
}

static void case_scm_nosigpipe(const char *recv_how, const char *call, int read_option)
{
    int old = highest(orphan_unix());
    int on = 1;
    if (setsockopt(old, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on))
        SHOW("setsockopt", -1);
    int got = swap_at(old, orphan_unix(), recv_how);
    int v = -1;
    socklen_t len = sizeof v;
    if (!read_option)
        ; /* the call alone must find out */
    else if (getsockopt(got, SOL_SOCKET, SO_NOSIGPIPE, &v, &len))
        SHOW("getsockopt", -1);
    else
        printf("getsockopt %d\n", v != 0);
    fflush(stdout);
    SHOW(call, do_call(call, got));
    puts("alive");
}

static void case_scm_after(const char *recv_how)
{
    int o[2], t[2];
    t_pair("tcp", o);
    int old = highest(o[0]);
    char buf[OLD_BYTES] = {0};
    SHOW("old", send(old, buf, sizeof buf, 0));
    t_pair("tcp", t);
    int got = swap_at(old, t[0], recv_how);
    SHOW("send", send(got, "x", 1, 0));
    peer_report(t[1], 0);
}

static void case_scm_udp_where_tcp_was(const char *recv_how)
{
    int o[2], u[2];
    t_pair("tcp", o);
    int old = highest(o[0]);
    udp_pair(u);
    int got = swap_at(old, u[0], recv_how);
    SHOW("send", send(got, MSG, MSG_LEN, 0));
    char buf[64];
    SHOW("peer", recv(u[1], buf, sizeof buf, MSG_DONTWAIT));
}

static void case_scm_drop(const char *recv_how)
{
    int o[2], t[2];
    udp_pair(o);
    int old = highest(o[0]);
    t_pair("tcp", t);
    int got = swap_at(old, t[0], recv_how);
    SHOW("send", send(got, MSG, MSG_LEN, 0));
    peer_report(t[1], 0);
}

static void case_scm_eof(const char *recv_how)
{
    int o[2], t[2];
    udp_pair(o);
    int old = highest(o[0]);
    t_pair("tcp", t);
    int got = swap_at(old, t[0], recv_how);
    SHOW("send", send(got, "x", 1, MSG_EOF));
    peer_report(t[1], 1);
}

/* N rounds of send, write and recvmsg (no control data) on a unix stream
 * socketpair; a send a fault rule failed is counted, not fatal. */
static void case_plain(int n)
{
    int failed = 0;
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s))
        t_die("socketpair");
    char buf[4];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    for (int i = 0; i < n; i++) {
        failed += send(s[0], "x", 1, 0) != 1;
        if (write(s[0], "y", 1) != 1 || recvmsg(s[1], &m, 0) < 1)
            t_die("plain round");
    }
    printf("plain %d failed %d\n", n, failed);
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "libc")) {
#ifdef __GLIBC__
        printf("glibc %d.%d\n", __GLIBC__, __GLIBC_MINOR__);
#else
        puts("other");
#endif
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "plain")) {
        case_plain(atoi(argv[2]));
        return 0;
    }
    if (argc < 3)
        return 2;
    const char *c = argv[1];
    closer = argv[2];
    const char *recv_how = argc > 3 ? argv[3] : "recvmsg";
    const char *call = argc > 4 ? argv[4] : "write";
    if (!strcmp(c, "file"))
        case_file();
    else if (!strcmp(c, "pipe"))
        case_pipe();
    else if (!strcmp(c, "scm-pipe"))
        case_scm_pipe(recv_how);
    else if (!strcmp(c, "scm-nosigpipe") || !strcmp(c, "scm-nosigpipe-call"))
        case_scm_nosigpipe(recv_how, call, !strcmp(c, "scm-nosigpipe"));
    else if (!strcmp(c, "scm-after"))
        case_scm_after(recv_how);
    else if (!strcmp(c, "scm-short"))
        case_scm_udp_where_tcp_was(recv_how);
    else if (!strcmp(c, "scm-drop"))
        case_scm_drop(recv_how);
    else if (!strcmp(c, "scm-drop-udp"))
        case_scm_udp_where_tcp_was(recv_how);
    else if (!strcmp(c, "scm-eof"))
        case_scm_eof(recv_how);
    else
        return 2;
    fflush(stdout);
    return 0;
}
