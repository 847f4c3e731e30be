/* stage_faults.c - the fault stage of the pipeline (SPEC section 8), the rule
 * sets in force, their runtime replacement and their statistics.
 *
 * Rule sets and readers. The rules in force can be replaced at any time by
 * sendshim_set_faults() while other threads (and signal handlers) send, and
 * the send path may take no lock. The sets live in a few slots; `cur` names
 * the slot in force. A reader (one call's decision) announces itself in the
 * slot's reader count, then checks that the slot is still the current one
 * (if not, it backs off and retries), reads, and leaves. A writer (serialized
 * by a lock that is never on the send path) builds the new set in a slot that
 * is neither current nor read, publishes it by storing `cur`, and frees an
 * old set only once no reader is in its slot. The announce-then-check and
 * publish-then-count pairs are sequentially consistent, so a reader that saw
 * a slot as current is always seen by a writer that looks afterwards. A
 * reader holds a slot only for the decision: everything the call needs later
 * (the rule's text for the log line included) is copied out first, so a
 * delay or a blocking send never holds a set.
 *
 * Memory. The constructor's rules stay where the configuration parsed them
 * (ss_cfg.rules); their counters are a static array. A set given at run time
 * lives in its own anonymous mapping, mapped only then and trimmed to the
 * rules it holds (one page for a few rules; about 26 KiB for the maximum of
 * 64), and unmapped once replaced and no longer read. So a process that
 * never calls sendshim_set_faults() maps nothing, and one that does holds one
 * set in the steady state (two while an old one drains).
 *
 * Fork. pthread_atfork handlers, registered by the constructor, give the
 * child its own schedule: a stream id of its own (prng.h: from the parent's
 * id and the parent's fork count, so the same program forks the same
 * streams), and every rule set it holds restarts, its counters at zero and
 * its generators drawing from the child's stream, since counters and streams
 * are per process (SPEC 14). pthread_atfork rather than an interposed fork():
 * it also covers libc's own forks (daemon()), and vfork/posix_spawn children
 * exec, which starts a process afresh anyway. The fork count is claimed in
 * the prepare handler and handed to the child handler through a thread-local
 * variable: both run in the forking thread, and threads that fork at the same
 * time each keep their own. The child also resets the writer lock and the
 * reader counts (a count left behind by a thread of the parent that does not
 * exist in the child would otherwise keep its slot busy forever; a slot so
 * lost is only skipped, never waited on when others are free).
 *
 * Signal handlers. sendshim_set_faults() may be called from a signal handler.
 * The writer lock holds the id of the thread that took it, so a handler that
 * interrupted that very thread fails with EDEADLK instead of waiting for a
 * holder that cannot run until the handler returns; a lock held by another
 * thread is waited for, as that thread goes on.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "control_layout.h"
#include "faults.h"
#include "fdtable.h"
#include "log.h"
#include "netfaults.h"
#include "pipeline.h"
#include "stages.h"
#include "state.h"
#include "stats.h"

#define SS_FAULT_SLOTS    4       /* rule-set slots: current, draining, spare */
#define SS_SET_WAIT_TRIES 1000000 /* sched_yield()s a writer waits for a free slot */
#define SS_NS_PER_S       1000000000ull
/* The actions netfaults.c applies, sending by itself. */
#define SS_NET_ACTIONS (SS_ACT_RESET | SS_ACT_RATE | SS_ACT_STALL | SS_ACT_DUP | SS_ACT_CORRUPT)

/* A set from the control file counts in the bank of its slot (control.h). */
_Static_assert(SS_FAULT_SLOTS == SS_CTL_BANKS, "one control-file bank per rule-set slot");

/* A rule set given at run time: one anonymous mapping, trimmed after the
 * rules in use (`rs` must stay last). */
struct ss_rtset {
    size_t map_len;
    uint64_t number; /* its place among the sets installed (prng.h) */
    uint64_t gen;    /* the control file's generation it came from, or 0 */
    struct ss_fault_plan plan;
    struct ss_rule_state st[SS_MAX_RULES];
    struct ss_ruleset rs;
};

struct ss_slot {
    unsigned readers;
    int initial;          /* holds the constructor's rules (ss_cfg.rules) */
    struct ss_rtset *set; /* else this set, or NULL when empty */
};

static struct ss_slot slots[SS_FAULT_SLOTS] = {[0] = {.initial = 1}};
static unsigned cur;                                  /* the slot in force */
static struct ss_rule_state initial_st[SS_MAX_RULES]; /* counters of ss_cfg.rules */
static struct ss_fault_plan initial_plan;             /* of ss_cfg.rules, made by the constructor */
static int initial_ready;                             /* initial_plan is made */
/* The send path's first look (stages.h, quick.h): initial_plan (which may
 * hold no rule) from the constructor until a set is given at run time, if
 * the quick lane may open; else NULL. */
const struct ss_fault_plan *ss_faults_initial SS_HOT;
/* The fast path's hint (stages.h): once a set was given at run time, its
 * size is in runtime_n and ss_cfg.rules no longer counts. */
int ss_faults_replaced;
static unsigned runtime_n;
static unsigned runtime_calls;       /* SS_CALL_BIT mask of the runtime set's rules */
static unsigned initial_calls;       /* of ss_cfg.rules */
static pid_t writer_lock;            /* 0, or the thread id of the writer */
static uint64_t sets_installed;      /* rule sets installed at run time in this process */
static uint64_t proc_stream;         /* this process's stream id (prng.h) */
static uint64_t forks;               /* fork()s this process made */
static __thread uint64_t fork_index; /* prepare handler -> child handler */

/* The seed the rules of set `number` draw under in this process. */
static uint64_t set_seed(uint64_t number)
{
    return ss_prng_set_seed(ss_cfg.seed, __atomic_load_n(&proc_stream, __ATOMIC_RELAXED), number);
}

void ss_stage_faults_init(void)
{
    unsigned calls = 0;
    for (unsigned i = 0; i < ss_cfg.rules.n; i++)
        calls |= ss_cfg.rules.rule[i].calls;
    initial_calls = calls;
    ss_faults_plan(&initial_plan, ss_cfg.rules.rule, initial_st, ss_cfg.rules.n, set_seed(0), 1);
    __atomic_store_n(&initial_ready, 1, __ATOMIC_RELEASE);
    /* Opens the quick lane (quick.h), which reports nothing call by call. */
    if (!ss_cfg.count && !ss_cfg.trace && !__atomic_load_n(&ss_faults_replaced, __ATOMIC_ACQUIRE))
        __atomic_store_n(&ss_faults_initial, &initial_plan, __ATOMIC_RELEASE);
}

/* ---- readers ----------------------------------------------------------- */

static unsigned acquire(void)
{
    for (;;) {
        unsigned i = __atomic_load_n(&cur, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&slots[i].readers, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&cur, __ATOMIC_SEQ_CST) == i)
            return i;
        __atomic_sub_fetch(&slots[i].readers, 1, __ATOMIC_SEQ_CST);
    }
}

static void release(unsigned i)
{
    __atomic_sub_fetch(&slots[i].readers, 1, __ATOMIC_RELEASE);
}

/* The plan of slot i, or NULL when it holds no rules. */
static const struct ss_fault_plan *plan_of(unsigned i)
{
    const struct ss_slot *s = &slots[i];
    if (s->initial)
        return __atomic_load_n(&initial_ready, __ATOMIC_ACQUIRE) ? &initial_plan : NULL;
    struct ss_rtset *set = __atomic_load_n(&s->set, __ATOMIC_ACQUIRE);
    return set ? &set->plan : NULL;
}

_Static_assert(SS_FAULT_NO_SLOT == SS_FAULT_SLOTS, "SS_FAULT_NO_SLOT names no slot");

/* The plan in force for this call, with the slot to release (SS_FAULT_NO_SLOT
 * when none was taken), or NULL when no rule is in force. Until a set is
 * given at run time, the constructor's rules are in force; they live in
 * static memory that is never freed, so reading them needs no slot (a call
 * that races with the first sendshim_set_faults() is decided by the old
 * rules, as if it had come first). */
static const struct ss_fault_plan *plan_in_force(unsigned *slot)
{
    *slot = SS_FAULT_NO_SLOT;
    const struct ss_fault_plan *fast = __atomic_load_n(&ss_faults_initial, __ATOMIC_ACQUIRE);
    if (fast)
        return fast->n ? fast : NULL;
    if (!__atomic_load_n(&ss_faults_replaced, __ATOMIC_ACQUIRE)) {
        if (!ss_cfg.rules.n || !__atomic_load_n(&initial_ready, __ATOMIC_ACQUIRE))
            return NULL;
        return &initial_plan;
    }
    if (!__atomic_load_n(&runtime_n, __ATOMIC_RELAXED))
        return NULL;
    *slot = acquire();
    const struct ss_fault_plan *p = plan_of(*slot);
    if (!p || !p->n) {
        release(*slot);
        return NULL;
    }
    return p;
}

static void leave(unsigned slot)
{
    if (slot != SS_FAULT_NO_SLOT)
        release(slot);
}

/* ---- facts about the call ------------------------------------------------ */

/* Socket type and family, from the descriptor table: the kernel is asked
 * once per descriptor (ss_fd_probe); only rule sets that test the type or
 * family, match write/writev, or use short=/drop look. Both stay as they
 * are (0) when fd is not a socket. */
static inline void sock_facts(struct ss_fd_ref *fd, int fdnum, int *type, int *family)
{
    uint64_t st = ss_fd_ref_probe(fd, fdnum);
    if (ss_fd_is_socket(st)) {
        *type = (int)((st >> SS_FD_TYPE_SHIFT) & SS_FD_TYPE_MASK);
        *family = (int)((st >> SS_FD_FAMILY_SHIFT) & SS_FD_FAMILY_MASK);
    }
}

/* Where the call sends: its own address if it names one, else the connected
 * peer. getpeername is a system call, made only for rule sets with peer= or
 * port= conditions, on every such call: the descriptor table has no room to
 * cache a peer address (up to 110 bytes for a unix path) per descriptor. */
static void dest_facts(const struct ss_request *rq, struct ss_fault_call *c, struct sockaddr_storage *peer)
{
    const struct sockaddr *a = NULL;
    socklen_t alen = 0;
    if (rq->call == SS_CALL_SENDTO) {
        a = rq->addr;
        alen = rq->addrlen;
    } else if (rq->call == SS_CALL_SENDMSG && rq->msg) {
        a = rq->msg->msg_name;
        alen = rq->msg->msg_namelen;
    } else if (rq->call == SS_CALL_SENDMMSG && rq->vec && rq->vlen) {
        a = rq->vec[0].msg_hdr.msg_name;
        alen = rq->vec[0].msg_hdr.msg_namelen;
    }
    if (a && alen) {
        c->dest = a;
        c->destlen = alen;
        return;
    }
    int saved = errno;
    socklen_t len = sizeof *peer;
    if (syscall(SYS_getpeername, rq->fd, peer, &len) == 0) {
        c->dest = (const struct sockaddr *)peer;
        c->destlen = len;
    }
    errno = saved;
}

static uint64_t iov_sum(const struct iovec *iov, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; iov && i < n; i++)
        total += iov[i].iov_len;
    return total;
}

static unsigned capped_vlen(const struct ss_request *rq)
{
    return rq->vlen > SS_MMSG_VLEN_CAP ? SS_MMSG_VLEN_CAP : rq->vlen;
}

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
        unsigned vlen = capped_vlen(rq), whole = 0;
        uint64_t sum = 0;
        for (; whole < vlen; whole++) {
            const struct msghdr *m = &rq->vec[whole].msg_hdr;
            uint64_t b = iov_sum(m->msg_iov, m->msg_iovlen);
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
/* Whether the rules naming this call decided by the descriptor's kind or
 * bytes (type=, family=, after=, or short= and drop, which act by type);
 * write and writev match on sockets only. Only once a rule fired. */
static int rules_look_at_descriptor(const struct ss_fault_plan *p, enum ss_call call)
{
    if (call == SS_CALL_WRITE || call == SS_CALL_WRITEV)
        return 1;
    for (unsigned i = 0; i < p->n; i++) {
        const struct ss_rule *r = &p->rule[i];
        if ((r->calls & SS_CALL_BIT(call)) && ((r->conds & (SS_COND_TYPE | SS_COND_FAMILY | SS_COND_AFTER)) ||
                                               (r->actions & (SS_ACT_SHORT | SS_ACT_DROP))))
            return 1;
    }
    return 0;
}

static int still_applies(const struct ss_request *rq, struct ss_fd_ref *fd, struct ss_fault *f,
                         const struct ss_fault_plan *p)
{
    int believed =
        rules_look_at_descriptor(p, rq->call) || ((f->d.actions & SS_ACT_ERROR) && f->d.error == EPIPE);
    if (!believed || ss_fd_confirm(rq->fd, fd))
        return 1;
    struct ss_fault_call *c = &f->call;
    c->type = ss_fd_type(fd->st);
    c->family = ss_fd_family(fd->st);
    c->sent = 0; /* a new open file has sent nothing */
    const struct ss_rule *r = &p->rule[f->d.rule];
    uint64_t keep;
    int acts = !(!c->type && (rq->call == SS_CALL_WRITE || rq->call == SS_CALL_WRITEV)) &&
               ss_rule_matches(r, c) && ss_rule_acts(r, c, &keep);
    if (!acts) {
        __atomic_sub_fetch(&p->st[f->d.rule].fired, 1, __ATOMIC_RELAXED);
        return 0;
    }
    if (r->actions & SS_ACT_SHORT)
        f->d.keep = keep;
    return 1;
}

/* ---- the stage --------------------------------------------------------------- */

unsigned ss_faults_calls(void)
{
    if (__atomic_load_n(&ss_faults_replaced, __ATOMIC_ACQUIRE))
        return __atomic_load_n(&runtime_calls, __ATOMIC_RELAXED);
    return __atomic_load_n(&initial_ready, __ATOMIC_ACQUIRE) ? initial_calls : 0;
}

/* Some rule may fire on this call (ss_faults_count said so in counts, from
 * the facts in f->call): pick it, leave the slot, and apply it. f->fired is
 * set when one fires, else left alone. Reached from the stage and from the
 * quick lane's hand-over (ss_process_lane), which count the call
 * themselves. */
ssize_t ss_stage_faults_fire(struct ss_request *rq, struct ss_fd_ref *fd, struct ss_fault *f,
                             const struct ss_fault_counts *counts, const struct ss_fault_plan *p,
                             unsigned slot)
{
    struct ss_fault_call *c = &f->call;
    unsigned needs = p->needs[rq->call];
    /* The bytes (short= to decide, the log line), short= and drop read the
     * program's iovec arrays: a call whose arrays the kernel would refuse
     * (EFAULT) goes to the kernel untouched. Asking is a system call for
     * sendmsg, sendmmsg and writev, made only before short= decides and
     * once a rule fired. */
    if ((needs & SS_NEED_BYTES) && !ss_request_readable(rq)) {
        leave(slot);
        return SS_FAULT_FORWARD;
    }
    /* Bytes (a walk over the iovecs) are counted only when needed: short=
     * needs them to decide; the log line once a rule fired. */
    if (needs & SS_NEED_BYTES) {
        c->bytes = ss_request_bytes(rq);
        c->unit_bytes = c->bytes;
        if (rq->call == SS_CALL_SENDMMSG) /* corrupt= acts on the first message */
            c->unit_bytes = rq->vlen ? iov_sum(rq->vec[0].msg_hdr.msg_iov, rq->vec[0].msg_hdr.msg_iovlen) : 0;
    }
    if (needs & SS_NEED_STALL)
        c->stalled = ss_net_stall_state(rq->fd);
    ss_faults_pick(p, c, counts, &f->d);
    if (f->d.rule < 0 || !still_applies(rq, fd, f, p)) {
        leave(slot);
        return SS_FAULT_FORWARD;
    }
    if (!(needs & SS_NEED_BYTES) && ((f->d.actions & SS_ACT_DROP) || ss_log_enabled()) &&
        !ss_request_readable(rq)) {
        __atomic_sub_fetch(&p->st[f->d.rule].fired, 1, __ATOMIC_RELAXED); /* it did not act */
        leave(slot);
        return SS_FAULT_FORWARD;
    }
    /* Copy out what the log line needs: the set may be replaced meanwhile.
     * A log that is off now stays off (it is never turned on at run time). */
    f->log = ss_log_enabled();
    if (f->log)
        memcpy(f->text, p->rule[f->d.rule].text, sizeof f->text);
    leave(slot);

    f->fired = 1;
    f->sigpipe = 0;
    f->wake = 0;
    f->user_vec = NULL;
    if (!(needs & SS_NEED_BYTES) && f->log)
        c->bytes = ss_request_bytes(rq);
    f->bytes = c->bytes;
    f->vlen = c->vlen;
    f->orig = *rq;
    __atomic_add_fetch(&ss_stats_home->faults, 1, __ATOMIC_RELAXED);

    if (f->d.actions & SS_ACT_DELAY)
        sleep_ns(f->d.delay_ns);
    if (f->d.actions & SS_ACT_ERROR) {
        if (f->d.error == EPIPE) {
            if (!(needs & SS_NEED_SOCK))
                sock_facts(fd, rq->fd, &c->type, &c->family);
            f->sigpipe = sigpipe_due(rq, c->type);
        }
        f->wake = f->d.error == EAGAIN;
        errno = f->d.error;
        return -1;
    }
    if (f->d.actions & SS_NET_ACTIONS)
        return ss_net_apply(rq, f, c->type);
    if (f->d.actions & SS_ACT_DROP)
        return apply_drop(rq, f);
    if (f->d.actions & SS_ACT_SHORT)
        apply_short(rq, f);
    else if (f->d.actions & SS_ACT_BATCH)
        rq->vlen = f->d.batch;
    return SS_FAULT_FORWARD;
}

/* The stage's general path (stages.h has the front). */
ssize_t ss_stage_faults_full(struct ss_request *rq, struct ss_fd_ref *fd, struct ss_fault *f)
{
    unsigned slot;
    const struct ss_fault_plan *p = plan_in_force(&slot);
    if (__builtin_expect(!p, 1))
        return SS_FAULT_FORWARD;
    /* No rule names the call; a NULL msghdr or vector goes to the kernel,
     * which says EFAULT. */
    if (!p->calls[rq->call] || (rq->call == SS_CALL_SENDMSG && !rq->msg) ||
        (rq->call == SS_CALL_SENDMMSG && !rq->vec && rq->vlen)) {
        leave(slot);
        return SS_FAULT_FORWARD;
    }

    /* Only the facts the rules naming this call need. */
    unsigned needs = p->needs[rq->call];
    struct sockaddr_storage peer; /* f->call.dest may point here until fired */
    ss_fault_facts(rq->call, rq->fd, rq->call == SS_CALL_SENDMMSG ? rq->vlen : 0, fd, needs, &f->call);
    if (needs & SS_NEED_DEST)
        dest_facts(rq, &f->call, &peer);
    if (__builtin_expect(ss_faults_count(p, &f->call, &f->counts), 0))
        return ss_stage_faults_fire(rq, fd, f, &f->counts, p, slot);
    leave(slot);
    return SS_FAULT_FORWARD;
}

/* "10ms", "1500us", "3s": the largest unit that divides exactly. */
static void buf_duration(struct ss_buf *b, uint64_t ns)
{
    static const struct {
        uint64_t ns;
        const char *unit;
    } units[] = {{SS_NS_PER_S, "s"}, {1000000, "ms"}, {1000, "us"}, {1, "ns"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ns % units[i].ns == 0 || units[i].ns == 1) {
            ss_buf_u64(b, ns / units[i].ns);
            ss_buf_str(b, units[i].unit);
            return;
        }
    }
}

static void buf_errno(struct ss_buf *b, int err)
{
    const char *name = ss_errno_name(err);
    if (name)
        ss_buf_str(b, name);
    else
        ss_buf_i64(b, err);
}

/* corrupt='s bit offsets: its own frame (512 bytes), entered only when
 * corrupt= fired, so that every other fault line keeps the small stack
 * that reliability/stack_taken_by_a_call_is_bounded measures. */
static __attribute__((noinline)) void log_corrupt(struct ss_buf *b, const struct ss_fault *f)
{
    uint64_t at[SS_CORRUPT_MAX];
    ss_faults_corrupt_positions(&f->d, at);
    ss_buf_str(b, " (corrupt: bits");
    for (unsigned i = 0; i < f->d.ncorrupt; i++) {
        ss_buf_char(b, i ? ',' : ' ');
        ss_buf_u64(b, at[i]);
    }
    ss_buf_str(b, " flipped)");
}

/* The network actions say what they did, after the result. */
static void log_net_action(struct ss_buf *b, const struct ss_fault *f)
{
    unsigned a = f->d.actions;
    if (a & SS_ACT_STALL) {
        ss_buf_str(b, " (stall ");
        buf_duration(b, f->d.stall_ns);
        ss_buf_str(b, (a & SS_ACT_RESET) ? " then reset)" : ")");
    } else if (a & SS_ACT_RESET) {
        ss_buf_str(b, " (reset: RST sent to the peer)");
    } else if (a & SS_ACT_DUP) {
        ss_buf_str(b, " (dup: sent twice)");
    }
    if (a & SS_ACT_RATE) {
        ss_buf_str(b, " (rate ");
        ss_buf_u64(b, f->d.rate_bps);
        ss_buf_str(b, " bytes/s)");
    }
    if (a & SS_ACT_CORRUPT)
        log_corrupt(b, f);
}

static void log_fault(const struct ss_request *rq, const struct ss_fault *f, ssize_t ret, int err)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    int mmsg = rq->call == SS_CALL_SENDMMSG;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "fault rule ");
    ss_buf_u64(&b, (uint64_t)f->d.rule + 1);
    ss_buf_str(&b, " (");
    ss_buf_str(&b, f->text);
    ss_buf_str(&b, "): ");
    ss_buf_str(&b, ss_call_name(rq->call));
    ss_buf_str(&b, "(fd=");
    ss_buf_i64(&b, rq->fd);
    ss_buf_str(&b, ", ");
    if (mmsg) {
        ss_buf_u64(&b, f->vlen);
        ss_buf_str(&b, f->vlen == 1 ? " message, " : " messages, ");
    }
    ss_buf_u64(&b, f->bytes);
    ss_buf_str(&b, f->bytes == 1 ? " byte)" : " bytes)");
    if (f->d.actions & SS_ACT_DELAY) {
        ss_buf_str(&b, " delayed ");
        buf_duration(&b, f->d.delay_ns);
    }
    ss_buf_str(&b, " -> ");
    if (ret < 0) {
        ss_buf_str(&b, "-1 ");
        buf_errno(&b, err);
        if (f->sigpipe)
            ss_buf_str(&b, " (SIGPIPE)");
    } else if (f->d.actions & SS_ACT_DROP) {
        ss_buf_i64(&b, ret);
        ss_buf_str(&b, " (dropped)");
    } else if (mmsg && (f->d.actions & (SS_ACT_BATCH | SS_ACT_SHORT))) {
        ss_buf_i64(&b, ret);
        ss_buf_str(&b, " of ");
        ss_buf_u64(&b, f->vlen);
        ss_buf_str(&b, " messages");
        if (f->d.actions & SS_ACT_SHORT) {
            uint64_t sent = 0;
            for (ssize_t i = 0; i < ret; i++)
                sent += rq->vec[i].msg_len;
            ss_buf_str(&b, ", ");
            ss_buf_u64(&b, sent);
            ss_buf_str(&b, " of ");
            ss_buf_u64(&b, f->bytes);
            ss_buf_str(&b, " bytes");
        }
    } else if (f->d.actions & SS_ACT_SHORT) {
        ss_buf_i64(&b, ret);
        ss_buf_str(&b, " of ");
        ss_buf_u64(&b, f->bytes);
        ss_buf_str(&b, " bytes");
    } else {
        ss_buf_i64(&b, ret);
    }
    log_net_action(&b, f);
    ss_log_end(&b);
}

ssize_t ss_stage_faults_done(struct ss_request *rq, struct ss_fault *f, ssize_t ret)
{
    int err = ret < 0 ? errno : 0;
    if (f->user_vec && ret > 0) /* short= on sendmmsg sent a cut copy of message 0 */
        f->user_vec[0].msg_len = f->hdr.mmsg.msg_len;
    /* The later stages (MSG_EOF's "was everything sent?", stats, trace) see
     * the request the program made, not the cut one. */
    *rq = f->orig;
    if (f->log)
        log_fault(rq, f, ret, err);
    if (f->sigpipe)
        raise_sigpipe();
    if (f->wake && ret < 0 && err == EAGAIN)
        ss_net_wake(rq->fd);
    if (err)
        errno = err;
    return ret;
}

/* ---- close and shutdown (slow close) ---------------------------------------- */

void ss_faults_teardown(unsigned bit, int fd, struct ss_teardown *t)
{
    t->rule = -1;
    unsigned slot;
    const struct ss_fault_plan *p = plan_in_force(&slot);
    if (__builtin_expect(!p, 1))
        return;
    if (!(p->teardown & bit)) {
        leave(slot);
        return;
    }
    uint64_t st = ss_fd_probe(fd);
    if (!ss_fd_is_socket(st)) { /* close and shutdown rules are about sockets */
        leave(slot);
        return;
    }
    struct ss_fault_call c = {
        .call = SS_CALL_SEND, .fd = fd, .type = ss_fd_type(st), .family = ss_fd_family(st)};
    struct sockaddr_storage peer;
    int saved = errno;
    socklen_t len = sizeof peer;
    if (syscall(SYS_getpeername, fd, &peer, &len) == 0) {
        c.dest = (const struct sockaddr *)&peer;
        c.destlen = len;
    }
    errno = saved;
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
    leave(slot);
    if (t->rule >= 0) {
        __atomic_add_fetch(&ss_stats_home->faults, 1, __ATOMIC_RELAXED);
        sleep_ns(t->delay_ns);
    }
}

void ss_faults_teardown_done(unsigned bit, int fd, const struct ss_teardown *t, int ret, int err)
{
    if (t->rule < 0 || !ss_log_enabled())
        return;
    char line[SS_LINE_MAX];
    struct ss_buf b;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "fault rule ");
    ss_buf_u64(&b, (uint64_t)t->rule + 1);
    ss_buf_str(&b, " (");
    ss_buf_str(&b, t->text);
    ss_buf_str(&b, "): ");
    ss_buf_str(&b, bit == SS_CALL_CLOSE_BIT ? "close" : "shutdown");
    ss_buf_str(&b, "(fd=");
    ss_buf_i64(&b, fd);
    ss_buf_str(&b, ") delayed ");
    buf_duration(&b, t->delay_ns);
    ss_buf_str(&b, " -> ");
    if (ret < 0) {
        ss_buf_str(&b, "-1 ");
        buf_errno(&b, err);
    } else {
        ss_buf_i64(&b, ret);
    }
    ss_log_end(&b);
}

/* ---- replacing the rules -------------------------------------------------------- */

/* 0, or -EDEADLK when the calling thread holds the lock already: a signal
 * handler that interrupted sendshim_set_faults() ("Signal handlers" at the
 * top of this file). gettid() is a system call, made on this rare path
 * only. */
static int lock_writers(void)
{
    pid_t self = (pid_t)syscall(SYS_gettid);
    for (;;) {
        pid_t holder = 0;
        if (__atomic_compare_exchange_n(&writer_lock, &holder, self, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return 0;
        if (holder == self)
            return -EDEADLK;
        sched_yield();
    }
}

/* The lock for a set from the control file, applied on the send path: never
 * waited for. 0, or -EBUSY when any writer holds it. */
static int try_lock_writers(void)
{
    pid_t holder = 0;
    return __atomic_compare_exchange_n(&writer_lock, &holder, (pid_t)syscall(SYS_gettid), 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED)
               ? 0
               : -EBUSY;
}

static void unlock_writers(void)
{
    __atomic_store_n(&writer_lock, 0, __ATOMIC_RELEASE);
}

static void atfork_prepare(void)
{
    fork_index = __atomic_fetch_add(&forks, 1, __ATOMIC_RELAXED);
}

/* A set held by the child starts again: counters at zero, generators on the
 * child's stream. */
static void restart_plan(struct ss_fault_plan *p, uint64_t number)
{
    p->seed = set_seed(number);
    memset(p->st, 0, p->n * sizeof p->st[0]);
}

/* Point a plan's counters at st: every group's counter is its first rule's,
 * as ss_faults_plan made them. */
static void move_counters(struct ss_fault_plan *p, struct ss_rule_state *st)
{
    uint64_t seen = 0;
    for (unsigned i = 0; i < p->n; i++) {
        unsigned g = p->group_of[i];
        if (!(seen & (1ull << g)))
            p->count[g] = &st[i].count;
        seen |= 1ull << g;
    }
    p->st = st;
}

/* In the child of fork only the forking thread exists: no lock is held and no
 * reader is inside a slot (unless fork was called from a signal handler that
 * interrupted a decision; that slot's count then stays high and the slot is
 * skipped from then on). */
static void atfork_child(void)
{
    __atomic_store_n(&writer_lock, 0, __ATOMIC_RELAXED);
    for (int i = 0; i < SS_FAULT_SLOTS; i++)
        __atomic_store_n(&slots[i].readers, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&proc_stream, ss_prng_fork_stream(proc_stream, fork_index), __ATOMIC_RELAXED);
    __atomic_store_n(&forks, 0, __ATOMIC_RELAXED);
    if (__atomic_load_n(&initial_ready, __ATOMIC_ACQUIRE))
        restart_plan(&initial_plan, 0);
    /* A set from the control file counted in the parent's slot of the file:
     * the child's own slot takes over (or its own memory, when it has none),
     * before restarting zeroes the counters. */
    ss_control_atfork_child();
    unsigned current = __atomic_load_n(&cur, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < SS_FAULT_SLOTS; i++) {
        struct ss_rtset *set = __atomic_load_n(&slots[i].set, __ATOMIC_ACQUIRE);
        if (!set)
            continue;
        struct ss_rule_state *bank = set->plan.st != set->st ? ss_control_bank(i) : NULL;
        if (set->plan.st != set->st)
            move_counters(&set->plan, bank ? bank : set->st);
        restart_plan(&set->plan, set->number);
        if (bank && i == current)
            ss_control_rules_counted(i, set->gen, &set->plan);
    }
}

void ss_faults_fork_init(void)
{
    pthread_atfork(atfork_prepare, NULL, atfork_child);
}

static void free_slot(unsigned i)
{
    struct ss_rtset *set = slots[i].set;
    slots[i].initial = 0;
    __atomic_store_n(&slots[i].set, NULL, __ATOMIC_RELEASE);
    if (set)
        munmap(set, set->map_len);
}

/* A slot that is not current and has no reader, or -1 after waiting. */
static int free_slot_index(long max_tries)
{
    unsigned current = __atomic_load_n(&cur, __ATOMIC_SEQ_CST);
    for (long tries = 0; tries < max_tries; tries++) {
        for (unsigned i = 0; i < SS_FAULT_SLOTS; i++)
            if (i != current && !__atomic_load_n(&slots[i].readers, __ATOMIC_SEQ_CST))
                return (int)i;
        sched_yield();
    }
    return -1;
}

static void report_rule(const struct ss_fault_plan *p, unsigned i, const char *suffix)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "stats: rule ");
    ss_buf_u64(&b, (uint64_t)i + 1);
    ss_buf_str(&b, " (");
    ss_buf_str(&b, p->rule[i].text);
    ss_buf_str(&b, ") matched=");
    ss_buf_u64(&b, ss_faults_matched(p, i));
    ss_buf_str(&b, " fired=");
    ss_buf_u64(&b, __atomic_load_n(&p->st[i].fired, __ATOMIC_RELAXED));
    ss_buf_str(&b, suffix);
    ss_log_end(&b);
}

static void report_set(unsigned slot, const char *suffix)
{
    const struct ss_fault_plan *p = plan_of(slot);
    for (unsigned i = 0; p && i < p->n; i++)
        report_rule(p, i, suffix);
}

void ss_faults_stats_report(void)
{
    unsigned slot = acquire();
    report_set(slot, "");
    release(slot);
}

void ss_faults_log_seed(void)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "seed ");
    ss_buf_u64(&b, ss_cfg.seed);
    ss_buf_str(&b, ss_cfg.seed_given ? " (SENDSHIM_SEED)" : " (set SENDSHIM_SEED to this to reproduce)");
    ss_log_end(&b);
}

/* Replace the rules in force. `gen` is the control file's generation the
 * text comes from (control.c), 0 for the program's own sendshim_set_faults.
 * A set from the control file takes '#' comments (its text may be a faults
 * file's), counts in the process's slot of the control file (bank j, for
 * rule-set slot j), and never waits: on the send path, the writers' lock may
 * be held by the very thread a signal handler interrupted. */
static int replace(const char *text, uint64_t gen, char *err, size_t errlen)
{
    static int seed_logged;
    int locked = gen ? try_lock_writers() : lock_writers();
    if (locked) {
        if (gen)
            return locked;
        struct ss_buf b;
        ss_buf_init(&b, err, errlen);
        ss_buf_str(&b, "called from a signal handler that interrupted sendshim_set_faults in the same "
                       "thread; nothing changed: call it again after that call returns");
        return locked;
    }

    int j = free_slot_index(gen ? 1 : SS_SET_WAIT_TRIES);
    if (j < 0) {
        unlock_writers();
        struct ss_buf b;
        ss_buf_init(&b, err, errlen);
        ss_buf_str(&b, "the rules in force are still being read; try again");
        return -EAGAIN;
    }
    free_slot((unsigned)j);

    /* Parse straight into a fresh mapping sized for the largest set, then
     * give back the pages past the rules in use. Pages never touched cost
     * nothing meanwhile. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t max_len = (sizeof(struct ss_rtset) + page - 1) / page * page;
    struct ss_rtset *set = mmap(NULL, max_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (set == MAP_FAILED) {
        unlock_writers();
        struct ss_buf b;
        ss_buf_init(&b, err, errlen);
        ss_buf_str(&b, "no memory for the rules");
        return -ENOMEM;
    }
    if (ss_rules_parse(&set->rs, text, gen != 0, err, errlen)) {
        munmap(set, max_len);
        unlock_writers();
        return -EINVAL;
    }
    size_t used = offsetof(struct ss_rtset, rs.rule) + set->rs.n * sizeof set->rs.rule[0];
    set->map_len = (used + page - 1) / page * page;
    if (set->map_len < max_len)
        munmap((char *)set + set->map_len, max_len - set->map_len);
    set->number = ++sets_installed;
    set->gen = gen;
    struct ss_rule_state *st = gen ? ss_control_bank(j) : NULL;
    ss_faults_plan(&set->plan, set->rs.rule, st ? st : set->st, set->rs.n, set_seed(set->number), 1);
    if (st)
        ss_control_rules_counted(j, gen, &set->plan);
    else
        ss_control_rules_counted(0, 0, NULL); /* the file's rules are no longer in force */
    unsigned n = set->rs.n;

    __atomic_store_n(&slots[j].set, set, __ATOMIC_RELEASE);
    unsigned old = __atomic_load_n(&cur, __ATOMIC_RELAXED);
    unsigned calls = 0;
    for (unsigned i = 0; i < n; i++)
        calls |= set->rs.rule[i].calls;
    __atomic_store_n(&runtime_n, n, __ATOMIC_RELAXED);
    __atomic_store_n(&runtime_calls, calls, __ATOMIC_RELAXED);
    __atomic_store_n(&ss_faults_replaced, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&ss_faults_initial, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&cur, (unsigned)j, __ATOMIC_SEQ_CST);
    /* Rules in force need the pipeline; it is never turned off again here
     * (other state, e.g. SO_NOSIGPIPE, may need it too). */
    if (n)
        ss_activate(SS_ACTIVE_RULES);

    if (ss_cfg.stats)
        report_set(old, " (replaced)");
    if (set->rs.uses_random && !ss_cfg.rules.uses_random && !seed_logged) {
        seed_logged = 1;
        ss_faults_log_seed();
    }
    /* Free every old set nobody reads any more; one still read is freed by a
     * later call. */
    for (unsigned i = 0; i < SS_FAULT_SLOTS; i++)
        if (i != (unsigned)j && (slots[i].set || slots[i].initial) &&
            !__atomic_load_n(&slots[i].readers, __ATOMIC_SEQ_CST))
            free_slot(i);
    unlock_writers();
    return 0;
}

int ss_faults_replace(const char *text, char *err, size_t errlen)
{
    return replace(text, 0, err, errlen);
}

int ss_faults_replace_control(const char *text, uint64_t gen, char *err, size_t errlen)
{
    return replace(text, gen, err, errlen);
}
