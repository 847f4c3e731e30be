/* compat_sender - a small C client for the compatibility matrix, built with
 * musl-gcc by the tests (and with gcc by the Makefile, like every target).
 *
 *   compat_sender pass          every send-family call and write/writev on a
 *                               socketpair, then what the peer received
 *   compat_sender epipe CALL    CALL (send or write) to a stream peer that is
 *                               closed: prints "CALL -1 EPIPE" and "alive"
 *                               unless SIGPIPE killed it first
 *
 * One line per call: "NAME RESULT" or "NAME -1 ERRNAME". Exit status 0 when
 * it ran to the end (a failed call is output, not an error), 1 on bad usage
 * or when the socketpair cannot be made.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define RECV_MAX 256 /* more than everything "pass" sends */

static const char *errname(int e)
{
    static char num[16];
    switch (e) {
    case EPIPE:
        return "EPIPE";
    case ECONNRESET:
        return "ECONNRESET";
    case EAGAIN:
        return "EAGAIN";
    case EINTR:
        return "EINTR";
    case EINVAL:
        return "EINVAL";
    case ENOTCONN:
        return "ENOTCONN";
    default:
        snprintf(num, sizeof num, "%d", e);
        return num;
    }
}

static void report(const char *name, long ret)
{
    if (ret < 0)
        printf("%s -1 %s\n", name, errname(errno));
    else
        printf("%s %ld\n", name, ret);
    fflush(stdout);
}

static int do_pass(void)
{
    int st[2], dg[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) < 0) {
        perror("socketpair");
        return 1;
    }
    report("send", (long)send(st[0], "hello", 5, 0));
    report("sendto", (long)sendto(st[0], "to", 2, 0, NULL, 0));

    struct iovec iov[2] = {{.iov_base = "ab", .iov_len = 2}, {.iov_base = "cd", .iov_len = 2}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    report("sendmsg", (long)sendmsg(st[0], &mh, 0));
    report("write", (long)write(st[0], "wr", 2));
    report("writev", (long)writev(st[0], iov, 2));

    /* Three datagrams in one call: musl declares sendmmsg with unsigned
     * vlen and flags, glibc with int flags; both accept this call. */
    struct iovec dv[3] = {{.iov_base = "d1", .iov_len = 2},
                          {.iov_base = "d22", .iov_len = 3},
                          {.iov_base = "d333", .iov_len = 4}};
    struct mmsghdr mm[3];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &dv[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    int n = sendmmsg(dg[0], mm, 3, 0);
    report("sendmmsg", n);
    for (int i = 0; i < n; i++)
        printf("msg_len[%d] %u\n", i, mm[i].msg_len);

    char buf[RECV_MAX];
    ssize_t got = recv(st[1], buf, sizeof buf, MSG_DONTWAIT);
    if (got < 0)
        report("stream-recv", -1);
    else
        printf("stream-recv %zd %.*s\n", got, (int)got, buf);
    for (int i = 0; i < n; i++) {
        got = recv(dg[1], buf, sizeof buf, MSG_DONTWAIT);
        if (got < 0)
            report("dgram-recv", -1);
        else
            printf("dgram-recv %zd %.*s\n", got, (int)got, buf);
    }
    return 0;
}

static int do_epipe(const char *call)
{
    int st[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0) {
        perror("socketpair");
        return 1;
    }
    close(st[1]);
    if (!strcmp(call, "send"))
        report("send", (long)send(st[0], "x", 1, 0));
    else if (!strcmp(call, "write"))
        report("write", (long)write(st[0], "x", 1));
    else {
        fprintf(stderr, "compat_sender: epipe: unknown call '%s' (send, write)\n", call);
        return 1;
    }
    /* Reached only when SIGPIPE did not end the process. */
    printf("alive\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "pass"))
        return do_pass();
    if (argc == 3 && !strcmp(argv[1], "epipe"))
        return do_epipe(argv[2]);
    fprintf(stderr, "usage: compat_sender pass | compat_sender epipe send|write\n");
    return 1;
}
