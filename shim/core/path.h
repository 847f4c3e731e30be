/* path.h - the one path of a send-family call (SPEC 4), up to the stages.
 *
 *   front word    policy.h: leave at once, with the flags every call of the
 *                 kind gets, when neither the call's flags nor the
 *                 configuration can change anything else (the wrapper)
 *   descriptor    ss_path_step: the descriptor's entry, looked up once, its
 *                 MSG_NOSIGNAL; the rules' groups that can match it (cached
 *                 per descriptor and plan for fd=, peer=, port=); the call
 *                 counted in them
 *   stages        pipeline.c: normalize -> flags -> faults -> forward, for a
 *                 call whose message or flags need them, or on which a rule
 *                 may fire
 *
 * Each step is the only place its decision is made; a later step starts
 * from what the earlier ones found (struct ss_path) and never decides it
 * again. A call leaves at the first step after which nothing can change it. */
#ifndef SENDSHIM_PATH_H
#define SENDSHIM_PATH_H

#include <sys/socket.h>

#include "control.h"
#include "faults.h"
#include "fdtable.h"
#include "policy.h"
#include "request.h"
#include "stages.h"
#include "stats.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* The options of the descriptor step, compiled with the front words and
 * carried in them (policy.h). Every option sends every call kind on, so
 * any front word with one holds them all: write and writev, which have no
 * front word of their own, read send's. */
#define SS_OPT_STATS  1u /* count every call (SENDSHIM_STATS, live control) */
#define SS_OPT_STAGES 2u /* every call takes the stages (SENDSHIM_TRACE writes a line per call) */
#define SS_OPT_BYTES  4u /* count the bytes each descriptor sends (a rule in force has after=) */

/* What one call found on its way (on the wrapper's stack). */
struct ss_path {
    unsigned opts; /* SS_OPT_*, as the call found them */
    int add;       /* flag bits the call gets: the front word's, and SO_NOSIGPIPE's MSG_NOSIGNAL */
    int flags;     /* the flags for the kernel (SS_STEP_FORWARD) */
    struct ss_fd_ref fd;
    /* The rules in force while the call may still need them (SS_STEP_FIRE:
     * held in `slot` until the fault stage has copied what it needs). */
    const struct ss_fault_plan *plan;
    unsigned slot;
    struct ss_fault_counts counts; /* SS_STEP_FIRE: the groups that may fire, and the calls' counts */
};

enum ss_step {
    SS_STEP_LEAVE,   /* nothing can change the call but path->flags, nothing to do after: libc */
    SS_STEP_FORWARD, /* the same, then ss_path_done (bytes for after=, statistics) */
    SS_STEP_FIRE,    /* counted, and a rule may fire on it: ss_process_fire */
    SS_STEP_STAGES,  /* its message or flags need the stages: ss_process_stages */
};

/* The verdict of plan p on descriptor fd for its connected peer: made (one
 * getpeername) and stored in its entry, once per descriptor, plan and
 * connect. Returns the word as stored (fdtable.h). errno preserved. */
uint64_t ss_path_verdict(const struct ss_fault_plan *p, int fd, struct ss_fd_ref *r);

/* The groups of m that test fd=, peer= or port= and pass for a call to
 * dest (an address the call names), or, among groups past the verdict's 32,
 * for the connected peer (asked of the kernel: README Limits). */
uint64_t ss_path_place_slow(const struct ss_fault_plan *p, uint64_t m, int fd, const struct sockaddr *dest,
                            socklen_t destlen);

/* What ss_path_groups returns when it would have to ask (ask == 0). */
#define SS_GROUPS_ASK UINT64_MAX

/* The groups of plan p that match a call of this kind on fd, with the
 * address the call names (dest, or NULL: its connected peer). The one place
 * that decides it, for the descriptor step (ask == 0: what is cached only)
 * and the stages (ask == 1). A fact not cached yet - the descriptor's kind
 * (its first probe), its verdict under this plan (one getpeername), the
 * peer for groups past the verdict's 32 - is asked of the kernel and cached
 * with ask, else SS_GROUPS_ASK is returned. A real mask of all 64 groups
 * reads as SS_GROUPS_ASK too: the step then takes the stages, which give
 * the same answer (ask == 1 never returns SS_GROUPS_ASK for it to
 * misread). */
static inline uint64_t ss_path_groups(const struct ss_fault_plan *p, enum ss_call call, int fd,
                                      struct ss_fd_ref *r, const struct sockaddr *dest, socklen_t destlen,
                                      int ask)
{
    uint64_t st = r->st;
    if (__builtin_expect((p->needs[call] & SS_NEED_SOCK) && !(st & SS_FD_KNOWN), 0)) {
        if (!ask)
            return SS_GROUPS_ASK;
        st = ss_fd_ref_probe(r, fd); /* the descriptor's first call */
    }
    /* The state word's type and family are the plan's indexes as they are:
     * both 0 unless the descriptor is a known socket (fdtable.h). */
    _Static_assert(SS_FD_TYPE_MASK + 1 == SS_TYPE_INDEXES && SS_FD_FAMILY_MASK + 1 == SS_FAMILY_INDEXES,
                   "the plan's tables are indexed by the state word's fields");
    uint64_t m = ss_faults_match(p, call, (unsigned)((st >> SS_FD_TYPE_SHIFT) & SS_FD_TYPE_MASK),
                                 (unsigned)((st >> SS_FD_FAMILY_SHIFT) & SS_FD_FAMILY_MASK),
                                 r->e ? &r->e->bytes : NULL);
    if (__builtin_expect((m & p->other) != 0, 0)) {
        /* An address the call names is tested per call, with no system
         * call (the step's callers instantiate it with dest == NULL apart,
         * so that the common step calls nothing). */
        if (dest)
            return ss_path_place_slow(p, m, fd, dest, destlen);
        uint64_t low = p->other & 0xffffffffu; /* the groups a verdict holds */
        uint64_t v = r->e ? __atomic_load_n(&r->e->verdict, __ATOMIC_ACQUIRE) : 0;
        if (__builtin_expect((uint32_t)(v >> 32) != p->id || (m & p->other & ~low), 0)) {
            if (!ask)
                return SS_GROUPS_ASK;
            if ((uint32_t)(v >> 32) != p->id)
                v = ss_path_verdict(p, fd, r);
            m &= ~(low & ~(uint64_t)(uint32_t)v);
            return (m & p->other & ~low) ? ss_path_place_slow(p, m, fd, NULL, 0) : m;
        }
        m &= ~(low & ~(uint64_t)(uint32_t)v);
    }
    return m;
}

/* What the descriptor step leaves for a call it lets go (SS_STEP_LEAVE,
 * SS_STEP_FORWARD): 16 bytes, passed and kept in registers. */
struct ss_step_out {
    int flags;     /* for the kernel */
    unsigned opts; /* SS_OPT_* */
    struct ss_fd_entry *e;
};

/* What the step hands the fault stage with SS_STEP_FIRE, in one register so
 * that every way out of the step is a jump (no frame, no register saved):
 * the slot it holds, the first group g whose `when` window the call's count
 * is in, and the count before the call (groups below g are counted, those
 * above are left to ss_process_fire). A count beyond 2^56 calls does not
 * fit; at a billion calls a second that is two years of one rule set. */
#define SS_HELD_SLOT_SHIFT  6
#define SS_HELD_COUNT_SHIFT 8
_Static_assert(SS_MAX_RULES <= 1 << SS_HELD_SLOT_SHIFT, "a group number fits below the slot");
_Static_assert(SS_FAULT_SLOTS <= 1 << (SS_HELD_COUNT_SHIFT - SS_HELD_SLOT_SHIFT), "a slot fits below the count");
static inline uint64_t ss_held_make(uint64_t before, unsigned slot, unsigned g)
{
    return before << SS_HELD_COUNT_SHIFT | (uint64_t)slot << SS_HELD_SLOT_SHIFT | g;
}

/* The descriptor step of a send, sendto, sendmsg or sendmmsg whose front
 * word did not let it leave: `plain` says its message (or batch) needs no
 * normalizing (send and sendto: 1); dest is the address it names (NULL:
 * none). It is the stages' early exit for a call whose every fact is
 * cached: it asks nothing (no system call, no function call but the rare
 * ss_path_place_slow) and writes nothing but *o and, when a rule may fire,
 * *held (the rules' slot then stays held for ss_process_fire). Anything it
 * cannot decide from what is cached - the descriptor's first probe, its
 * first verdict under a rule set, a rule set from the control file to
 * apply - goes to the stages (SS_STEP_STAGES), which gather it (and cache
 * it for the next call). Touches no errno. Inline in the wrappers, where
 * the call kind is a constant; every way out of it is a jump to libc or to
 * one function of the wrapper's, so the wrapper's step needs no frame. */
static inline enum ss_step ss_path_step(enum ss_call call, int fd, int flags, int plain,
                                        const struct sockaddr *dest, socklen_t destlen, struct ss_step_out *o,
                                        uint64_t *held)
{
    uint64_t front = ss_front_load(call);
    unsigned opts = (unsigned)(front >> SS_FRONT_OPT_SHIFT) & 0xfu;
    if (!plain || (flags & (int)(uint32_t)front) || (opts & SS_OPT_STAGES) || ss_control_changed())
        return SS_STEP_STAGES;
    struct ss_fd_entry *e = ss_fd_lookup(fd);
    uint64_t st = ss_fd_load(e);
    o->flags = flags | (int)((front >> 32) & SS_FRONT_ADD_MASK) | (int)((st & SS_FD_NOSIGPIPE) << 12);
    o->opts = opts;
    o->e = e;
    _Static_assert(SS_FD_NOSIGPIPE << 12 == MSG_NOSIGNAL, "the state word's SO_NOSIGPIPE bit, moved");
    enum ss_step after = (opts & (SS_OPT_STATS | SS_OPT_BYTES)) ? SS_STEP_FORWARD : SS_STEP_LEAVE;
    unsigned slot;
    const struct ss_fault_plan *p = ss_faults_hold(&slot);
    if (!p)
        return after;
    uint64_t m = 0;
    if (p->calls[call]) {
        struct ss_fd_ref ref = {.e = e, .st = st};
        m = ss_path_groups(p, call, fd, &ref, dest, destlen, 0);
        if (__builtin_expect(m == SS_GROUPS_ASK, 0)) {
            ss_faults_leave(slot);
            return SS_STEP_STAGES; /* a fact to ask for: the stages ask, and cache it */
        }
    }
    for (; m; m &= m - 1) {
        unsigned g = (unsigned)__builtin_ctzll(m);
        uint64_t before = ss_faults_count_in(p, g);
        if (__builtin_expect(ss_faults_due(p, g, before), 0)) {
            *held = ss_held_make(before, slot, g);
            return SS_STEP_FIRE;
        }
    }
    ss_faults_leave(slot);
    return after;
}

/* For the stages (SS_STEP_STAGES): what the step would have found, found
 * again, with the rare steps it leaves to the stages (a rule set from the
 * control file applied). The stages then gather, and cache, what was not
 * cached. */
static inline void ss_path_begin(enum ss_call call, int fd, struct ss_path *pa)
{
    ss_control_poll();
    uint64_t front = ss_front_load(call < SS_FRONT_CALLS ? call : SS_CALL_SEND);
    pa->opts = (unsigned)(front >> SS_FRONT_OPT_SHIFT) & 0xfu;
    if (call >= SS_FRONT_CALLS)
        front = 0; /* write, writev: the SIGPIPE policy gives their flags */
    ss_fd_ref_init(&pa->fd, fd);
    pa->add = (int)((front >> 32) & SS_FRONT_ADD_MASK) | (int)((pa->fd.st & SS_FD_NOSIGPIPE) << 12);
}

/* After a call the wrapper forwarded (SS_STEP_FORWARD): the descriptor's
 * byte count (while a rule with after= is in force) and the statistics.
 * `sent` is what it sent (ret, or a sendmmsg's bytes); msg and vec are a
 * sendmsg's message and a sendmmsg's batch (else NULL). errno as libc left
 * it. */
static inline void ss_path_done(enum ss_call call, int fd, struct ss_step_out o, int flags_in, ssize_t ret,
                                uint64_t sent, const struct msghdr *msg, const struct mmsghdr *vec)
{
    if (ret > 0 && (o.opts & SS_OPT_BYTES)) {
        if (o.e)
            __atomic_fetch_add(&o.e->bytes, sent, __ATOMIC_RELAXED);
        else
            ss_fd_add_bytes(fd, NULL, sent); /* the descriptor's first: its entry is made */
    }
    if (__builtin_expect(o.opts & SS_OPT_STATS, 0)) {
        ss_stats_add(call, ret, sent, o.flags != flags_in);
        /* The repairs the kernel made of a message that went out as the
         * program made it (README: what the statistics count). */
        if (msg || vec)
            ss_stage_normalize_count_as_sent(msg, vec, ret);
    }
}

/* The stages, for a call the step sent there (SS_STEP_STAGES) or counted
 * (SS_STEP_FIRE), and for write and writev (ss_process, which does the
 * step's part itself). Return what the call returns, errno set as the call
 * would (pipeline.c); ss_process_fire returns SS_FAULT_FORWARD when no rule
 * fired: the wrapper then forwards the call as for SS_STEP_FORWARD. */
ssize_t ss_process_stages(struct ss_request *rq, struct ss_path *pa);
ssize_t ss_process_fire(struct ss_request *rq, uint64_t held, struct ss_step_out *o);

#pragma GCC visibility pop

#endif
