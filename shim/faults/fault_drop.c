/* fault_drop.c - the drop action (SPEC 8): a datagram reported sent and
 * never sent, but only where the kernel would have accepted the same call. A
 * fault never hides an error the kernel would give.
 *
 * AF_INET and AF_INET6 (UDP, UDP-Lite, ping, raw): the call is made with
 * Linux's MSG_PROBE, which runs the protocol's checks - flags, destination
 * and route (EDESTADDRREQ, EACCES, ENETUNREACH, ...), control messages, IPv4's
 * 65535-byte limit - and stops before any data is copied or queued: ip_make_skb
 * and ip_append_data (ip6_ too) return at once for MSG_PROBE, raw_send_hdrinc
 * too, so nothing leaves (tests/integration/test_faults.c checks the receiver
 * gets nothing). What MSG_PROBE skips is checked here, in the kernel's order
 * (__ip_append_data, __ip6_append_data, sock_alloc_send_pskb, getfrag):
 *   - the largest UDP datagram: an IPv4 packet holds 65535 - 20 - 8 = 65507
 *     bytes, an IPv6 payload 65535 - 8 = 65527 (EMSGSIZE);
 *   - an asynchronous error pending on the socket (an ICMP port unreachable
 *     on a connected socket: ECONNREFUSED), read with SO_ERROR, which clears
 *     it as the kernel's send would;
 *   - the data must be readable (EFAULT), asked of the kernel (readable.c).
 * Not checked (README Limits): IP options and IPv6 extension headers, which
 * lower the limit; IP_PMTUDISC_DO/PROBE, where a datagram larger than the
 * path MTU is EMSGSIZE; a write side shut down (EPIPE); a UDP socket with
 * corked data (MSG_MORE, UDP_CORK); a full send buffer (EAGAIN, ENOBUFS).
 *
 * Other families have no MSG_PROBE (unix_dgram_sendmsg ignores it: the
 * datagram would be sent). For them: the iovec array and the address given
 * readable (EFAULT, as import_iovec and move_addr_to_kernel), then for AF_UNIX a peer when no address is
 * given (ENOTCONN) and the length against SO_SNDBUF - 32 (unix_dgram_sendmsg: EMSGSIZE); the pending error
 * and the data's readability as above. Not checked: control messages, the address given (its validity and
 * whether anybody is bound to it), a peer that has closed (ECONNREFUSED), a full receive queue (EAGAIN).
 *
 * All of this runs only when a drop fires (a rare path): a few system calls
 * there buy the kernel's answer. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "normalize.h"
#include "readable.h"
#include "real.h"
#include "stages.h"

#ifndef MSG_PROBE
#define MSG_PROBE 0x10 /* Linux: do not send, only probe the path */
#endif
#define SS_UDP_MAX_V4        65507 /* 0xffff - sizeof(struct iphdr) - sizeof(struct udphdr) */
#define SS_UDP_MAX_V6        65527 /* 0xffff - sizeof(struct udphdr): the payload length field */
#define SS_UNIX_DGRAM_OVERHD 32    /* unix_dgram_sendmsg: len > sk_sndbuf - 32 is EMSGSIZE */

/* One message of the request: its data and destination. */
struct msg_view {
    const void *buf; /* send, sendto, write: one buffer */
    size_t len;
    const struct iovec *iov; /* else the iovecs */
    size_t iovlen;
    int named; /* carries a destination address */
    const void *name;
    socklen_t namelen;
};

static void view_of(const struct ss_request *rq, unsigned i, struct msg_view *v)
{
    *v = (struct msg_view){.buf = rq->buf, .len = rq->len, .named = 0};
    const struct msghdr *m = NULL;
    switch (rq->call) {
    case SS_CALL_SENDTO:
        v->named = rq->addr && rq->addrlen;
        v->name = rq->addr;
        v->namelen = rq->addrlen;
        break;
    case SS_CALL_WRITEV:
        v->iov = rq->iov;
        v->iovlen = (size_t)rq->iovcnt;
        break;
    case SS_CALL_SENDMSG:
        m = rq->msg;
        break;
    case SS_CALL_SENDMMSG:
        m = &rq->vec[i].msg_hdr;
        break;
    default:
        break;
    }
    if (m) {
        v->iov = m->msg_iov;
        v->iovlen = m->msg_iovlen;
        v->named = m->msg_name && m->msg_namelen;
        v->name = m->msg_name;
        v->namelen = m->msg_namelen;
    }
}

/* The message's bytes, saturating at SIZE_MAX. */
static size_t view_bytes(const struct msg_view *v)
{
    size_t total = v->len;
    if (v->iov) {
        total = 0;
        for (size_t i = 0; i < v->iovlen; i++)
            total = v->iov[i].iov_len > SIZE_MAX - total ? SIZE_MAX : total + v->iov[i].iov_len;
    }
    return total;
}

/* Message i of the call as the program made it (after the earlier stages),
 * with MSG_PROBE added. write and writev become send and sendmsg: on a
 * socket they are the same call with no flags. sendmmsg is probed message by
 * message: the kernel's sendmmsg ends a batch after a message whose data was
 * not all consumed (msg_data_left), which is every message under MSG_PROBE. */
static ssize_t probe(const struct ss_request *rq, unsigned i)
{
    int flags = rq->flags | MSG_PROBE;
    struct msghdr m;
    switch (rq->call) {
    case SS_CALL_SEND:
    case SS_CALL_WRITE:
        return SS_REAL(send)(rq->fd, rq->buf, rq->len, flags);
    case SS_CALL_SENDTO:
        return SS_REAL(sendto)(rq->fd, rq->buf, rq->len, flags, rq->addr, rq->addrlen);
    case SS_CALL_SENDMSG:
        return SS_REAL(sendmsg)(rq->fd, rq->msg, flags);
    case SS_CALL_SENDMMSG:
        return SS_REAL(sendmsg)(rq->fd, &rq->vec[i].msg_hdr, flags);
    case SS_CALL_WRITEV:
        m = (struct msghdr){.msg_iov = (struct iovec *)rq->iov, .msg_iovlen = (size_t)rq->iovcnt};
        return SS_REAL(sendmsg)(rq->fd, &m, flags);
    default:
        errno = ENOSYS;
        return -1;
    }
}

/* SO_ERROR: the pending asynchronous error, cleared by reading it, as the
 * kernel's send clears it when it reports it (sock_error). 0 when none. */
static int pending_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (SS_REAL(getsockopt)(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return 0;
    return err;
}

/* AF_UNIX: what unix_dgram_sendmsg checks before it queues. */
static int unix_checks(int fd, const struct msg_view *v, size_t bytes)
{
    if (!v->named) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        if (syscall(SYS_getpeername, fd, &peer, &len) != 0 && errno == ENOTCONN)
            return ENOTCONN;
    }
    int sndbuf = 0;
    socklen_t len = sizeof sndbuf;
    if (SS_REAL(getsockopt)(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0 &&
        bytes > (size_t)sndbuf - SS_UNIX_DGRAM_OVERHD && sndbuf > SS_UNIX_DGRAM_OVERHD)
        return EMSGSIZE;
    return 0;
}

/* The kernel's answer for message i beyond MSG_PROBE's: 0, or an errno. */
static int check_message(const struct ss_request *rq, unsigned i, int type, int family, int probed)
{
    struct msg_view v;
    view_of(rq, i, &v);
    /* The array itself: the kernel reads it before anything else
     * (import_iovec). A probed call had it read already. */
    if (!probed && v.iov && !ss_readable(v.iov, v.iovlen * sizeof *v.iov))
        return EFAULT;
    /* The address is copied next (move_addr_to_kernel; at most a
     * sockaddr_storage). */
    if (!probed && v.named &&
        !ss_readable(v.name, v.namelen < sizeof(struct sockaddr_storage) ? v.namelen
                                                                         : sizeof(struct sockaddr_storage)))
        return EFAULT;
    size_t bytes = view_bytes(&v);
    if (family == AF_INET && type == SOCK_DGRAM && bytes > SS_UDP_MAX_V4)
        return EMSGSIZE;
    if (family == AF_INET6 && type == SOCK_DGRAM && bytes > SS_UDP_MAX_V6)
        return EMSGSIZE;
    if (family == AF_UNIX) {
        int err = unix_checks(rq->fd, &v, bytes);
        if (err)
            return err;
    }
    if (i == 0) {
        int err = pending_error(rq->fd);
        if (err)
            return err;
    }
    if (!(v.iov ? ss_readable_iov(v.iov, v.iovlen) : ss_readable(v.buf, v.len)))
        return EFAULT;
    return 0;
}

ssize_t ss_fault_drop(struct ss_request *rq, int type, int family)
{
    int mmsg = rq->call == SS_CALL_SENDMMSG;
    unsigned n = mmsg ? (rq->vlen > SS_MMSG_VLEN_MAX ? SS_MMSG_VLEN_MAX : rq->vlen) : 1;
    int probed = family == AF_INET || family == AF_INET6;
    ssize_t ret = 0;
    if (rq->call == SS_CALL_WRITEV && (rq->iovcnt < 0 || rq->iovcnt > SS_IOV_MAX)) {
        errno = EINVAL; /* writev's own answer */
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        int err = 0;
        if (probed && (ret = probe(rq, i)) < 0)
            err = errno;
        if (!err)
            err = check_message(rq, i, type, family, probed);
        if (err) {
            /* A batch ends at the message that fails (sendmmsg's rule). */
            if (mmsg && i > 0)
                return (ssize_t)i;
            errno = err;
            return -1;
        }
        if (!probed) {
            struct msg_view v;
            view_of(rq, i, &v);
            ret = (ssize_t)view_bytes(&v);
        }
        if (mmsg)
            rq->vec[i].msg_len = (unsigned)ret;
    }
    return mmsg ? (ssize_t)n : ret;
}
