/* transfer.c - sendfile and splice writing to a socket: the SIGPIPE guard,
 * the trace line, the count. */
#include "transfer.h"

#include <errno.h>

#include "sigdisp.h"
#include "state.h"
#include "stats.h"

unsigned ss_transfer_needs(int fd)
{
    /* SIGPIPE ignored: the kernel discards it, nothing to guard. */
    unsigned needs = !ss_sigpipe_ignored() && ss_sigpipe_suppressed(fd) ? SS_TRANSFER_GUARD : 0;
    if (ss_calls_seen_on(fd))
        needs |= SS_TRANSFER_SEEN;
    return needs;
}

void ss_transfer_begin(struct ss_transfer *t, unsigned needs, enum ss_call call, int fd, int in_fd,
                       size_t len, int flags)
{
    t->needs = needs;
    ss_request_start(&t->rq, call, fd, flags);
    t->rq.flags = flags;
    t->rq.len = len;
    t->rq.in_fd = in_fd;
    if (needs & SS_TRANSFER_GUARD)
        ss_sigpipe_block(&t->guard);
}

ssize_t ss_transfer_end(struct ss_transfer *t, ssize_t ret)
{
    int err = errno;
    if (t->needs & SS_TRANSFER_GUARD)
        ss_sigpipe_restore(&t->guard, t->rq.fd, ret, t->rq.len);
    if (t->needs & SS_TRANSFER_SEEN) {
        if (ss_cfg.count)
            ss_stats_count(&t->rq, ret);
        if (ss_cfg.trace)
            ss_trace_call(&t->rq, ret, err);
    }
    errno = err;
    return ret;
}
