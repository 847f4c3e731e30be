/* sendto.c - sendto(2). */
#include <sys/socket.h>

#include "export.h"

/* The request the stages work on (the normalize stage's frame, for
 * sendmsg and sendmmsg, is the caller's). */
static inline void sendto_request(struct ss_request *rq, int fd, const void *buf, size_t len, int flags,
                                  const struct sockaddr *addr, socklen_t addrlen)
{
    ss_request_start(rq, SS_CALL_SENDTO, fd, flags);
    rq->buf = buf;
    rq->len = len;
    rq->addr = addr;
    rq->addrlen = addrlen;
}

/* The stages: the step's last call, a jump, so the step's frame is gone by
 * then (the stack a call takes stays bounded). */
static __attribute__((noinline)) ssize_t sendto_stages(int fd, const void *buf, size_t len, int flags,
                                                       const struct sockaddr *addr, socklen_t addrlen)
{
    struct ss_request rq;
    sendto_request(&rq, fd, buf, len, flags, addr, addrlen);
    struct ss_path path;
    ss_path_begin(SS_CALL_SENDTO, fd, &path);
    return ss_process_stages(&rq, &path);
}

/* The fault stage of a call the step counted and a rule may fire on. */
static __attribute__((noinline)) ssize_t sendto_fire(int fd, const void *buf, size_t len, int flags,
                                                     const struct sockaddr *addr, socklen_t addrlen,
                                                     struct ss_path *path)
{
    struct ss_request rq;
    sendto_request(&rq, fd, buf, len, flags, addr, addrlen);
    return ss_process_fire(&rq, path);
}

static __attribute__((noinline)) ssize_t sendto_step(int fd, const void *buf, size_t len, int flags,
                                                     const struct sockaddr *addr, socklen_t addrlen)
{
    struct ss_step_out o;
    struct ss_path path;
    ssize_t ret;
    switch (ss_path_step(SS_CALL_SENDTO, fd, flags, 1, addr && addrlen ? addr : NULL, addrlen, &o, &path)) {
    case SS_STEP_LEAVE:
        return SS_REAL(sendto)(fd, buf, len, o.flags, addr, addrlen);
    case SS_STEP_FIRE:
        ret = sendto_fire(fd, buf, len, flags, addr, addrlen, &path);
        if (ret != SS_FAULT_FORWARD)
            return ret;
        /* No rule fired: forwarded as the step would have (path.h). */
        __attribute__((fallthrough));
    case SS_STEP_FORWARD:
        ret = SS_REAL(sendto)(fd, buf, len, o.flags, addr, addrlen);
        ss_path_done(SS_CALL_SENDTO, fd, o, flags, ret, (uint64_t)ret, NULL, NULL);
        return ret;
    case SS_STEP_STAGES:
        break;
    }
    return sendto_stages(fd, buf, len, flags, addr, addrlen);
}

SS_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                         socklen_t addrlen)
{
    uint64_t front = ss_front_load(SS_CALL_SENDTO);
    if (SS_LIKELY(ss_front_exits(front, flags)))
        return SS_REAL(sendto)(fd, buf, len, ss_front_flags(front, flags), addr, addrlen);
    return sendto_step(fd, buf, len, flags, addr, addrlen);
}
