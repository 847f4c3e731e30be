/* sendmsg.c - sendmsg(2). Whatever is configured, a message takes the stages
 * when the normalizer may change what the kernel does with it
 * (ss_needs_normalizer: control data - the public header's SCM_CREDS and
 * IP_SENDSRCADDR need translating, bad layouts repairing - or more iovecs
 * than the kernel takes). The other repairs of SPEC 7 (zero-length iovecs,
 * name/namelen mismatches) change nothing the kernel would do, so such a
 * message goes out as the program made it. A NULL msg goes to the kernel
 * (EFAULT). */
#include <sys/socket.h>

#include "export.h"
#include "stages.h"

static __attribute__((noinline)) ssize_t sendmsg_step(int fd, const struct msghdr *msg, int flags)
{
    struct ss_path path;
    int plain = msg && !ss_needs_normalizer(msg);
    const struct sockaddr *dest = plain && msg->msg_name && msg->msg_namelen ? msg->msg_name : NULL;
    enum ss_step step =
        ss_path_step(SS_CALL_SENDMSG, fd, flags, plain, dest, dest ? msg->msg_namelen : 0, &path);
    if (step == SS_STEP_LEAVE)
        return SS_REAL(sendmsg)(fd, msg, path.flags);
    if (step == SS_STEP_FORWARD) {
        ssize_t ret = SS_REAL(sendmsg)(fd, msg, path.flags);
        ss_path_done(SS_CALL_SENDMSG, fd, &path, flags, ret, (uint64_t)ret);
        return ret;
    }
    struct ss_request rq;
    ss_request_start(&rq, SS_CALL_SENDMSG, fd, flags);
    rq.msg = msg;
    struct ss_norm_frame frame;
    ss_norm_frame_init(&frame);
    rq.norm = &frame;
    return step == SS_STEP_FIRE ? ss_process_fire(&rq, &path) : ss_process_stages(&rq, &path);
}

SS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    uint64_t front = ss_front_load(SS_CALL_SENDMSG);
    if (SS_LIKELY(ss_front_exits(front, flags) && (!msg || !ss_needs_normalizer(msg))))
        return SS_REAL(sendmsg)(fd, msg, ss_front_flags(front, flags));
    return sendmsg_step(fd, msg, flags);
}
