/* send.c - send(2) and glibc's alias __send. */
#include <sys/socket.h>

#include "export.h"

/* The path past the front word (path.h), apart so the early exit needs no
 * stack frame. */
static __attribute__((noinline)) ssize_t send_step(int fd, const void *buf, size_t len, int flags)
{
    struct ss_path path;
    enum ss_step step = ss_path_step(SS_CALL_SEND, fd, flags, 1, NULL, 0, &path);
    if (step == SS_STEP_LEAVE)
        return SS_REAL(send)(fd, buf, len, path.flags);
    if (step == SS_STEP_FORWARD) {
        ssize_t ret = SS_REAL(send)(fd, buf, len, path.flags);
        ss_path_done(SS_CALL_SEND, fd, &path, flags, ret, (uint64_t)ret);
        return ret;
    }
    struct ss_request rq;
    ss_request_start(&rq, SS_CALL_SEND, fd, flags);
    rq.buf = buf;
    rq.len = len;
    return step == SS_STEP_FIRE ? ss_process_fire(&rq, &path) : ss_process_stages(&rq, &path);
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
