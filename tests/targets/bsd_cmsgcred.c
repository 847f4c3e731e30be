/* bsd_cmsgcred - FreeBSD-style code that sends its credentials: the SCM_CREDS
 * message is sized with struct cmsgcred, which comes from sendshim.h alone
 * (this file compiling is the first test). The receiver, a Linux socket with
 * SO_PASSCRED, prints what arrived.
 *
 * Prints "sizeof N offsets PID UID EUID GID NGROUPS GROUPS", "sendmsg
 * RESULT" and, when something arrived, "received N bytes" and one line per
 * control message ("SCM_CREDENTIALS pid ours|other uid ... gid ..."). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sendshim.h"

int main(void)
{
    printf("sizeof %zu offsets %zu %zu %zu %zu %zu %zu\n", sizeof(struct cmsgcred),
           offsetof(struct cmsgcred, cmcred_pid), offsetof(struct cmsgcred, cmcred_uid),
           offsetof(struct cmsgcred, cmcred_euid), offsetof(struct cmsgcred, cmcred_gid),
           offsetof(struct cmsgcred, cmcred_ngroups), offsetof(struct cmsgcred, cmcred_groups));
    int s[2], on = 1;
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s) || setsockopt(s[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on))
        return 99;

    /* The way FreeBSD's own tests send SCM_CREDS: room for a cmsgcred, left
     * zeroed for the kernel to fill. */
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(struct cmsgcred))];
    } out;
    memset(&out, 0, sizeof out);
    struct iovec iov = {"data", 4};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = out.buf, .msg_controllen = sizeof out.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_len = CMSG_LEN(sizeof(struct cmsgcred));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDS;
    long r = sendmsg(s[0], &m, 0);
    int err = errno;
    if (r < 0)
        printf("sendmsg -1 %s\n", err == EINVAL ? "EINVAL" : strerror(err));
    else
        printf("sendmsg %ld\n", r);
    if (r < 0)
        return 0;

    union {
        struct cmsghdr hdr;
        char buf[256];
    } in;
    char data[16];
    struct iovec riov = {data, sizeof data};
    struct msghdr rm = {
        .msg_iov = &riov, .msg_iovlen = 1, .msg_control = in.buf, .msg_controllen = sizeof in.buf};
    long n = recvmsg(s[1], &rm, MSG_DONTWAIT);
    printf("received %ld bytes\n", n);
    for (struct cmsghdr *h = n < 0 ? NULL : CMSG_FIRSTHDR(&rm); h; h = CMSG_NXTHDR(&rm, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_CREDENTIALS) {
            printf("  level %d type %d\n", h->cmsg_level, h->cmsg_type);
            continue;
        }
        struct ucred u;
        memcpy(&u, CMSG_DATA(h), sizeof u);
        printf("  SCM_CREDENTIALS pid %s uid %s gid %s\n", u.pid == getpid() ? "ours" : "other",
               u.uid == getuid() ? "ours" : "other", u.gid == getgid() ? "ours" : "other");
    }
    return 0;
}
