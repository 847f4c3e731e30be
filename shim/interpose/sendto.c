/* sendto.c - sendto(2). */
#include <sys/socket.h>

#include "export.h"

static __attribute__((noinline)) ssize_t sendto_step(int fd, const void *buf, size_t len, int flags,
                                                     const struct sockaddr *addr, socklen_t addrlen)
{
    struct ss_path path;
    enum ss_step step =
        ss_path_step(SS_CALL_SENDTO, fd, flags, 1, addr && addrlen ? addr : NULL, addrlen, &path);
    if (step == SS_STEP_LEAVE)
        return SS_REAL(sendto)(fd, buf, len, path.flags, addr, addrlen);
    if (step == SS_STEP_FORWARD) {
        ssize_t ret = SS_REAL(sendto)(fd, buf, len, path.flags, addr, addrlen);
        ss_path_done(SS_CALL_SENDTO, fd, &path, flags, ret, (uint64_t)ret);
        return ret;
    }
    struct ss_request rq;
    ss_request_start(&rq, SS_CALL_SENDTO, fd, flags);
    rq.buf = buf;
    rq.len = len;
    rq.addr = addr;
    rq.addrlen = addrlen;
    return step == SS_STEP_FIRE ? ss_process_fire(&rq, &path) : ss_process_stages(&rq, &path);
}

SS_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                         socklen_t addrlen)
{
    uint64_t front = ss_front_load(SS_CALL_SENDTO);
    if (SS_LIKELY(ss_front_exits(front, flags)))
        return SS_REAL(sendto)(fd, buf, len, ss_front_flags(front, flags), addr, addrlen);
    return sendto_step(fd, buf, len, flags, addr, addrlen);
}
