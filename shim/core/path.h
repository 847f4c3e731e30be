/* path.h - the one path of a send-family call (SPEC 4), up to the stages.
 *
 *   front word    policy.h: leave at once, with the flags every call of the
 *                 kind gets, when neither the call's flags nor the
 *                 configuration can change anything else (the wrapper)
 *   descriptor    ss_path_step: the descriptor's entry, looked up once, its
 *                 MSG_NOSIGNAL; the rules' groups that can match it (its
 *                 verdict, cached per descriptor and plan: type=, family=,
 *                 fd=, peer=, port=); the call counted in them
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
#define SS_OPT_DESC   8u /* a descriptor's entry matters: rules in force, or SO_NOSIGPIPE on some socket */

/* What one call found on its way (on the wrapper's stack). */
struct ss_path {
    unsigned opts; /* SS_OPT_*, as the call found them */
    int add;       /* flag bits the call gets: the front word's, and SO_NOSIGPIPE's MSG_NOSIGNAL */
    struct ss_fd_ref fd;
    /* The slot holding the rules in force while a rule may still fire on
     * the call (until the fault stage has copied what it needs), and the
     * groups that may fire with the calls' counts. */
    struct ss_fault_slot *slot;
    struct ss_fault_counts counts;
};

enum ss_step {
    SS_STEP_LEAVE,   /* nothing can change the call but o->flags, nothing to do after: libc */
    SS_STEP_FORWARD, /* the same, then ss_path_done (bytes for after=, statistics) */
    SS_STEP_FIRE,    /* counted, and a rule may fire on it: ss_process_fire */
    SS_STEP_STAGES,  /* its message or flags need the stages: ss_process_stages */
    SS_STEP_COUNT,   /* ss_path_step only: the call is counted, ss_path_step_count */
    SS_STEP_NAMED,   /* the same for a call whose named address may decide a group */
    SS_STEP_DESC,    /* ss_path_step_front only: the descriptor decides, ss_path_step_desc */
};

/* The verdict of plan p on descriptor fd: which of the plan's first 32
 * groups (SS_VERDICT_GROUPS) accept the descriptor by every condition that
 * is the descriptor's - type=, family=, fd=, and peer= and port= for its
 * connected peer - in the low 32 bits, the plan's id above them. Made (the
 * descriptor's kind probed when some rule needs it, its peer asked when
 * some rule has peer= or port=) and stored in its entry once per
 * descriptor, plan and connect; not stored while the kind a rule needs is
 * unknown (a descriptor that is not open). errno preserved. */
uint64_t ss_path_verdict(const struct ss_fault_plan *p, int fd, struct ss_fd_ref *r);

/* m without the groups in `test` whose fd=, peer= and port= fail for a
 * call to dest (an address the call names), or, dest NULL, for the
 * connected peer (asked of the kernel: groups past the verdict's 32,
 * README Limits). */
uint64_t ss_path_place_slow(const struct ss_fault_plan *p, uint64_t m, uint64_t test, int fd,
                            const struct sockaddr *dest, socklen_t destlen);

/* Empty the named-address cache (fault_facts.c): a child of fork, whose
 * parent may have been writing an entry in another thread. */
void ss_path_named_reset(void);

/* What ss_path_groups returns when it would have to ask (ask == 0). */
#define SS_GROUPS_ASK UINT64_MAX

/* The rare part of ss_path_groups: groups past the verdict's 32, and the
 * peer= and port= groups of a call that names an address. v is the
 * descriptor's verdict. */
uint64_t ss_path_groups_rare(const struct ss_fault_plan *p, enum ss_call call, int fd, struct ss_fd_ref *r,
                             uint64_t v, const struct sockaddr *dest, socklen_t destlen, int ask);

/* The named-address cache (fault_facts.c): 1 when it holds the named
 * verdict of descriptor fd, whose state word is st and verdict v, for a call to dest (its
 * first 32 groups, put there by ss_path_groups_rare, in *named), else 0.
 * Reads no plan. */
int ss_path_named_find(int fd, uint64_t st, uint64_t v, const struct sockaddr *dest, socklen_t len,
                       uint64_t *named);

/* The groups of plan p that match a call of this kind on fd, with the
 * address the call names (dest, or NULL: its connected peer). The one place
 * that decides it, for the descriptor step (ask == 0: what is cached only)
 * and the stages (ask == 1). The descriptor's verdict gives its groups
 * among the first 32; the call kind and after= are tested per call. A fact
 * not cached yet - the verdict under this plan, the peer for groups past
 * the verdict's 32 - is asked of the kernel and cached with ask, else
 * SS_GROUPS_ASK is returned. A real mask of all 64 groups reads as
 * SS_GROUPS_ASK too: the step then takes the stages, which give the same
 * answer (ask == 1 never returns SS_GROUPS_ASK for it to misread). */
static inline uint64_t ss_path_groups_by(const struct ss_fault_plan *p, enum ss_call call, int fd,
                                         struct ss_fd_ref *r, uint64_t v, const struct sockaddr *dest,
                                         socklen_t destlen, int ask)
{
    uint64_t calls = p->calls[call];
    if (__builtin_expect((uint32_t)(v >> 32) != p->id, 0)) {
        if (!ask)
            return SS_GROUPS_ASK;
        v = ss_path_verdict(p, fd, r);
    }
    uint64_t m = calls & (uint32_t)v;
    _Static_assert(SS_VERDICT_GROUPS == 32, "a verdict's groups are its low 32 bits");
    if (__builtin_expect((calls >> 32) || (dest && (calls & p->named)), 0)) {
        /* The step of a call that names no address calls nothing (its
         * callers instantiate it with dest == NULL apart): groups past the
         * verdict's 32 send it to the stages (README Limits). */
        if (!ask && !dest)
            return SS_GROUPS_ASK;
        m = ss_path_groups_rare(p, call, fd, r, v, dest, destlen, ask);
        if (m == SS_GROUPS_ASK)
            return m;
    }
    if (__builtin_expect((m & p->after) != 0, 0))
        m = ss_faults_after_filter(p, m, r->e ? &r->e->bytes : NULL);
    return m;
}
/* The same, reading the descriptor's verdict (ss_path_groups_by: for the
 * step, which has read it already). */
static inline uint64_t ss_path_groups(const struct ss_fault_plan *p, enum ss_call call, int fd,
                                      struct ss_fd_ref *r, const struct sockaddr *dest, socklen_t destlen,
                                      int ask)
{
    uint64_t v = r->e ? __atomic_load_n(&r->e->verdict, __ATOMIC_ACQUIRE) : 0;
    return ss_path_groups_by(p, call, fd, r, v, dest, destlen, ask);
}

/* What the descriptor step leaves for a call it lets go (SS_STEP_LEAVE,
 * SS_STEP_FORWARD): 16 bytes, passed and kept in registers. */
struct ss_step_out {
    int flags; /* for the kernel */
    struct ss_fd_entry *e;
};

/* The options (SS_OPT_*) of a call's bookkeeping after it is forwarded,
 * read again from its front word (a change of configuration in between
 * counts the call as the new one says). */
static inline unsigned ss_path_opts(enum ss_call call)
{
    return (unsigned)(ss_front_load(call) >> SS_FRONT_OPT_SHIFT) & 0xfu;
}

/* What the step hands the fault stage with SS_STEP_FIRE, in one register so
 * that every way out of the step is a jump (no call returns into it, so it
 * keeps nothing on its stack):
 * the slot it holds, the first group g whose `when` window the call's count
 * is in, the count before the call (groups below g are counted, those
 * above are left to ss_process_fire), and the rule the step chose already
 * plus one (0: none chosen). A count beyond 2^49 calls does not fit; at a
 * billion calls a second that is six days of one rule set. */
#define SS_HELD_SLOT_SHIFT   6
#define SS_HELD_CHOSEN_SHIFT 8
#define SS_HELD_COUNT_SHIFT  15
_Static_assert(SS_MAX_RULES <= 1 << SS_HELD_SLOT_SHIFT, "a group number fits below the slot");
_Static_assert(SS_FAULT_SLOTS <= 1 << (SS_HELD_CHOSEN_SHIFT - SS_HELD_SLOT_SHIFT),
               "a slot fits below the chosen rule");
_Static_assert(SS_MAX_RULES + 1 <= 1 << (SS_HELD_COUNT_SHIFT - SS_HELD_CHOSEN_SHIFT),
               "a rule number plus one fits below the count");
static inline uint64_t ss_held_make(uint64_t before, const struct ss_fault_slot *slot, unsigned g,
                                    unsigned chosen1)
{
    return before << SS_HELD_COUNT_SHIFT | (uint64_t)chosen1 << SS_HELD_CHOSEN_SHIFT |
           (uint64_t)(slot - ss_fault_slots) << SS_HELD_SLOT_SHIFT | g;
}

/* The end of a step that lets the call go (SS_STEP_LEAVE, SS_STEP_FORWARD):
 * the flags it is forwarded with (the front word's and the descriptor's
 * SO_NOSIGPIPE MSG_NOSIGNAL), found last, with the front word read again,
 * so that fewer values live across the counting. */
static inline enum ss_step ss_path_forward(enum ss_call call, int flags, struct ss_fd_entry *e,
                                           struct ss_step_out *o)
{
    uint64_t front = ss_front_load(call);
    o->flags =
        flags | (int)((front >> 32) & SS_FRONT_ADD_MASK) | (int)((ss_fd_load(e) & SS_FD_NOSIGPIPE) << 12);
    o->e = e;
    _Static_assert(SS_FD_NOSIGPIPE << 12 == MSG_NOSIGNAL, "the state word's SO_NOSIGPIPE bit, moved");
    return (front & ((uint64_t)(SS_OPT_STATS | SS_OPT_BYTES) << SS_FRONT_OPT_SHIFT)) ? SS_STEP_FORWARD
                                                                                     : SS_STEP_LEAVE;
}

/* The descriptor step of a send, sendto, sendmsg or sendmmsg whose front
 * word did not let it leave: `plain` says its message (or batch) needs no
 * normalizing (send and sendto: 1), `named` that it names an address. It is
 * the stages' early exit for a call whose every fact is cached, in two
 * parts: this one (the call's flags, the control file, the options, and,
 * when a descriptor's entry can change the call - rules in force,
 * SO_NOSIGPIPE in use - the entry and its verdict against the groups that
 * name the call) and, when some group may count the call (SS_STEP_COUNT),
 * ss_path_step_count (SS_STEP_NAMED when the address the call names may
 * decide a group). Neither asks anything (no system call, no function call
 * but the named-address cache's and ss_path_groups_rare, for a call that
 * names an address while peer= or port= rules are in force) and they
 * write nothing but *o and, when a rule may fire, *held (the rules' slot
 * then stays held for ss_process_fire). Anything they cannot decide from what is cached - a
 * descriptor's first verdict under a rule set, a rule set from the control
 * file to apply - goes to the stages (SS_STEP_STAGES), which gather it (and
 * cache it for the next call). Touch no errno. Inline in the wrappers,
 * where the call kind is a constant; every way out of them is a jump to
 * libc or to one function of the wrapper's. */
static inline enum ss_step ss_path_step_front(enum ss_call call, int flags, int plain, struct ss_step_out *o)
{
    uint64_t front = ss_front_load(call);
    if (!plain || (flags & (int)(uint32_t)front) || ((front >> SS_FRONT_OPT_SHIFT) & SS_OPT_STAGES) ||
        ss_control_changed())
        return SS_STEP_STAGES;
    if (!((front >> SS_FRONT_OPT_SHIFT) & SS_OPT_DESC))
        return ss_path_forward(call, flags, NULL, o); /* statistics only, say: no entry can change the call */
    return SS_STEP_DESC;
}
/* Its descriptor's part (SS_STEP_DESC). */
static inline enum ss_step ss_path_step_desc(enum ss_call call, int fd, int flags, int named,
                                             struct ss_step_out *o)
{
    struct ss_fd_entry *e = ss_fd_lookup(fd);
    uint64_t q = __atomic_load_n(&ss_fault_quick[call], __ATOMIC_ACQUIRE);
    uint64_t v = e ? __atomic_load_n(&e->verdict, __ATOMIC_ACQUIRE) : 0;
    o->e = e; /* for ss_path_step_count */
    if (named) {
        /* The address decides no group when the verdict is the plan's and
         * no group of the call tests peer= or port= (ss_fault_named): then
         * the call is decided as one that names none. */
        uint64_t n = __atomic_load_n(&ss_fault_named[call], __ATOMIC_ACQUIRE);
        if (((q ^ v) >> 32) || ((n ^ v) >> 32) || (uint32_t)n)
            return SS_STEP_NAMED;
    }
    /* ss_path_groups' answer, before holding the plan, when it is "none":
     * the verdict is the plan's (ss_fault_quick) and its groups and the
     * call's do not meet (no rules: q is 0, and so is a fresh entry's
     * verdict). */
    if (!((q ^ v) >> 32) && !(q & v & 0xffffffffu))
        return ss_path_forward(call, flags, e, o);
    return SS_STEP_COUNT;
}
/* Both parts, for a wrapper whose arguments leave the registers the
 * descriptor's part needs (all but sendto, which calls the parts apart so
 * that its first saves none). */
static inline enum ss_step ss_path_step(enum ss_call call, int fd, int flags, int plain, int named,
                                        struct ss_step_out *o)
{
    enum ss_step step = ss_path_step_front(call, flags, plain, o);
    return step == SS_STEP_DESC ? ss_path_step_desc(call, fd, flags, named, o) : step;
}

/* The counting part of the step (SS_STEP_COUNT): in a function of the
 * wrapper's own, so that the rest of the step saves no register. dest is
 * the address the call names (NULL: none). Returns SS_STEP_LEAVE,
 * SS_STEP_FORWARD, SS_STEP_FIRE or SS_STEP_STAGES. */
static inline __attribute__((always_inline)) enum ss_step
ss_path_step_count(enum ss_call call, int fd, int flags, struct ss_fd_entry *e, const struct sockaddr *dest,
                   socklen_t destlen, struct ss_step_out *o, uint64_t *held)
{
    uint64_t v = e ? __atomic_load_n(&e->verdict, __ATOMIC_ACQUIRE) : 0;
    if (dest) {
        /* A call that names an address (SS_STEP_NAMED) whose named verdict
         * is cached under the plan (the verdict is the plan's): that is the
         * verdict it is decided by, its address decided (ss_path_groups
         * gives the same answer from either), and when it meets none of the
         * call's groups the call leaves before holding the plan. */
        uint64_t q = __atomic_load_n(&ss_fault_quick[call], __ATOMIC_ACQUIRE), named;
        if (!((q ^ v) >> 32) && ss_path_named_find(fd, ss_fd_load(e), v, dest, destlen, &named)) {
            v = (v >> 32) << 32 | (uint32_t)named;
            dest = NULL;
            if (!(q & v & 0xffffffffu))
                return ss_path_forward(call, flags, e, o);
        }
    }
    struct ss_fault_slot *slot;
    const struct ss_fault_plan *p = ss_faults_hold_slot(&slot);
    if (p) {
        uint64_t m = 0;
        if (p->calls[call]) {
            struct ss_fd_ref ref = {.e = e, .st = 0};
            m = ss_path_groups_by(p, call, fd, &ref, v, dest, destlen, 0);
            if (__builtin_expect(m == SS_GROUPS_ASK, 0)) {
                ss_faults_leave(slot);
                return SS_STEP_STAGES; /* a fact to ask for: the stages ask, and cache it */
            }
        }
        for (; m; m &= m - 1) {
            unsigned g = (unsigned)__builtin_ctzll(m);
            uint64_t before = ss_faults_count_in(p, g);
            if (__builtin_expect(ss_faults_due(p, g, before), 0)) {
                unsigned chosen1 = 0;
                if (!(m >> g >> 1) && !(p->pick_reads & SS_CALL_BIT(call))) {
                    /* g is the call's last group and its rules read no
                     * fact to decide (p= with error= or delay=, the most
                     * common): the fault stage's own ss_faults_choose
                     * draws now, and a draw that misses leaves here. */
                    struct ss_fault_counts counts;
                    uint64_t keep;
                    counts.pending = 1ull << g;
                    counts.count[g] = before + 1;
                    int chosen = ss_faults_choose(p, NULL, &counts, &keep);
                    if (chosen < 0) {
                        ss_faults_leave(slot);
                        return ss_path_forward(call, flags, e, o);
                    }
                    chosen1 = (unsigned)chosen + 1;
                }
                *held = ss_held_make(before, slot, g, chosen1);
                return SS_STEP_FIRE;
            }
        }
        ss_faults_leave(slot);
    }
    return ss_path_forward(call, flags, e, o);
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
    unsigned opts = ss_path_opts(call);
    if (ret > 0 && (opts & SS_OPT_BYTES)) {
        if (o.e)
            __atomic_fetch_add(&o.e->bytes, sent, __ATOMIC_RELAXED);
        else
            ss_fd_add_bytes(fd, NULL, sent); /* the descriptor's first: its entry is made */
    }
    if (__builtin_expect(opts & SS_OPT_STATS, 0)) {
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
