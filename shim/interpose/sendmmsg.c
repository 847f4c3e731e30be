/* sendmmsg.c - sendmmsg(2). glibc and musl differ in the type of flags. */
#include <errno.h>
#include <sys/socket.h>

#include "export.h"
#include "normalize.h"

static __attribute__((noinline)) int sendmmsg_slow(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
    struct ss_quick quick;
    struct ss_lane lane;
    enum ss_lane_kind lane_kind =
        ss_quick(SS_CALL_SENDMMSG, fd, flags, ss_quick_batch_plain(vec, vlen), vlen, &quick, &lane);
    if (lane_kind == SS_LANE_QUICK) {
        /* musl's sendmmsg is a loop of sendmsg: a batch sent in part returns
         * its count with the failed message's errno set. A success leaves
         * errno as the program had it (SPEC 4), as the pipeline does. */
        int saved_errno = errno;
        int ret = SS_REAL(sendmmsg)(fd, vec, vlen, (ss_mmsg_flags_t)quick.flags);
        if (ret >= 0)
            errno = saved_errno;
        return ss_quick_done_batch(&quick, vec, ret);
    }
    struct ss_request rq;
    ss_request_start(&rq, SS_CALL_SENDMMSG, fd, flags);
    rq.vec = vec;
    rq.vlen = vlen;
    struct ss_norm_frame frame;
    ss_norm_frame_init(&frame);
    rq.norm = &frame;
    return (int)ss_process_lane(&rq, &lane, lane_kind);
}

SS_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, ss_mmsg_flags_t flags)
{
    /* Unlike sendmsg, control data does not send a batch down the pipeline
     * when nothing is configured: finding it means reading every message
     * (about 9 instructions each), which the fast path cannot afford. Any
     * SENDSHIM_* variable set (SENDSHIM_FLAGS=linux will do) turns it on. */
    if (SS_LIKELY(!SS_ACTIVE() && !((int)flags & SS_FLAGS_NEED_PIPELINE)))
        return SS_REAL(sendmmsg)(fd, vec, vlen, flags);
    return sendmmsg_slow(fd, vec, vlen, (int)flags);
}
