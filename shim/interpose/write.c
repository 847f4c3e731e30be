/* write.c - write(2): only writes on sockets under the SIGPIPE policy, a
 * write fault rule, trace or stats take the pipeline; everything else goes
 * straight to libc. */
#include <unistd.h>

#include "export.h"
#include "sigpipe.h"
#include "stats.h"

SS_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
    if (SS_LIKELY(!SS_ACTIVE()) || !(ss_write_takes_pipeline(fd, SS_CALL_WRITE) || ss_calls_seen_on(fd)))
        return SS_REAL(write)(fd, buf, len);
    struct ss_request rq;
    ss_request_start(&rq, SS_CALL_WRITE, fd, 0);
    rq.buf = buf;
    rq.len = len;
    return ss_process(&rq);
}
