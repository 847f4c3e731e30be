/* fault_actions.c - the fault stage of the pipeline (SPEC section 8): a
 * call's decision against the rules in force (fault_store.c), and applying
 * the fault that fires (error, delay, short=, batch=, drop; the network
 * actions are netfaults.c's), then the result's aftermath (the log line,
 * fault_log.c; SIGPIPE; the wakeup). Also close and shutdown rules, whose
 * delay is applied here and whose line fault_log.c writes. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fault_internal.h"
#include "faults.h"
#include "fdtable.h"
#include "log.h"
#include "netfaults.h"
#include "stages.h"
#include "stats.h"

/* The actions netfaults.c applies, sending by itself. */
#define SS_NET_ACTIONS (SS_ACT_RESET | SS_ACT_RATE | SS_ACT_STALL | SS_ACT_DUP | SS_ACT_CORRUPT)

/* ---- applying a fault ------------------------------------------------------ */

/* Copy the first `keep` bytes' worth of iov into f->iov (zero-length entries
 * skipped, the last one cut). The copy is bounded: when `keep` lies beyond
 * SS_FAULT_IOV_COPY non-empty entries, fewer bytes are kept, which is still
 * a legal short write of at least one byte. Returns the entries used. */
static int cut_iov(struct ss_fault *f, const struct iovec *iov, size_t n, uint64_t keep)
{
    int k = 0;
    for (size_t i = 0; i < n && keep && k < SS_FAULT_IOV_COPY; i++) {
        if (!iov[i].iov_len)
            continue;
        f->iov[k] = iov[i];
        if (f->iov[k].iov_len > keep)
            f->iov[k].iov_len = keep;
        keep -= f->iov[k].iov_len;
        k++;
    }
    return k;
}

/* short=: make the request send at most d.keep bytes. sendmmsg on a stream
 * socket: the messages that fit whole are sent as a shorter batch; when not
 * even the first fits, it alone is sent cut (a one-message sendmmsg on a
 * copy whose msg_len is copied back). Either is a result the kernel can give
 * (a batch ends early; a stream message is sent in part). */
static void apply_short(struct ss_request *rq, struct ss_fault *f)
{
    uint64_t keep = f->d.keep;
    switch (rq->call) {
    case SS_CALL_SEND:
    case SS_CALL_SENDTO:
    case SS_CALL_WRITE:
        rq->len = (size_t)keep;
        break;
    case SS_CALL_WRITEV:
        rq->iovcnt = cut_iov(f, rq->iov, (size_t)rq->iovcnt, keep);
        rq->iov = f->iov;
        break;
    case SS_CALL_SENDMSG:
        f->hdr.msg = *rq->msg;
        f->hdr.msg.msg_iovlen = (size_t)cut_iov(f, rq->msg->msg_iov, rq->msg->msg_iovlen, keep);
        f->hdr.msg.msg_iov = f->iov;
        rq->msg = &f->hdr.msg;
        break;
    case SS_CALL_SENDMMSG: {
        unsigned vlen = ss_faults_capped_vlen(rq), whole = 0;
        uint64_t sum = 0;
        for (; whole < vlen; whole++) {
            const struct msghdr *m = &rq->vec[whole].msg_hdr;
            uint64_t b = ss_faults_iov_sum(m->msg_iov, m->msg_iovlen);
            if (sum + b > keep)
                break;
            sum += b;
        }
        if (whole) {
            rq->vlen = whole;
            break;
        }
        const struct msghdr *m = &rq->vec[0].msg_hdr;
        f->hdr.mmsg.msg_hdr = *m;
        f->hdr.mmsg.msg_hdr.msg_iovlen = (size_t)cut_iov(f, m->msg_iov, m->msg_iovlen, keep);
        f->hdr.mmsg.msg_hdr.msg_iov = f->iov;
        f->hdr.mmsg.msg_len = 0;
        f->user_vec = rq->vec;
        rq->vec = &f->hdr.mmsg;
        rq->vlen = 1;
        break;
    }
    case SS_CALL_SENDFILE: /* seen only: never faulted */
    case SS_CALL_SPLICE:
    case SS_NCALLS_SEEN:
        break;
    }
}

/* drop: report every byte as sent, send nothing, unless the kernel would
 * refuse the call (fault_drop.c). */
static ssize_t apply_drop(struct ss_request *rq, struct ss_fault *f)
{
    return ss_fault_drop(rq, f->call.type, f->call.family);
}

/* Sleep ns on the monotonic clock, to an absolute deadline so that a signal
 * (EINTR) resumes the sleep for the time that is left. */
static void sleep_ns(uint64_t ns)
{
    struct timespec t;
    int saved = errno;
    clock_gettime(CLOCK_MONOTONIC, &t);
    uint64_t sec = ns / SS_NS_PER_S + (uint64_t)t.tv_sec;
    uint64_t nsec = ns % SS_NS_PER_S + (uint64_t)t.tv_nsec;
    t.tv_sec = (time_t)(sec + nsec / SS_NS_PER_S);
    t.tv_nsec = (long)(nsec % SS_NS_PER_S);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
        ;
    errno = saved;
}

/* The kernel raises SIGPIPE for EPIPE on stream sockets only (TCP, unix
 * stream; a unix seqpacket socket fails with EPIPE silently), in the calling
 * thread, unless MSG_NOSIGNAL. */
static int sigpipe_due(const struct ss_request *rq, int type)
{
    return type == SOCK_STREAM && !(rq->flags & MSG_NOSIGNAL);
}

/* Raised after the log line is written: by default SIGPIPE ends the process
 * as soon as it is sent. An ignored SIGPIPE is discarded by the kernel, a
 * blocked one stays pending, a handler runs now: the same as for the real
 * error, which the kernel signals on the way back from the system call. */
static void raise_sigpipe(void)
{
    syscall(SYS_tgkill, (pid_t)syscall(SYS_getpid), (pid_t)syscall(SYS_gettid), SIGPIPE);
}

/* A rule fired on what the descriptor table believes about the descriptor
 * (its kind, its bytes, or, for error=EPIPE, the SIGPIPE its kind brings):
 * before it acts, the descriptor is re-identified (fdtable.h: one getsockopt,
 * on this rare path only). When it is another open file now (a number
 * reused behind libc's back), its entry has started over, and the rule acts
 * only if it still matches and can act with the true facts; else the call
 * goes on untouched (it was counted as it was seen, and the rule's fired
 * count is taken back). Returns whether the rule acts. */
/* Whether rule r's fd=, peer= and port= hold for the call on the socket now
 * at its number (another than the one its verdict was made for): the
 * address the call names, else that socket's connected peer, asked of the
 * kernel (this rare path only). */
static __attribute__((noinline)) int place_still_matches(const struct ss_request *rq, const struct ss_rule *r)
{
    socklen_t len;
    const struct sockaddr *dest = ss_faults_named_dest(rq, &len);
    struct sockaddr_storage peer;
    if (!dest && (r->conds & (SS_COND_PEER | SS_COND_PORT)))
        dest = ss_faults_connected_peer(rq->fd, &peer, &len);
    return ss_rule_matches_place(r, rq->fd, dest, len);
}

static int still_applies(const struct ss_request *rq, struct ss_fd_ref *fd, struct ss_fault *f,
                         const struct ss_fault_plan *p)
{
    int believed =
        (p->by_descriptor & SS_CALL_BIT(rq->call)) || ((f->d.actions & SS_ACT_ERROR) && f->d.error == EPIPE);
    if (!believed || ss_fd_confirm(rq->fd, fd))
        return 1;
    struct ss_fault_call *c = &f->call;
    c->type = ss_fd_type(fd->st);
    c->family = ss_fd_family(fd->st);
    c->sent = 0; /* a new open file has sent nothing */
    const struct ss_rule *r = &p->rule[f->d.rule];
    uint64_t keep;
    int acts = !(!c->type && (rq->call == SS_CALL_WRITE || rq->call == SS_CALL_WRITEV)) &&
               place_still_matches(rq, r) && ss_rule_matches_but_place(r, c) && ss_rule_acts(r, c, &keep);
    if (!acts) {
        __atomic_sub_fetch(&p->st[f->d.rule].fired, 1, __ATOMIC_RELAXED);
        return 0;
    }
    if (r->actions & SS_ACT_SHORT)
        f->d.keep = keep;
    return 1;
}

/* ---- the stage --------------------------------------------------------------- */

/* The facts of SS_NEED_SOCK and SS_NEED_SENT, and the address the call
 * names for peer= and port= (SS_NEED_DEST) only. */
static inline void gather_facts(const struct ss_request *rq, struct ss_fd_ref *fd, unsigned needs,
                                struct ss_fault_call *c)
{
    ss_fault_facts(rq->call, rq->fd, rq->call == SS_CALL_SENDMMSG ? rq->vlen : 0, fd, needs, c);
    if (needs & SS_NEED_DEST)
        c->dest = ss_faults_named_dest(rq, &c->destlen);
}

/* Some rule may fire on this call (ss_faults_count said so in counts, from
 * the facts in f->call): pick it, leave the slot, and apply it. f->fired is
 * set when one fires, else left alone. Reached from the stages and from the
 * descriptor step's hand-over (ss_process_fire), which count the call
 * themselves. */
ssize_t ss_stage_faults_fire(struct ss_request *rq, struct ss_fd_ref *fd, struct ss_fault *f,
                             const struct ss_fault_counts *counts, const struct ss_fault_plan *p,
                             struct ss_fault_slot *slot, int chosen)
{
    struct ss_fault_call *c = &f->call;
    unsigned needs = p->needs[rq->call];
    /* When no rule of the call reads its facts to decide (their actions act
     * on every call: error=, delay=; so none needs the bytes or the stall
     * state either), the pick comes first and the facts are gathered only
     * once a rule fired: a p= draw that misses costs the draw. */
    int facts_first = (p->pick_reads & SS_CALL_BIT(rq->call)) != 0;
    if (facts_first) {
        gather_facts(rq, fd, needs, c);
        /* The bytes (short= to decide, the log line), short= and drop read
         * the program's iovec arrays: a call whose arrays the kernel would
         * refuse (EFAULT) goes to the kernel untouched. Asking is a system
         * call for sendmsg, sendmmsg and writev, made only before short=
         * decides and once a rule fired. */
        if ((needs & SS_NEED_BYTES) && !ss_request_readable(rq)) {
            ss_faults_leave(slot);
            return SS_FAULT_FORWARD;
        }
        /* Bytes (a walk over the iovecs) are counted only when needed:
         * short= needs them to decide; the log line once a rule fired. */
        if (needs & SS_NEED_BYTES) {
            c->bytes = ss_request_bytes(rq);
            c->unit_bytes = c->bytes;
            if (rq->call == SS_CALL_SENDMMSG) /* corrupt= acts on the first message */
                c->unit_bytes =
                    rq->vlen ? ss_faults_iov_sum(rq->vec[0].msg_hdr.msg_iov, rq->vec[0].msg_hdr.msg_iovlen)
                             : 0;
        }
        if (needs & SS_NEED_STALL)
            c->stalled = ss_net_stall_state(rq->fd);
    }
    if (chosen >= 0) {
        /* Chosen by the step, with the same ss_faults_choose: its p= is
         * drawn already; fired here. No fact decided it (facts_first is 0). */
        ss_faults_fire(p, (unsigned)chosen, c, 0, p->base[chosen], &f->d);
    } else {
        ss_faults_pick(p, c, counts, &f->d);
    }
    if (!facts_first && f->d.rule >= 0)
        gather_facts(rq, fd, needs, c);
    if (f->d.rule < 0 || !still_applies(rq, fd, f, p)) {
        ss_faults_leave(slot);
        return SS_FAULT_FORWARD;
    }
    int log = ss_log_enabled();
    if (!(needs & SS_NEED_BYTES) && ((f->d.actions & SS_ACT_DROP) || log) && !ss_request_readable(rq)) {
        __atomic_sub_fetch(&p->st[f->d.rule].fired, 1, __ATOMIC_RELAXED); /* it did not act */
        ss_faults_leave(slot);
        return SS_FAULT_FORWARD;
    }
    /* Copy out what the log line needs: the set may be replaced meanwhile.
     * A log that is off now stays off (it is never turned on at run time). */
    f->log = log;
    if (log)
        memcpy(f->text, p->rule[f->d.rule].text, sizeof f->text);
    ss_faults_leave(slot);

    f->fired = 1;
    f->saved_errno = errno;
    f->sigpipe = 0;
    f->wake = 0;
    f->user_vec = NULL;
    f->rewritten = 0;
    if (!(needs & SS_NEED_BYTES) && log)
        c->bytes = ss_request_bytes(rq);
    f->bytes = c->bytes;
    f->vlen = c->vlen;
    __atomic_add_fetch(&ss_stats_home->faults, 1, __ATOMIC_RELAXED);

    if (f->d.actions & SS_ACT_DELAY)
        sleep_ns(f->d.delay_ns);
    if (f->d.actions & SS_ACT_ERROR) {
        if (f->d.error == EPIPE) {
            if (!(needs & SS_NEED_SOCK))
                ss_faults_sock_facts(fd, rq->fd, &c->type, &c->family);
            f->sigpipe = sigpipe_due(rq, c->type);
        }
        f->wake = f->d.error == EAGAIN && ss_net_may_wake(fd->st);
        errno = f->d.error;
        return -1;
    }
    if (f->d.actions & SS_NET_ACTIONS)
        return ss_net_apply(rq, f, c->type);
    if (f->d.actions & SS_ACT_DROP)
        return apply_drop(rq, f);
    if (f->d.actions & (SS_ACT_SHORT | SS_ACT_BATCH)) {
        /* The only actions that rewrite the request (the network actions
         * send copies of their own): keep it as it came. */
        f->orig = *rq;
        f->rewritten = 1;
        if (f->d.actions & SS_ACT_SHORT)
            apply_short(rq, f);
        else
            rq->vlen = f->d.batch;
    }
    return SS_FAULT_FORWARD;
}

void ss_stage_faults_done_full(struct ss_request *rq, struct ss_fd_ref *fd, struct ss_fault *f, ssize_t ret,
                               int err)
{
    if (f->user_vec && ret > 0) /* short= on sendmmsg sent a cut copy of message 0 */
        f->user_vec[0].msg_len = f->hdr.mmsg.msg_len;
    /* The later stages (MSG_EOF's "was everything sent?", stats, trace) see
     * the request the program made, not the cut one. */
    if (f->rewritten)
        *rq = f->orig;
    if (f->log)
        ss_faults_log_fault(rq, f, ret, err);
    if (f->sigpipe)
        raise_sigpipe();
    if (f->wake && ret < 0 && err == EAGAIN)
        ss_net_wake(rq->fd, fd->st);
}

/* ---- close and shutdown (slow close) ---------------------------------------- */

void ss_faults_teardown(unsigned bit, int fd, struct ss_teardown *t)
{
    t->rule = -1;
    struct ss_fault_slot *slot;
    const struct ss_fault_plan *p = ss_faults_hold(&slot);
    if (__builtin_expect(!p, 1))
        return;
    if (!(p->teardown & bit)) {
        ss_faults_leave(slot);
        return;
    }
    uint64_t st = ss_fd_probe(fd);
    if (!ss_fd_is_socket(st)) { /* close and shutdown rules are about sockets */
        ss_faults_leave(slot);
        return;
    }
    struct ss_fault_call c = {
        .call = SS_CALL_SEND, .fd = fd, .type = ss_fd_type(st), .family = ss_fd_family(st)};
    struct sockaddr_storage peer;
    c.dest = ss_faults_connected_peer(fd, &peer, &c.destlen);
    struct ss_fd_entry *e = ss_fd_lookup(fd);
    if (e)
        c.sent = __atomic_load_n(&e->bytes, __ATOMIC_RELAXED);
    struct ss_fault_decision d;
    ss_faults_pick_teardown(p, bit, &c, &d);
    if (d.rule >= 0) {
        t->rule = d.rule;
        t->delay_ns = d.delay_ns;
        memcpy(t->text, p->rule[d.rule].text, sizeof t->text);
    }
    ss_faults_leave(slot);
    if (t->rule >= 0) {
        __atomic_add_fetch(&ss_stats_home->faults, 1, __ATOMIC_RELAXED);
        sleep_ns(t->delay_ns);
    }
}
