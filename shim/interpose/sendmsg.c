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

/* The request the stages work on, with the normalize stage's frame (on the
 * caller's stack). */
static inline void sendmsg_request(struct ss_request *rq, struct ss_norm_frame *frame, int fd,
                                   const struct msghdr *msg, int flags)
{
    ss_request_start(rq, SS_CALL_SENDMSG, fd, flags);
    rq->msg = msg;
    ss_norm_frame_init(frame);
    rq->norm = frame;
}

/* The stages: the step's last call, a jump, so the step's frame is gone by
 * then (the stack a call takes stays bounded). */
static __attribute__((noinline)) ssize_t sendmsg_stages(int fd, const struct msghdr *msg, int flags)
{
    struct ss_request rq;
    struct ss_norm_frame frame;
    sendmsg_request(&rq, &frame, fd, msg, flags);
    struct ss_path path;
    ss_path_begin(SS_CALL_SENDMSG, fd, &path);
    return ss_process_stages(&rq, &path);
}

/* A call the step let go that has bookkeeping after it (after=, stats). */
static __attribute__((noinline)) ssize_t sendmsg_counted(int fd, const struct msghdr *msg, int flags,
                                                         struct ss_step_out o)
{
    ssize_t ret = SS_REAL(sendmsg)(fd, msg, o.flags);
    ss_path_done(SS_CALL_SENDMSG, fd, o, flags, ret, (uint64_t)ret, msg, NULL);
    return ret;
}

/* The fault stage of a call the step counted and a rule may fire on; a
 * call no rule fired on is forwarded as the step would have (path.h). */
static __attribute__((noinline)) ssize_t sendmsg_fire(int fd, const struct msghdr *msg, int flags,
                                                      uint64_t held)
{
    struct ss_request rq;
    struct ss_norm_frame frame;
    sendmsg_request(&rq, &frame, fd, msg, flags);
    struct ss_step_out o;
    ssize_t ret = ss_process_fire(&rq, held, &o);
    if (ret != SS_FAULT_FORWARD)
        return ret;
    return sendmsg_counted(fd, msg, flags, o);
}

/* Where the step sends the call. */
static inline ssize_t sendmsg_go(enum ss_step step, int fd, const struct msghdr *msg, int flags,
                                 struct ss_step_out o, uint64_t held)
{
    switch (step) {
    case SS_STEP_LEAVE:
        return SS_REAL(sendmsg)(fd, msg, o.flags);
    case SS_STEP_FORWARD:
        return sendmsg_counted(fd, msg, flags, o);
    case SS_STEP_FIRE:
        return sendmsg_fire(fd, msg, flags, held);
    case SS_STEP_STAGES:
    case SS_STEP_COUNT:
    case SS_STEP_NAMED:
    case SS_STEP_DESC:
        break;
    }
    return sendmsg_stages(fd, msg, flags);
}

/* The address a message names, or NULL. */
static inline const struct sockaddr *sendmsg_dest(const struct msghdr *msg)
{
    return msg->msg_name && msg->msg_namelen ? msg->msg_name : NULL;
}

/* The counting part of the step (path.h), for a message the normalizer
 * leaves alone whose address decides nothing (named 0) or may
 * (SS_STEP_NAMED). */
static inline __attribute__((always_inline)) ssize_t
sendmsg_count(int fd, const struct msghdr *msg, int flags, struct ss_fd_entry *e, int named)
{
    struct ss_step_out o;
    uint64_t held = 0;
    const struct sockaddr *dest = named ? sendmsg_dest(msg) : NULL;
    enum ss_step step =
        ss_path_step_count(SS_CALL_SENDMSG, fd, flags, e, dest, dest ? msg->msg_namelen : 0, &o, &held);
    return sendmsg_go(step, fd, msg, flags, o, held);
}
static __attribute__((noinline)) ssize_t sendmsg_counted_plain(int fd, const struct msghdr *msg, int flags,
                                                               struct ss_fd_entry *e)
{
    return sendmsg_count(fd, msg, flags, e, 0);
}
static __attribute__((noinline)) ssize_t sendmsg_counted_named(int fd, const struct msghdr *msg, int flags,
                                                               struct ss_fd_entry *e)
{
    return sendmsg_count(fd, msg, flags, e, 1);
}

/* The path past the front word (path.h), apart so the early exit needs no
 * stack frame. Every way out is a jump. */
static __attribute__((noinline)) ssize_t sendmsg_step(int fd, const struct msghdr *msg, int flags)
{
    struct ss_step_out o = {0};
    int plain = msg && !ss_needs_normalizer(msg);
    enum ss_step step = ss_path_step(SS_CALL_SENDMSG, fd, flags, plain, plain && sendmsg_dest(msg), &o);
    if (step == SS_STEP_COUNT)
        return sendmsg_counted_plain(fd, msg, flags, o.e);
    if (step == SS_STEP_NAMED)
        return sendmsg_counted_named(fd, msg, flags, o.e);
    return sendmsg_go(step, fd, msg, flags, o, 0);
}

SS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    uint64_t front = ss_front_load(SS_CALL_SENDMSG);
    if (SS_LIKELY(ss_front_exits(front, flags) && (!msg || !ss_needs_normalizer(msg))))
        return SS_REAL(sendmsg)(fd, msg, ss_front_flags(front, flags));
    return sendmsg_step(fd, msg, flags);
}
