/* sendto.c - sendto(2). */
#include <sys/socket.h>

#include "export.h"

static __attribute__((noinline, cold)) ssize_t sendto_slow(int fd, const void *buf, size_t len, int flags,
                                                           const struct sockaddr *addr, socklen_t addrlen)
{
    struct ss_request rq;
    ss_request_start(&rq, SS_CALL_SENDTO, fd, flags);
    rq.buf = buf;
    rq.len = len;
    rq.addr = addr;
    rq.addrlen = addrlen;
    return ss_process(&rq);
}

SS_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                         socklen_t addrlen)
{
    if (SS_LIKELY(!SS_ACTIVE() && !(flags & SS_FLAGS_NEED_PIPELINE)))
        return SS_REAL(sendto)(fd, buf, len, flags, addr, addrlen);
    return sendto_slow(fd, buf, len, flags, addr, addrlen);
}
