/* pipeline.c - normalize -> flags -> faults -> forward, for every configured
 * call, and the bookkeeping after it (MSG_EOF, stats, trace); the calls no
 * stage would rewrite take the quick lane (quick.h). */
#include "pipeline.h"

#include <errno.h>

#include "control.h"
#include "quick.h"
#include "real.h"
#include "sigpipe.h"
#include "state.h"
#include "stages.h"
#include "stats.h"

int ss_active SS_HOT;
struct ss_config ss_cfg;

/* Hand the request to the real function of the same kind: a sendmmsg stays
 * one sendmmsg, so batching is never lost. */
static ssize_t forward(const struct ss_request *rq)
{
    switch (rq->call) {
    case SS_CALL_SEND:
        return SS_REAL(send)(rq->fd, rq->buf, rq->len, rq->flags);
    case SS_CALL_SENDTO:
        return SS_REAL(sendto)(rq->fd, rq->buf, rq->len, rq->flags, rq->addr, rq->addrlen);
    case SS_CALL_SENDMSG:
        return SS_REAL(sendmsg)(rq->fd, rq->msg, rq->flags);
    case SS_CALL_SENDMMSG:
        return SS_REAL(sendmmsg)(rq->fd, rq->vec, rq->vlen, (ss_mmsg_flags_t)rq->flags);
    case SS_CALL_WRITE:
    case SS_CALL_WRITEV:
        /* As send/sendmsg with MSG_NOSIGNAL when the SIGPIPE policy says so. */
        return ss_forward_write(rq);
    case SS_CALL_SENDFILE: /* seen only (transfer.c): never a request of the pipeline */
    case SS_CALL_SPLICE:
    case SS_NCALLS_SEEN:
        break;
    }
    errno = ENOSYS;
    return -1;
}

ssize_t ss_forward(const struct ss_request *rq)
{
    return forward(rq);
}

/* After the call: the stages' bookkeeping, on the request as normalized
 * (never the program's header, which may hold what normalization masked
 * off), then errno as the call leaves it. */
static inline ssize_t finish(struct ss_request *rq, struct ss_fd_ref *fd, ssize_t ret, int err,
                             int saved_errno)
{
    if (ret >= 0)
        ss_stage_after_success(rq, fd, ret);
    if (ss_cfg.count) {
        ss_stats_count(rq, ret);
        ss_stage_normalize_count(rq, ret);
    }
    if (ss_cfg.trace)
        ss_trace_call(rq, ret, err);
    ss_stage_normalize_done(rq, ret);
    /* Success leaves errno as the program had it; failure sets the call's. */
    errno = ret < 0 ? err : saved_errno;
    return ret;
}

/* The end every call of the full pipeline shares: forward unless the
 * fault stage answered, the fault's log line, the bookkeeping. */
static ssize_t run(struct ss_request *rq, struct ss_fd_ref *fd, struct ss_fault *fault, ssize_t ret,
                   int saved_errno)
{
    if (ret == SS_FAULT_FORWARD)
        ret = forward(rq);
    if (fault->fired)
        ret = ss_stage_faults_done(rq, fault, ret);
    return finish(rq, fd, ret, ret < 0 ? errno : 0, saved_errno);
}

ssize_t ss_process(struct ss_request *rq)
{
    /* Attached to a control file, every call comes here (it counts, so the
     * quick lane is closed) and first picks up a change of the rules. */
    ss_control_poll();
    int saved_errno = errno;
    struct ss_fd_ref fd; /* the descriptor, looked up once for every stage */
    ss_fd_ref_init(&fd, rq->fd);
    rq->flags = rq->flags_in;

    int err = 0;
    if (rq->call == SS_CALL_SENDMSG || rq->call == SS_CALL_SENDMMSG)
        err = ss_stage_normalize(rq, &fd);
    if (!err)
        err = ss_stage_flags(rq, &fd);
    if (err)
        return finish(rq, &fd, -1, err, saved_errno);

    struct ss_fault fault;
    return run(rq, &fd, &fault, ss_stage_faults(rq, &fd, &fault), saved_errno);
}

ssize_t ss_process_lane(struct ss_request *rq, struct ss_lane *l, enum ss_lane_kind kind)
{
    if (kind != SS_LANE_FIRE && kind != SS_LANE_NARROW)
        return ss_process(rq);
    /* Normalize and flags had nothing to do (ss_quick checked): on to the
     * fault stage, with the facts the lane did not gather. */
    int saved_errno = errno;
    rq->flags = l->flags;
    struct ss_fault fault;
    fault.fired = 0;
    const struct ss_fault_plan *p = l->plan;
    ss_fault_facts(rq->call, rq->fd, rq->call == SS_CALL_SENDMMSG ? rq->vlen : 0, &l->fd, p->needs[rq->call],
                   &fault.call);
    ssize_t ret = SS_FAULT_FORWARD;
    if (kind == SS_LANE_FIRE ||
        ss_faults_count_groups(p, ss_faults_narrow(p, &fault.call, l->groups), &l->counts))
        ret = ss_stage_faults_fire(rq, &l->fd, &fault, &l->counts, p, SS_FAULT_NO_SLOT);
    return run(rq, &l->fd, &fault, ret, saved_errno);
}
