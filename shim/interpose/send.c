/* send.c - send(2) and glibc's alias __send. */
#include <sys/socket.h>

#include "export.h"

/* The configured path, apart so the fast path needs no stack frame: with
 * nothing configured a call costs a load and two tests before it reaches
 * libc. A call no stage rewrites takes the quick lane (quick.h). */
static __attribute__((noinline)) ssize_t send_slow(int fd, const void *buf, size_t len, int flags)
{
    struct ss_quick quick;
    struct ss_lane lane;
    enum ss_lane_kind lane_kind = ss_quick(SS_CALL_SEND, fd, flags, 1, 0, &quick, &lane);
    if (lane_kind == SS_LANE_QUICK)
        return ss_quick_done(&quick, SS_REAL(send)(fd, buf, len, quick.flags));
    struct ss_request rq;
    ss_request_start(&rq, SS_CALL_SEND, fd, flags);
    rq.buf = buf;
    rq.len = len;
    return ss_process_lane(&rq, &lane, lane_kind);
}

SS_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    if (SS_LIKELY(!SS_ACTIVE() && !(flags & SS_FLAGS_NEED_PIPELINE)))
        return SS_REAL(send)(fd, buf, len, flags);
    return send_slow(fd, buf, len, flags);
}

/* glibc exports __send too (libc-internal callers and some programs use it);
 * it is the same call. */
SS_EXPORT ssize_t __send(int fd, const void *buf, size_t len, int flags);
ssize_t __send(int fd, const void *buf, size_t len, int flags)
{
    return send(fd, buf, len, flags);
}
