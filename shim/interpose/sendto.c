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

/* A call the step let go that has bookkeeping after it (after=, stats).
 * sendto has six arguments already: the program's and the kernel's flags
 * come in one (so that the step's way here is a jump), and the step's
 * options and entry are found again. */
static __attribute__((noinline)) ssize_t sendto_counted(int fd, const void *buf, size_t len,
                                                        uint64_t both_flags, const struct sockaddr *addr,
                                                        socklen_t addrlen)
{
    struct ss_step_out o = {.flags = (int)(uint32_t)both_flags,
                            .e = (ss_path_opts(SS_CALL_SENDTO) & SS_OPT_BYTES) ? ss_fd_lookup(fd) : NULL};
    ssize_t ret = SS_REAL(sendto)(fd, buf, len, o.flags, addr, addrlen);
    ss_path_done(SS_CALL_SENDTO, fd, o, (int)(both_flags >> 32), ret, (uint64_t)ret, NULL, NULL);
    return ret;
}
static inline uint64_t sendto_both_flags(int flags, int kernel_flags)
{
    return (uint64_t)(uint32_t)flags << 32 | (uint32_t)kernel_flags;
}

/* The fault stage of a call the step counted and a rule may fire on (the
 * descriptor and the program's flags in one argument, as above); a call no
 * rule fired on is forwarded as the step would have (path.h). */
static __attribute__((noinline)) ssize_t sendto_fire(uint64_t fd_flags, const void *buf, size_t len,
                                                     const struct sockaddr *addr, socklen_t addrlen,
                                                     uint64_t held)
{
    int fd = (int)(fd_flags >> 32), flags = (int)(uint32_t)fd_flags;
    struct ss_request rq;
    sendto_request(&rq, fd, buf, len, flags, addr, addrlen);
    struct ss_step_out o;
    ssize_t ret = ss_process_fire(&rq, held, &o);
    if (ret != SS_FAULT_FORWARD)
        return ret;
    return sendto_counted(fd, buf, len, sendto_both_flags(flags, o.flags), addr, addrlen);
}

/* Where the step sends the call. */
static inline ssize_t sendto_go(enum ss_step step, int fd, const void *buf, size_t len, int flags,
                                const struct sockaddr *addr, socklen_t addrlen, struct ss_step_out o,
                                uint64_t held)
{
    switch (step) {
    case SS_STEP_LEAVE:
        return SS_REAL(sendto)(fd, buf, len, o.flags, addr, addrlen);
    case SS_STEP_FORWARD:
        return sendto_counted(fd, buf, len, sendto_both_flags(flags, o.flags), addr, addrlen);
    case SS_STEP_FIRE:
        return sendto_fire((uint64_t)(uint32_t)fd << 32 | (uint32_t)flags, buf, len, addr, addrlen, held);
    case SS_STEP_STAGES:
    case SS_STEP_COUNT:
    case SS_STEP_NAMED:
    case SS_STEP_DESC:
        break;
    }
    return sendto_stages(fd, buf, len, flags, addr, addrlen);
}

/* The counting part of the step (path.h), for a call whose address decides
 * nothing (dest NULL) or may (SS_STEP_NAMED). */
static inline __attribute__((always_inline)) ssize_t sendto_count(int fd, const void *buf, size_t len,
                                                                  int flags, const struct sockaddr *addr,
                                                                  socklen_t addrlen,
                                                                  const struct sockaddr *dest)
{
    struct ss_step_out o;
    uint64_t held = 0;
    enum ss_step step =
        ss_path_step_count(SS_CALL_SENDTO, fd, flags, ss_fd_lookup(fd), dest, dest ? addrlen : 0, &o, &held);
    return sendto_go(step, fd, buf, len, flags, addr, addrlen, o, held);
}
static __attribute__((noinline)) ssize_t sendto_counted_plain(int fd, const void *buf, size_t len, int flags,
                                                              const struct sockaddr *addr, socklen_t addrlen)
{
    return sendto_count(fd, buf, len, flags, addr, addrlen, NULL);
}
static __attribute__((noinline)) ssize_t sendto_counted_named(int fd, const void *buf, size_t len, int flags,
                                                              const struct sockaddr *addr, socklen_t addrlen)
{
    return sendto_count(fd, buf, len, flags, addr, addrlen, addr);
}

/* The descriptor's part of the step (path.h): a function of its own, as
 * sendto's six arguments leave it too few registers. */
static __attribute__((noinline)) ssize_t sendto_desc(int fd, const void *buf, size_t len, int flags,
                                                     const struct sockaddr *addr, socklen_t addrlen)
{
    struct ss_step_out o = {0};
    enum ss_step step = ss_path_step_desc(SS_CALL_SENDTO, fd, flags, addr && addrlen, &o);
    if (step == SS_STEP_COUNT)
        return sendto_counted_plain(fd, buf, len, flags, addr, addrlen);
    if (step == SS_STEP_NAMED)
        return sendto_counted_named(fd, buf, len, flags, addr, addrlen);
    return sendto_go(step, fd, buf, len, flags, addr, addrlen, o, 0);
}

/* The path past the front word (path.h), apart so the early exit needs no
 * stack frame. Every way out is a jump. */
static __attribute__((noinline)) ssize_t sendto_step(int fd, const void *buf, size_t len, int flags,
                                                     const struct sockaddr *addr, socklen_t addrlen)
{
    struct ss_step_out o = {0};
    enum ss_step step = ss_path_step_front(SS_CALL_SENDTO, flags, 1, &o);
    if (step == SS_STEP_DESC)
        return sendto_desc(fd, buf, len, flags, addr, addrlen);
    return sendto_go(step, fd, buf, len, flags, addr, addrlen, o, 0);
}

SS_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                         socklen_t addrlen)
{
    uint64_t front = ss_front_load(SS_CALL_SENDTO);
    if (SS_LIKELY(ss_front_exits(front, flags)))
        return SS_REAL(sendto)(fd, buf, len, ss_front_flags(front, flags), addr, addrlen);
    return sendto_step(fd, buf, len, flags, addr, addrlen);
}
