/* sendmmsg.c - sendmmsg(2). glibc and musl differ in the type of flags. */
#include <errno.h>
#include <sys/socket.h>

#include "export.h"
#include "stages.h"

/* The request the stages work on, with the normalize stage's frame (on the
 * caller's stack). */
static inline void sendmmsg_request(struct ss_request *rq, struct ss_norm_frame *frame, int fd,
                                    struct mmsghdr *vec, unsigned int vlen, int flags)
{
    ss_request_start(rq, SS_CALL_SENDMMSG, fd, flags);
    rq->vec = vec;
    rq->vlen = vlen;
    ss_norm_frame_init(frame);
    rq->norm = frame;
}

/* The stages: the step's last call, a jump, so the step's frame is gone by
 * then (the stack a call takes stays bounded). */
static __attribute__((noinline)) int sendmmsg_stages(int fd, struct mmsghdr *vec, unsigned int vlen,
                                                     int flags)
{
    struct ss_request rq;
    struct ss_norm_frame frame;
    sendmmsg_request(&rq, &frame, fd, vec, vlen, flags);
    struct ss_path path;
    ss_path_begin(SS_CALL_SENDMMSG, fd, &path);
    return (int)ss_process_stages(&rq, &path);
}

/* A batch the step let go (SS_STEP_LEAVE, SS_STEP_FORWARD with its
 * bookkeeping after it). musl's sendmmsg is a loop of sendmsg: a batch sent
 * in part returns its count with the failed message's errno set. A success
 * leaves errno as the program had it (SPEC 4), as the stages do. */
static __attribute__((noinline)) int sendmmsg_forward(int fd, struct mmsghdr *vec, unsigned int vlen,
                                                      int flags, struct ss_step_out o)
{
    int saved_errno = errno;
    int ret = SS_REAL(sendmmsg)(fd, vec, vlen, (ss_mmsg_flags_t)o.flags);
    if (ret >= 0)
        errno = saved_errno;
    if (ss_path_opts(SS_CALL_SENDMMSG) & (SS_OPT_STATS | SS_OPT_BYTES))
        ss_path_done(SS_CALL_SENDMMSG, fd, o, flags, ret, ret > 0 ? ss_batch_sent(vec, (unsigned)ret) : 0,
                     NULL, vec);
    return ret;
}

/* The fault stage of a batch the step counted and a rule may fire on; a
 * batch no rule fired on is forwarded as the step would have (path.h). */
static __attribute__((noinline)) int sendmmsg_fire(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
                                                   uint64_t held)
{
    struct ss_request rq;
    struct ss_norm_frame frame;
    sendmmsg_request(&rq, &frame, fd, vec, vlen, flags);
    struct ss_step_out o;
    int ret = (int)ss_process_fire(&rq, held, &o);
    if (ret != (int)SS_FAULT_FORWARD)
        return ret;
    return sendmmsg_forward(fd, vec, vlen, flags, o);
}

/* Where the step sends the batch. */
static inline int sendmmsg_go(enum ss_step step, int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
                              struct ss_step_out o, uint64_t held)
{
    switch (step) {
    case SS_STEP_LEAVE:
    case SS_STEP_FORWARD:
        return sendmmsg_forward(fd, vec, vlen, flags, o);
    case SS_STEP_FIRE:
        return sendmmsg_fire(fd, vec, vlen, flags, held);
    case SS_STEP_STAGES:
    case SS_STEP_COUNT:
    case SS_STEP_NAMED:
    case SS_STEP_DESC:
        break;
    }
    return sendmmsg_stages(fd, vec, vlen, flags);
}

/* The address a batch's first message names, or NULL. */
static inline const struct sockaddr *sendmmsg_dest(const struct mmsghdr *vec, unsigned int vlen)
{
    return vlen && vec[0].msg_hdr.msg_name && vec[0].msg_hdr.msg_namelen ? vec[0].msg_hdr.msg_name : NULL;
}

/* The counting part of the step (path.h), for a batch the normalizer
 * leaves alone whose first address decides nothing (named 0) or may
 * (SS_STEP_NAMED). */
static inline __attribute__((always_inline)) int
sendmmsg_count(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct ss_fd_entry *e, int named)
{
    struct ss_step_out o;
    uint64_t held = 0;
    const struct sockaddr *dest = named ? sendmmsg_dest(vec, vlen) : NULL;
    enum ss_step step = ss_path_step_count(SS_CALL_SENDMMSG, fd, flags, e, dest,
                                           dest ? vec[0].msg_hdr.msg_namelen : 0, &o, &held);
    return sendmmsg_go(step, fd, vec, vlen, flags, o, held);
}
static __attribute__((noinline)) int sendmmsg_counted_plain(int fd, struct mmsghdr *vec, unsigned int vlen,
                                                            int flags, struct ss_fd_entry *e)
{
    return sendmmsg_count(fd, vec, vlen, flags, e, 0);
}
static __attribute__((noinline)) int sendmmsg_counted_named(int fd, struct mmsghdr *vec, unsigned int vlen,
                                                            int flags, struct ss_fd_entry *e)
{
    return sendmmsg_count(fd, vec, vlen, flags, e, 1);
}

/* The path past the front word (path.h), apart so the early exit needs no
 * stack frame. Every way out is a jump. */
static __attribute__((noinline)) int sendmmsg_step(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
    struct ss_step_out o = {0};
    int plain = vec && vlen <= SS_MMSG_VLEN_MAX && ss_batch_all_plain(vec, vlen);
    enum ss_step step =
        ss_path_step(SS_CALL_SENDMMSG, fd, flags, plain, plain && sendmmsg_dest(vec, vlen), &o);
    if (step == SS_STEP_COUNT)
        return sendmmsg_counted_plain(fd, vec, vlen, flags, o.e);
    if (step == SS_STEP_NAMED)
        return sendmmsg_counted_named(fd, vec, vlen, flags, o.e);
    return sendmmsg_go(step, fd, vec, vlen, flags, o, 0);
}

SS_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, ss_mmsg_flags_t flags)
{
    /* Unlike sendmsg, control data does not send a batch on when nothing is
     * configured: finding it means reading every message (about 9
     * instructions each), which the early exit cannot afford. Any SENDSHIM_*
     * variable set (SENDSHIM_FLAGS=linux will do) turns it on (policy.c). */
    uint64_t front = ss_front_load(SS_CALL_SENDMMSG);
    if (SS_LIKELY(ss_front_exits(front, (int)flags)))
        return SS_REAL(sendmmsg)(fd, vec, vlen, (ss_mmsg_flags_t)ss_front_flags(front, (int)flags));
    return sendmmsg_step(fd, vec, vlen, (int)flags);
}
