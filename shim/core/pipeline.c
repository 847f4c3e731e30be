/* pipeline.c - the stages of the one path (path.h): normalize -> flags ->
 * faults -> forward, and the bookkeeping after the call (MSG_EOF, the
 * descriptor's bytes, stats, trace). A call comes here from its wrapper's
 * descriptor step, with what the step found; write and writev come
 * straight (ss_process). */
#include "pipeline.h"

#include <errno.h>

#include "path.h"
#include "real.h"
#include "sigpipe.h"
#include "stages.h"
#include "state.h"
#include "stats.h"

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
static inline __attribute__((always_inline)) ssize_t finish(struct ss_request *rq, struct ss_path *pa,
                                                            ssize_t ret, int err, int saved_errno)
{
    if (ret >= 0)
        ss_stage_after_success(rq, &pa->fd, ret, (pa->opts & SS_OPT_BYTES) != 0);
    if (pa->opts & SS_OPT_STATS) {
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

/* The end every call of the stages shares: forward unless the fault stage
 * answered, the fault's log line, the bookkeeping. */
static inline __attribute__((always_inline)) ssize_t run(struct ss_request *rq, struct ss_path *pa,
                                                         struct ss_fault *fault, ssize_t ret, int saved_errno)
{
    if (ret == SS_FAULT_FORWARD)
        ret = forward(rq);
    int err = ret < 0 ? errno : 0;
    if (fault->fired)
        ss_stage_faults_done(rq, &pa->fd, fault, ret, err);
    return finish(rq, pa, ret, err, saved_errno);
}

/* The fault stage's counting, for a call that came through the stages:
 * the same groups and counters as the descriptor step's. Returns the plan,
 * held, when a rule may fire (pa->counts say which), else NULL. */
static const struct ss_fault_plan *count_call(struct ss_request *rq, struct ss_path *pa)
{
    /* A NULL msghdr or vector goes to the kernel, which says EFAULT. */
    if ((rq->call == SS_CALL_SENDMSG && !rq->msg) || (rq->call == SS_CALL_SENDMMSG && !rq->vec && rq->vlen))
        return NULL;
    struct ss_fault_slot *slot;
    const struct ss_fault_plan *p = ss_faults_hold(&slot);
    if (!p)
        return NULL;
    uint64_t m = 0;
    if (p->calls[rq->call]) {
        socklen_t destlen;
        const struct sockaddr *dest = ss_faults_named_dest(rq, &destlen);
        m = ss_path_groups(p, rq->call, rq->fd, &pa->fd, dest, destlen, 1);
        /* write and writev are ours only on sockets. */
        if ((rq->call == SS_CALL_WRITE || rq->call == SS_CALL_WRITEV) && !ss_fd_is_socket(pa->fd.st))
            m = 0;
    }
    if (!ss_faults_count_groups(p, m, &pa->counts)) {
        ss_faults_leave(slot);
        return NULL;
    }
    pa->slot = slot;
    return p;
}

ssize_t ss_process_stages(struct ss_request *rq, struct ss_path *pa)
{
    int saved_errno = errno;
    rq->flags = rq->flags_in;
    int err = 0;
    if (rq->call == SS_CALL_SENDMSG || rq->call == SS_CALL_SENDMMSG)
        err = ss_stage_normalize(rq, &pa->fd);
    if (!err)
        err = ss_stage_flags(rq, &pa->fd, pa->add);
    if (err)
        return finish(rq, pa, -1, err, saved_errno);

    struct ss_fault fault;
    fault.fired = 0;
    ssize_t ret = SS_FAULT_FORWARD;
    const struct ss_fault_plan *p = count_call(rq, pa);
    if (p) {
        ret = ss_stage_faults_fire(rq, &pa->fd, &fault, &pa->counts, p, pa->slot, -1);
    }
    return run(rq, pa, &fault, ret, saved_errno);
}

ssize_t ss_process_fire(struct ss_request *rq, uint64_t held, struct ss_step_out *o)
{
    /* What the step found, found again (the control file was checked by
     * the step: no rule set to apply), and the slot it holds. */
    struct ss_path pa;
    uint64_t front = ss_front_load(rq->call);
    pa.opts = (unsigned)(front >> SS_FRONT_OPT_SHIFT) & 0xfu;
    ss_fd_ref_init(&pa.fd, rq->fd);
    pa.add = (int)((front >> 32) & SS_FRONT_ADD_MASK) | (int)((pa.fd.st & SS_FD_NOSIGPIPE) << 12);
    pa.slot = &ss_fault_slots[(held >> SS_HELD_SLOT_SHIFT) &
                              ((1u << (SS_HELD_CHOSEN_SHIFT - SS_HELD_SLOT_SHIFT)) - 1)];
    unsigned g = (unsigned)held & ((1u << SS_HELD_SLOT_SHIFT) - 1);
    unsigned chosen1 =
        (unsigned)(held >> SS_HELD_CHOSEN_SHIFT) & ((1u << (SS_HELD_COUNT_SHIFT - SS_HELD_CHOSEN_SHIFT)) - 1);
    const struct ss_fault_plan *p = __atomic_load_n(&pa.slot->plan, __ATOMIC_ACQUIRE);
    pa.counts.pending = 1ull << g;
    pa.counts.count[g] = (held >> SS_HELD_COUNT_SHIFT) + 1;
    uint64_t above = ~((2ull << g) - 1);
    /* The step chose the rule already (chosen1: g was the call's last
     * group and its rules read no fact to decide); else the groups above g
     * it left uncounted are counted now, as the stages count (what is
     * cached answers, so nothing is asked), and the fault stage picks. */
    int chosen = (int)chosen1 - 1;
    if (chosen < 0 && (p->calls[rq->call] & above)) {
        socklen_t destlen;
        const struct sockaddr *dest = ss_faults_named_dest(rq, &destlen);
        uint64_t m = ss_path_groups(p, rq->call, rq->fd, &pa.fd, dest, destlen, 1) & above;
        for (; m; m &= m - 1)
            pa.counts.pending |= ss_faults_count_group(p, (unsigned)__builtin_ctzll(m), &pa.counts);
    }

    rq->flags = rq->flags_in | pa.add;
    o->flags = rq->flags;
    o->e = pa.fd.e;
    struct ss_fault fault;
    fault.fired = 0;
    ssize_t ret = ss_stage_faults_fire(rq, &pa.fd, &fault, &pa.counts, p, pa.slot, chosen);
    /* No rule fired (a p= draw that missed, an action that cannot act on
     * this call): the call is the one the step would have forwarded had no
     * rule been pending, and its wrapper forwards it so (SS_STEP_FORWARD,
     * whose ss_path_done counts what the statistics count), errno
     * untouched. */
    if (!fault.fired)
        return SS_FAULT_FORWARD;
    return run(rq, &pa, &fault, ret, fault.saved_errno);
}

ssize_t ss_process(struct ss_request *rq)
{
    struct ss_path pa;
    ss_path_begin(rq->call, rq->fd, &pa); /* write, writev: no front word, the SIGPIPE policy's flags */
    return ss_process_stages(rq, &pa);
}
