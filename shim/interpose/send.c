/* send.c - send(2) and glibc's alias __send. */
#include <sys/socket.h>

#include "export.h"

SS_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    if (SS_LIKELY(!ss_active && !(flags & SS_FLAGS_NEED_PIPELINE)))
        return SS_REAL(send)(fd, buf, len, flags);
    struct ss_request rq = {.call = SS_CALL_SEND, .fd = fd, .flags_in = flags, .buf = buf, .len = len};
    return ss_process(&rq);
}

/* glibc exports __send too (libc-internal callers and some programs use it);
 * it is the same call. */
SS_EXPORT ssize_t __send(int fd, const void *buf, size_t len, int flags);
ssize_t __send(int fd, const void *buf, size_t len, int flags)
{
    return send(fd, buf, len, flags);
}
