/* sendto.c - sendto(2). */
#include <sys/socket.h>

#include "export.h"

static __attribute__((noinline)) ssize_t sendto_slow(int fd, const void *buf, size_t len, int flags,
                                                     const struct sockaddr *addr, socklen_t addrlen)
{
    struct ss_quick quick;
    struct ss_lane lane;
    enum ss_lane_kind lane_kind = ss_quick(SS_CALL_SENDTO, fd, flags, 1, 0, &quick, &lane);
    if (lane_kind == SS_LANE_QUICK)
        return ss_quick_done(&quick, SS_REAL(sendto)(fd, buf, len, quick.flags, addr, addrlen));
    struct ss_request rq;
    ss_request_start(&rq, SS_CALL_SENDTO, fd, flags);
    rq.buf = buf;
    rq.len = len;
    rq.addr = addr;
    rq.addrlen = addrlen;
    return ss_process_lane(&rq, &lane, lane_kind);
}

SS_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                         socklen_t addrlen)
{
    if (SS_LIKELY(!SS_ACTIVE() && !(flags & SS_FLAGS_NEED_PIPELINE)))
        return SS_REAL(sendto)(fd, buf, len, flags, addr, addrlen);
    return sendto_slow(fd, buf, len, flags, addr, addrlen);
}
