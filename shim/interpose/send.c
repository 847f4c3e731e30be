/* send.c - send(2) and glibc's alias __send. */
#include <sys/socket.h>

#include "export.h"

/* The request the stages work on (the normalize stage's frame, for
 * sendmsg and sendmmsg, is the caller's). */
static inline void send_request(struct ss_request *rq, int fd, const void *buf, size_t len, int flags)
{
    ss_request_start(rq, SS_CALL_SEND, fd, flags);
    rq->buf = buf;
    rq->len = len;
}

/* The stages: the step's last call, a jump, so the step's frame is gone by
 * then (the stack a call takes stays bounded). */
static __attribute__((noinline)) ssize_t send_stages(int fd, const void *buf, size_t len, int flags)
{
    struct ss_request rq;
    send_request(&rq, fd, buf, len, flags);
    struct ss_path path;
    ss_path_begin(SS_CALL_SEND, fd, &path);
    return ss_process_stages(&rq, &path);
}

/* A call the step let go that has bookkeeping after it (after=, stats). */
static __attribute__((noinline)) ssize_t send_counted(int fd, const void *buf, size_t len, int flags,
                                                      struct ss_step_out o)
{
    ssize_t ret = SS_REAL(send)(fd, buf, len, o.flags);
    ss_path_done(SS_CALL_SEND, fd, o, flags, ret, (uint64_t)ret, NULL, NULL);
    return ret;
}

/* The fault stage of a call the step counted and a rule may fire on; a
 * call no rule fired on is forwarded as the step would have (path.h). */
static __attribute__((noinline)) ssize_t send_fire(int fd, const void *buf, size_t len, int flags,
                                                   uint64_t held)
{
    struct ss_request rq;
    send_request(&rq, fd, buf, len, flags);
    struct ss_step_out o;
    ssize_t ret = ss_process_fire(&rq, held, &o);
    if (ret != SS_FAULT_FORWARD)
        return ret;
    return send_counted(fd, buf, len, flags, o);
}

/* Where the step sends the call. */
static inline ssize_t send_go(enum ss_step step, int fd, const void *buf, size_t len, int flags,
                              struct ss_step_out o, uint64_t held)
{
    switch (step) {
    case SS_STEP_LEAVE:
        return SS_REAL(send)(fd, buf, len, o.flags);
    case SS_STEP_FORWARD:
        return send_counted(fd, buf, len, flags, o);
    case SS_STEP_FIRE:
        return send_fire(fd, buf, len, flags, held);
    case SS_STEP_STAGES:
    case SS_STEP_COUNT:
    case SS_STEP_NAMED:
    case SS_STEP_DESC:
        break;
    }
    return send_stages(fd, buf, len, flags);
}

/* The counting part of the step (path.h). */
static __attribute__((noinline)) ssize_t send_count(int fd, const void *buf, size_t len, int flags,
                                                    struct ss_fd_entry *e)
{
    struct ss_step_out o;
    uint64_t held = 0;
    enum ss_step step = ss_path_step_count(SS_CALL_SEND, fd, flags, e, NULL, 0, &o, &held);
    return send_go(step, fd, buf, len, flags, o, held);
}

/* The path past the front word (path.h), apart so the early exit needs no
 * stack frame. Every way out is a jump. */
static __attribute__((noinline)) ssize_t send_step(int fd, const void *buf, size_t len, int flags)
{
    struct ss_step_out o = {0};
    enum ss_step step = ss_path_step(SS_CALL_SEND, fd, flags, 1, 0, &o);
    if (step == SS_STEP_COUNT)
        return send_count(fd, buf, len, flags, o.e);
    return send_go(step, fd, buf, len, flags, o, 0);
}

SS_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    uint64_t front = ss_front_load(SS_CALL_SEND);
    if (SS_LIKELY(ss_front_exits(front, flags)))
        return SS_REAL(send)(fd, buf, len, ss_front_flags(front, flags));
    return send_step(fd, buf, len, flags);
}

/* glibc exports __send too (libc-internal callers and some programs use it);
 * it is the same call. */
SS_EXPORT ssize_t __send(int fd, const void *buf, size_t len, int flags);
ssize_t __send(int fd, const void *buf, size_t len, int flags)
{
    return send(fd, buf, len, flags);
}
