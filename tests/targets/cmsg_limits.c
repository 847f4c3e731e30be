/* cmsg_limits - two kernel facts README's Limits states, shown on real
 * sockets (run with and without the library: the same answer).
 *
 *   rights-empty   a 0-byte sendmsg on a unix stream socket carrying
 *                  SCM_RIGHTS: prints the send's result and what a receive
 *                  gets (BSD delivers the descriptor with no data; Linux
 *                  queues nothing at all)
 *   creds-nopass   the header's SCM_CREDS under the library, the kernel's
 *                  SCM_CREDENTIALS (what it becomes) without, on a unix
 *                  datagram pair, to a receiver without SO_PASSCRED and then
 *                  with it: prints the control messages each got */
#include <fcntl.h>

#include "sendshim.h"
#include "target.h"

static union {
    struct cmsghdr align;
    unsigned char b[256];
} ctl;

static void receive(int fd, const char *label)
{
    char data[16];
    struct iovec iov = {data, sizeof data};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    long n = recvmsg(fd, &m, MSG_DONTWAIT);
    int err = errno;
    if (n < 0) {
        printf("%s recvmsg -1 %s\n", label, t_errname(err));
        return;
    }
    int fds = 0, creds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        fds += c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS;
        creds += c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS;
    }
    printf("%s recvmsg %ld rights %d creds %d\n", label, n, fds, creds);
}

static void rights_empty(void)
{
    int s[2], p[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) || pipe(p))
        t_die("socketpair");
    struct iovec iov = {"", 0};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b};
    m.msg_controllen = CMSG_SPACE(sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_len = CMSG_LEN(sizeof(int));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    memcpy(CMSG_DATA(c), &p[0], sizeof(int));
    long r = sendmsg(s[0], &m, 0);
    t_show("sendmsg", r, errno);
    receive(s[1], "stream");
}

static void creds_nopass(void)
{
    int s[2], on = 1;
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
        t_die("socketpair");
    for (int pass = 0; pass < 2; pass++) {
        if (pass && setsockopt(s[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on))
            t_die("SO_PASSCRED");
        struct ucred u = {getpid(), getuid(), getgid()};
        struct iovec iov = {"data", 4};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b};
        m.msg_controllen = CMSG_SPACE(sizeof u);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_len = CMSG_LEN(sizeof u);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = sendshim_active() ? SCM_CREDS : SCM_CREDENTIALS;
        memcpy(CMSG_DATA(c), &u, sizeof u);
        long r = sendmsg(s[0], &m, 0);
        t_show("sendmsg", r, errno);
        receive(s[1], pass ? "passcred" : "no-passcred");
    }
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "rights-empty"))
        rights_empty();
    else if (argc == 2 && !strcmp(argv[1], "creds-nopass"))
        creds_nopass();
    else
        return 2;
    return 0;
}
