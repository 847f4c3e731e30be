/* quick.h - the quick lane: a configured call that no stage of the pipeline
 * would rewrite, decided in one inline pass in its wrapper.
 *
 * Most calls a configured program makes need nothing of the pipeline but
 * MSG_NOSIGNAL and the fault rules' counting: their flags mean the same
 * after translation, their messages have nothing to normalize, their
 * descriptor is known, and no rule can fire on them yet. For those the lane
 * looks the descriptor up, sets the flags, counts the call in the rules'
 * groups and hands it to libc, without building the pipeline's bookkeeping
 * (the saved errno, the stages' tests one by one, the statistics and trace
 * tests, the switch that forwards a request by kind). Everything else takes
 * the full pipeline, which gives the same answer: the lane is an
 * optimization, never a different behaviour. A call the lane counted and
 * some rule may fire on goes on to the fault stage with its counts
 * (SS_LANE_FIRE), so it is never counted twice. */
#ifndef SENDSHIM_QUICK_H
#define SENDSHIM_QUICK_H

#include <sys/socket.h>

#include "faults.h"
#include "fdtable.h"
#include "normalize.h"
#include "request.h"
#include "stages.h"

/* What the lane knows of the configuration, set by ss_quick_init (the
 * constructor, before the lane opens). The lane is open while
 * ss_faults_initial is set (stages.h): from the constructor on, unless
 * SENDSHIM_STATS or SENDSHIM_TRACE is on, until a rule set is given at run
 * time. */
struct ss_quick_config {
    int flags_refused; /* flag bits the flags stage may change (SENDSHIM_FLAGS, _UNKNOWN_FLAGS) */
    int nosignal;      /* MSG_NOSIGNAL under SENDSHIM_NOSIGPIPE=1, else 0 */
};
extern struct ss_quick_config ss_quick_cfg;
void ss_quick_init(void);

/* The flag bits of a style and unknown-bit mode that translation leaves
 * unchanged and that have no per-socket meaning (MSG_EOF, MSG_CONFIRM). Pure. */
int ss_quick_flags_for(enum ss_style style, enum ss_unknown_mode mode);

/* A call's way through the library, decided by ss_quick. */
enum ss_lane_kind {
    SS_LANE_FULL,   /* the full pipeline; nothing was counted */
    SS_LANE_QUICK,  /* straight to libc (struct ss_quick), then ss_quick_done */
    SS_LANE_FIRE,   /* counted, and a rule may fire: the fault stage decides (struct ss_lane) */
    SS_LANE_NARROW, /* not counted yet: groups with fd=, peer= or port= to test first */
};
/* What a quick call needs: the flags for the kernel and the descriptor's
 * entry (its byte count). Apart from struct ss_lane, and never handed to an
 * out-of-line function on the quick path, so it stays in registers. */
struct ss_quick {
    int flags;
    struct ss_fd_entry *e;
};
/* What the fault stage needs of a call the lane counted (FIRE) or left to
 * count (NARROW). */
struct ss_lane {
    int flags;
    struct ss_fd_ref fd;
    const struct ss_fault_plan *plan;
    uint64_t groups;               /* the groups that match but for fd=, peer=, port= */
    struct ss_fault_counts counts; /* FIRE */
};

/* Whether the normalize stage would leave sendmsg's message alone. */
static inline int ss_quick_msg_plain(const struct msghdr *msg)
{
    return msg && !ss_needs_normalizer(msg);
}

/* Whether it would leave every message of a sendmmsg batch alone. */
static inline int ss_quick_batch_plain(const struct mmsghdr *vec, unsigned vlen)
{
    return vec && vlen <= SS_MMSG_VLEN_MAX && ss_batch_plain(vec, vlen) == vlen;
}

/* Decide the lane of a call (send, sendto, sendmsg, sendmmsg) whose
 * messages are `plain` (ss_quick_msg_plain, ss_quick_batch_plain; send and
 * sendto have none); vlen is sendmmsg's. SS_LANE_QUICK: the wrapper calls
 * libc itself with q->flags and hands the result to ss_quick_done. Any other
 * call it hands, as a request, to ss_process_lane with the kind and l. Touches no
 * errno, makes no system call. Inline in the wrappers, where the call kind is
 * a constant. write and writev never take the lane: whether they become send
 * or sendmsg depends on the descriptor. */
static inline enum ss_lane_kind ss_quick(enum ss_call call, int fd, int flags, int plain, unsigned vlen,
                                         struct ss_quick *q, struct ss_lane *l)
{
    /* The constructor's rules (maybe none), or NULL: the lane is closed. */
    const struct ss_fault_plan *p = __atomic_load_n(&ss_faults_initial, __ATOMIC_ACQUIRE);
    if (!p || (flags & ss_quick_cfg.flags_refused) || !plain)
        return SS_LANE_FULL;
    /* A descriptor with no entry yet takes the full pipeline, which makes
     * one after a send that sent something (ss_fd_add_bytes); descriptors
     * past SS_FD_LIMIT always do. */
    struct ss_fd_entry *e = ss_fd_lookup(fd);
    if (!e)
        return SS_LANE_FULL;
    uint64_t st = ss_fd_load(e);
    q->e = e;
    q->flags = flags | ss_quick_cfg.nosignal | ((st & SS_FD_NOSIGPIPE) ? MSG_NOSIGNAL : 0);
    if (!p->calls[call])
        return SS_LANE_QUICK;
    /* The destination costs a system call, a descriptor's kind a probe the
     * first time: the full pipeline gathers those. */
    unsigned needs = p->needs[call];
    unsigned unknown = (st & SS_FD_KNOWN) ? 0 : SS_NEED_SOCK;
    if (needs & (SS_NEED_DEST | unknown))
        return SS_LANE_FULL;
    /* ss_faults_count, the facts made only when a rule needs them. The state
     * word's type and family are the plan's indexes as they are: both 0
     * unless the descriptor is a known socket (fdtable.h), and their widths
     * are the tables'. */
    _Static_assert(SS_FD_TYPE_MASK + 1 == SS_TYPE_INDEXES && SS_FD_FAMILY_MASK + 1 == SS_FAMILY_INDEXES,
                   "the plan's tables are indexed by the state word's fields");
    uint64_t m = ss_faults_match(p, call, (unsigned)((st >> SS_FD_TYPE_SHIFT) & SS_FD_TYPE_MASK),
                                 (unsigned)((st >> SS_FD_FAMILY_SHIFT) & SS_FD_FAMILY_MASK),
                                 __atomic_load_n(&e->bytes, __ATOMIC_RELAXED));
    /* The rare ends call nothing here (so the quick path keeps no register
     * across a call but the entry): ss_process_lane finishes them. */
    enum ss_lane_kind kind;
    if (__builtin_expect((m & p->other) != 0, 0))
        kind = SS_LANE_NARROW;
    else if (__builtin_expect(ss_faults_count_groups(p, m, &l->counts), 0))
        kind = SS_LANE_FIRE;
    else
        return SS_LANE_QUICK;
    l->flags = q->flags;
    l->fd.e = e;
    l->fd.st = st;
    l->plan = p;
    l->groups = m;
    return kind;
}

/* After a quick call: the descriptor's byte count (fault rules' after=).
 * Return ret, errno as libc left it. */
static inline ssize_t ss_quick_done(const struct ss_quick *q, ssize_t ret)
{
    if (ret > 0)
        __atomic_fetch_add(&q->e->bytes, (uint64_t)ret, __ATOMIC_RELAXED);
    return ret;
}
static inline int ss_quick_done_batch(const struct ss_quick *q, const struct mmsghdr *vec, int ret)
{
    if (ret > 0)
        __atomic_fetch_add(&q->e->bytes, ss_batch_sent(vec, (unsigned)ret), __ATOMIC_RELAXED);
    return ret;
}

/* A call ss_quick did not take (kind): the full pipeline, or the fault stage
 * with the lane's counts, or the lane's counting finished (pipeline.c). */
ssize_t ss_process_lane(struct ss_request *rq, struct ss_lane *l, enum ss_lane_kind kind);

#endif
