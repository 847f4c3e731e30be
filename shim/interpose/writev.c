/* writev.c - writev(2): as write.c. */
#include <sys/uio.h>

#include "export.h"
#include "sigpipe.h"
#include "stats.h"

SS_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (SS_LIKELY(!SS_ACTIVE()) || !(ss_write_takes_pipeline(fd, SS_CALL_WRITEV) || ss_calls_seen_on(fd)))
        return SS_REAL(writev)(fd, iov, iovcnt);
    struct ss_request rq;
    ss_request_start(&rq, SS_CALL_WRITEV, fd, 0);
    rq.iov = iov;
    rq.iovcnt = iovcnt;
    return ss_process(&rq);
}
