/* sendmsg.c - sendmsg(2). Even when nothing is configured, a message takes the
 * pipeline when it has control data (the public header's SCM_CREDS and
 * IP_SENDSRCADDR need translating, bad layouts repairing) or more than
 * IOV_MAX iovecs (upper bits in msg_iovlen, or a long stream write the kernel
 * would refuse with EMSGSIZE). The other repairs of SPEC 7 (zero-length
 * iovecs, name/namelen mismatches) change nothing the kernel would do, so
 * they happen only on the pipeline. A NULL msg goes to the kernel (EFAULT). */
#include <sys/socket.h>

#include "export.h"
#include "normalize.h"

/* The slow path, apart so the fast path's frame stays small. */
static __attribute__((noinline)) ssize_t sendmsg_slow(int fd, const struct msghdr *msg, int flags)
{
    struct ss_quick quick;
    struct ss_lane lane;
    enum ss_lane_kind lane_kind =
        ss_quick(SS_CALL_SENDMSG, fd, flags, ss_quick_msg_plain(msg), 0, &quick, &lane);
    if (lane_kind == SS_LANE_QUICK)
        return ss_quick_done(&quick, SS_REAL(sendmsg)(fd, msg, quick.flags));
    struct ss_request rq;
    ss_request_start(&rq, SS_CALL_SENDMSG, fd, flags);
    rq.msg = msg;
    struct ss_norm_frame frame;
    ss_norm_frame_init(&frame);
    rq.norm = &frame;
    return ss_process_lane(&rq, &lane, lane_kind);
}

SS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (SS_LIKELY(!SS_ACTIVE() && !(flags & SS_FLAGS_NEED_PIPELINE) &&
                  (!msg || (!msg->msg_controllen && msg->msg_iovlen <= SS_IOV_MAX))))
        return SS_REAL(sendmsg)(fd, msg, flags);
    return sendmsg_slow(fd, msg, flags);
}
