/* faults.h - the fault decision of SPEC section 8: which rule, if any, fires
 * on a call. Pure apart from atomic updates of the rules' counters and
 * generators: no system calls, so unit tests drive it without sockets. The
 * pipeline stage (fault_*.c) keeps each rule set as a plan (made once,
 * when the set is installed), gathers the facts about a call that the plan
 * says it needs, counts the call (ss_faults_count), asks for the rule that
 * fires only when one may (ss_faults_pick), and applies the answer. */
#ifndef SENDSHIM_FAULTS_H
#define SENDSHIM_FAULTS_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "calls.h"
#include "prng.h"
#include "request.h"
#include "rules.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* What a rule accumulates while it is in force. Updated atomically. */
struct ss_rule_state {
    uint64_t count; /* calls that matched the rule: its `when` counter */
    uint64_t fired; /* calls it fired on */
    struct ss_prng prng;
    unsigned burst_on; /* burst=: the last draw fired, so the next uses burst= */
};

/* The facts about one call that rules test. The stage fills what the set's
 * ss_faults_needs asks for; the rest may stay zero. */
struct ss_fault_call {
    enum ss_call call;
    int fd;
    int type;   /* SOCK_STREAM, SOCK_DGRAM, ...; 0: not a socket or unknown */
    int family; /* AF_UNIX, AF_INET, ...; 0 when unknown */
    /* The destination: sendto's address or msg_name when given, else the
     * connected peer; NULL when there is none or it is unknown. */
    const struct sockaddr *dest;
    socklen_t destlen;
    uint64_t sent;  /* bytes sent successfully on fd before this call */
    uint64_t bytes; /* bytes this call asks to send (sendmmsg: all messages) */
    unsigned vlen;  /* sendmmsg: messages in the batch (capped as the kernel caps it) */
    /* corrupt=: the bytes it may flip (the request, or sendmmsg's first
     * message), filled with bytes. */
    uint64_t unit_bytes;
    /* stall=: SS_STALL_ON while the descriptor is stalled (a stall rule that
     * matches fires without drawing), SS_STALL_ENDED when a stall with reset
     * has ended and the reset is due; 0 otherwise. */
    int stalled;
};

#define SS_STALL_ON    1
#define SS_STALL_ENDED 2

enum ss_fault_needs {
    SS_NEED_SOCK = 1u << 0,  /* type and family */
    SS_NEED_DEST = 1u << 1,  /* dest (peer=, port=) */
    SS_NEED_SENT = 1u << 2,  /* sent (after=) */
    SS_NEED_BYTES = 1u << 3, /* bytes (short=, corrupt=) before deciding */
    SS_NEED_STALL = 1u << 4, /* stalled (stall=) */
};

/* What the set of rules needs to know about every call (ss_fault_needs). */
unsigned ss_faults_needs(const struct ss_rule *rules, unsigned n);

/* The outcome for one call. When rule < 0 nothing fired: the call goes on
 * untouched. Otherwise the fields say what to do (actions is the rule's). */
struct ss_fault_decision {
    int rule; /* 0-based index of the rule that fired, or -1 */
    unsigned actions;
    int error;         /* error=: the errno */
    uint64_t keep;     /* short=: bytes to really send (1 <= keep < bytes) */
    unsigned batch;    /* batch=: messages to really send (< vlen) */
    uint64_t delay_ns; /* delay=: this call's delay (drawn for a range) */
    uint64_t rate_bps; /* rate= */
    uint64_t stall_ns; /* stall= */
    /* corrupt=: ncorrupt bits to flip among unit_bits, at the positions
     * ss_faults_corrupt_positions gives: the rule's draws k0, k0 + 1, ...
     * of the stream with this base (claimed by the decision; kept as
     * indexes, not positions, so that a call's stack holds no array). */
    unsigned ncorrupt;
    uint64_t corrupt_base, corrupt_k0, unit_bits;
};

/* corrupt=: the decision's bit offsets into the unit, ascending and
 * distinct, in out[0 .. d->ncorrupt). Pure. */
void ss_faults_corrupt_positions(const struct ss_fault_decision *d, uint64_t *out);

/* Decide for one call. Every rule whose calls and fd/type/family/peer/port/
 * after conditions match gets its counter incremented, whether or not another
 * rule fires. Rules are tried in order; a rule fires when its counter
 * satisfies `when`, its action can act on this call (ss_rule_acts), and then
 * its p draw succeeds (drawn only then). The first rule that fires decides;
 * later rules draw nothing. Generators are seeded from `seed` and the rule's
 * position (1-based). Lock-free and async-signal-safe. This is
 * ss_faults_count then ss_faults_pick on an unshared plan (below): every rule
 * counts in its own st[].count. */
void ss_faults_decide(const struct ss_rule *rules, struct ss_rule_state *st, unsigned n, uint64_t seed,
                      const struct ss_fault_call *c, struct ss_fault_decision *d);

/* The parts of the decision (also for tests). Whether count satisfies the
 * rule's `when` (SPEC 8). Inline: ss_faults_pick
 * tests it on every call a rule may fire on; most rules have no when= step,
 * and the division is skipped. */
static inline int ss_when_holds(const struct ss_rule *r, uint64_t count)
{
    if (count < r->when_first || count > r->when_last)
        return 0;
    return r->when_step <= 1 || (count - r->when_first) % r->when_step == 0;
}
/* Calls and fd/type/family/peer/port/after conditions (not when, not p). */
int ss_rule_matches(const struct ss_rule *r, const struct ss_fault_call *c);
/* The actions that act on some calls only (ss_rule_acts); error= and delay=
 * act on every call. */
#define SS_ACTS_SOMETIMES                                                                                    \
    (SS_ACT_SHORT | SS_ACT_BATCH | SS_ACT_DROP | SS_ACT_DUP | SS_ACT_RESET | SS_ACT_RATE | SS_ACT_STALL |    \
     SS_ACT_CORRUPT)

/* ss_rule_acts for a rule with an action of SS_ACTS_SOMETIMES. */
int ss_faults_acts_on_call(const struct ss_rule *r, const struct ss_fault_call *c, uint64_t *keep);

/* Whether the rule's action would change this call: short= on a stream
 * socket asking for more than the kept bytes, batch= on a sendmmsg of more
 * than K messages, drop on a datagram or raw socket; error= and delay=
 * always (one test, inline). On success *keep holds short='s byte count. */
static inline int ss_rule_acts(const struct ss_rule *r, const struct ss_fault_call *c, uint64_t *keep)
{
    *keep = 0;
    return !(r->actions & SS_ACTS_SOMETIMES) || ss_faults_acts_on_call(r, c, keep);
}
/* The conditions of where a call goes alone: fd=, peer= and port= (dest
 * NULL: none known, which no peer= or port= matches). */
int ss_rule_matches_place(const struct ss_rule *r, int fd, const struct sockaddr *dest, socklen_t destlen);
/* The other conditions: calls, type=, family=, after=. */
int ss_rule_matches_but_place(const struct ss_rule *r, const struct ss_fault_call *c);
/* The address condition alone: does dest match peer=ADDR[:PORT]? */
int ss_peer_matches(const struct ss_rule *r, const struct sockaddr *dest, socklen_t destlen);

/* ---- the plan: a rule set prepared once for the send path ------------------ */

/* The conditions that decide whether a rule matches a call (besides its
 * calls); `when` and `p` only decide whether a matching rule fires. */
#define SS_MATCH_CONDS                                                                                       \
    (SS_COND_FD | SS_COND_TYPE | SS_COND_FAMILY | SS_COND_PEER | SS_COND_PORT | SS_COND_AFTER)
/* Rules with the same calls and the same match conditions (a group) count
 * exactly the same calls, so with sharing they use one counter: the first
 * rule's st[].count, which is then every one of them's `when` counter.
 *
 * The plan answers "which groups match this call?" with 64-bit masks of
 * groups (bit g: group g) made when the set is installed: the groups that
 * name the call kind, those whose type= (family=) accepts the call's socket
 * type (family), indexed by the raw SOCK_* (AF_*) value, 0 for "not a
 * socket or unknown". Their AND leaves only after=, fd=, peer= and port= to
 * test one group at a time (ss_faults_narrow), and those are rare. */
#define SS_TYPE_INDEXES   16  /* raw SOCK_* values below this: the fd table keeps 4 bits */
#define SS_FAMILY_INDEXES 256 /* raw AF_* values below this: the fd table keeps 8 bits */

/* The plan's index of a socket type or family: the raw value, so the send
 * path needs no translation; 0 ("not a socket or unknown") for a value
 * beyond the table, which no type= or family= list names either. */
static inline unsigned ss_type_index(int type)
{
    return (unsigned)type < SS_TYPE_INDEXES ? (unsigned)type : 0;
}
static inline unsigned ss_family_index(int family)
{
    return (unsigned)family < SS_FAMILY_INDEXES ? (unsigned)family : 0;
}

/* Groups are numbered with the groups that test fd=, peer= or port= first,
 * so that a descriptor's verdict on the first SS_VERDICT_GROUPS of them
 * fits in a word beside the plan's id (fdtable.h, path.h). */
#define SS_VERDICT_GROUPS 32

struct ss_fault_plan {
    const struct ss_rule *rule;
    struct ss_rule_state *st;
    unsigned n;
    uint32_t id; /* nonzero, unique among the plans installed in this process (descriptor verdicts) */
    uint64_t seed;
    uint64_t base[SS_MAX_RULES];           /* rule -> its generator's stream base (prng.h), or 0 */
    unsigned char group_of[SS_MAX_RULES];  /* rule -> group */
    uint64_t calls[SS_NCALLS];             /* groups whose rules name the call */
    uint64_t type_ok[SS_TYPE_INDEXES];     /* groups a socket of this type (ss_type_index) matches */
    uint64_t family_ok[SS_FAMILY_INDEXES]; /* by ss_family_index */
    uint64_t after;                        /* groups with after= */
    uint64_t after_max;                    /* their largest after=: beyond it, all pass */
    uint64_t other;                        /* groups with fd=, peer= or port= (the lowest numbers) */
    uint64_t named;                /* those with peer= or port=: an address a call names decides them */
    uint64_t *count[SS_MAX_RULES]; /* group -> its counter */
    /* Group g's `when` window, on the counter as a call finds it (its count
     * minus one): its rules may fire only when count - 1 - fire_after[g] <
     * fire_span[g] (one unsigned compare: below the window wraps to a large
     * number) and, with fire_step[g] > 1, divides by it. A group whose
     * rules are all past their window costs a compare, as one not yet due. */
    uint64_t fire_after[SS_MAX_RULES];         /* its rules' smallest when_first - 1 */
    uint64_t fire_span[SS_MAX_RULES];          /* its rules' largest when_last - fire_after */
    uint64_t fire_step[SS_MAX_RULES];          /* its one rule's when_step, else 1 */
    uint64_t after_bytes[SS_MAX_RULES];        /* its after= */
    const struct ss_rule *match[SS_MAX_RULES]; /* its first rule (its conditions) */
    unsigned needs[SS_NCALLS];                 /* facts the call must gather (ss_fault_needs) */
    unsigned teardown;                         /* SS_CALLS_TEARDOWN bits some rule names */
    /* The calls (SS_CALL_BIT) whose rules decide by what the descriptor
     * table believes: its kind or bytes (type=, family=, after=; short= and
     * drop act by type; write and writev match on sockets only). A rule that
     * fires on such a call re-identifies the descriptor first. */
    unsigned by_descriptor;
    /* The calls (SS_CALL_BIT) with a rule whose action acts on some calls
     * only (SS_ACTS_SOMETIMES): ss_faults_pick reads their facts. */
    unsigned pick_reads;
    int count_bytes; /* some rule has after=: every call counts its bytes */
};

/* Prepare rules[0..n) with their states st for deciding. With `share`, rules
 * of one group share a counter (the send path); without, every rule counts in
 * its own st[].count (ss_faults_decide). Pure. */
void ss_faults_plan(struct ss_fault_plan *p, const struct ss_rule *rules, struct ss_rule_state *st,
                    unsigned n, uint64_t seed, int share);

/* Draw from `seed` from now on: every rule's generator base is made again
 * (once per plan, not per call). */
void ss_faults_plan_seed(struct ss_fault_plan *p, uint64_t seed);

/* A rule's `when` counter (shared with its group in a shared plan). */
static inline uint64_t ss_faults_matched(const struct ss_fault_plan *p, unsigned rule)
{
    return __atomic_load_n(p->count[p->group_of[rule]], __ATOMIC_RELAXED);
}

/* The counts of one call: for each group of the call whose counter had
 * reached its fire_after, the count the call got. */
struct ss_fault_counts {
    uint64_t pending; /* bit g: group g may fire */
    uint64_t count[SS_MAX_RULES];
};

/* The groups in m that pass their fd=, peer= and port= conditions; for
 * ss_faults_count. */
uint64_t ss_faults_narrow(const struct ss_fault_plan *p, const struct ss_fault_call *c, uint64_t m);

/* The groups whose type= and family= conditions accept a socket of this
 * type and family (indexes: ss_type_index, ss_family_index; 0 and 0 for
 * what is not a socket or not known), whatever their calls. */
static inline uint64_t ss_faults_kind_ok(const struct ss_fault_plan *p, unsigned type_index,
                                         unsigned family_index)
{
    return p->type_ok[type_index] & p->family_ok[family_index];
}

/* The groups of m that pass their after= for a descriptor that has sent
 * *sent bytes (NULL: 0). */
static inline uint64_t ss_faults_after_filter(const struct ss_fault_plan *p, uint64_t m, const uint64_t *sent)
{
    uint64_t rest = m & p->after;
    if (__builtin_expect(rest != 0, 0)) {
        uint64_t n = sent ? __atomic_load_n(sent, __ATOMIC_RELAXED) : 0;
        /* A descriptor past every after= (the common case once it sent)
         * skips the loop. */
        if (n > p->after_max)
            rest = 0;
        for (; rest; rest &= rest - 1) {
            unsigned g = (unsigned)__builtin_ctzll(rest);
            if (!(n > p->after_bytes[g]))
                m &= ~(1ull << g);
        }
    }
    return m;
}

/* The groups whose calls, type=, family= and after= conditions match a call
 * of this kind on a socket of this type and family whose count of bytes
 * sent is *sent; fd=, peer= and port= are left to the caller (groups in
 * p->other). The one place these conditions are decided, from the two
 * above: the pure decision (ss_faults_count) asks it, and the send path
 * (path.h) asks its two parts, the first through a descriptor's verdict. */
static inline uint64_t ss_faults_match(const struct ss_fault_plan *p, enum ss_call call, unsigned type_index,
                                       unsigned family_index, const uint64_t *sent)
{
    return ss_faults_after_filter(p, p->calls[call] & ss_faults_kind_ok(p, type_index, family_index), sent);
}

/* Count a call in group g (atomically): the count before it. */
static inline uint64_t ss_faults_count_in(const struct ss_fault_plan *p, unsigned g)
{
    return __atomic_fetch_add(p->count[g], 1, __ATOMIC_RELAXED);
}
/* Whether a call group g counted with `before` calls before it is inside
 * the group's `when` window, so that a rule of it may fire. The common case
 * is one compare: the call is outside the window (not yet due, or past
 * it). */
static inline int ss_faults_due(const struct ss_fault_plan *p, unsigned g, uint64_t before)
{
    uint64_t into = before - p->fire_after[g];
    if (__builtin_expect(into >= p->fire_span[g], 1))
        return 0;
    return !(__builtin_expect(p->fire_step[g] > 1, 0) && into % p->fire_step[g]);
}
/* Count a call in the groups m (those that match it) and return whether
 * some rule may fire; only then are counts set. */
static inline uint64_t ss_faults_count_group(const struct ss_fault_plan *p, unsigned g,
                                             struct ss_fault_counts *counts)
{
    uint64_t before = ss_faults_count_in(p, g);
    if (__builtin_expect(!ss_faults_due(p, g, before), 1))
        return 0;
    counts->count[g] = before + 1;
    return 1ull << g;
}
static inline int ss_faults_count_groups(const struct ss_fault_plan *p, uint64_t m,
                                         struct ss_fault_counts *counts)
{
    uint64_t pending = 0;
    if (m && !(m & (m + 1))) {
        /* Groups 0 to k-1, as when every group of the plan matches (rules
         * for all calls, on sockets they all accept): walked in order,
         * without finding each bit. */
        unsigned k = 64u - (unsigned)__builtin_clzll(m);
        for (unsigned g = 0; g < k; g++)
            pending |= ss_faults_count_group(p, g, counts);
    } else {
        for (; m; m &= m - 1)
            pending |= ss_faults_count_group(p, (unsigned)__builtin_ctzll(m), counts);
    }
    if (!pending)
        return 0;
    counts->pending = pending;
    return 1;
}

/* Teardown calls (close, shutdown: SS_CALL_CLOSE_BIT, SS_CALL_SHUTDOWN_BIT)
 * are decided apart from the sending calls, by the rules that name them:
 * counted like any rule (c->call is ignored; fd/type/family/peer/port/after
 * tested), then when and p. */
void ss_faults_pick_teardown(const struct ss_fault_plan *p, unsigned bit, const struct ss_fault_call *c,
                             struct ss_fault_decision *d);

/* The first half of a decision: count the call in every group that matches
 * it (atomically, whether or not a rule fires) and return whether some rule
 * may fire (then counts->pending says which groups may). Gathers nothing: c must hold the facts
 * p->needs[c->call] asks for, except SS_NEED_BYTES. */
static inline int ss_faults_count(const struct ss_fault_plan *p, const struct ss_fault_call *c,
                                  struct ss_fault_counts *counts)
{
    /* write and writev are ours only on sockets. */
    if (!c->type && (c->call == SS_CALL_WRITE || c->call == SS_CALL_WRITEV))
        return 0;
    uint64_t m = ss_faults_match(p, c->call, ss_type_index(c->type), ss_family_index(c->family), &c->sent);
    if (m & p->other)
        m = ss_faults_narrow(p, c, m);
    return ss_faults_count_groups(p, m, counts);
}

/* p= (and burst=): whether the rule fires, drawing when it must. */
static inline int ss_faults_draw_fires(const struct ss_rule *r, struct ss_rule_state *st, uint64_t base)
{
    if (!(r->conds & SS_COND_BURST))
        return r->p_threshold == UINT64_MAX || ss_prng_next(&st->prng, base) < r->p_threshold;
    uint64_t t = __atomic_load_n(&st->burst_on, __ATOMIC_RELAXED) ? r->burst_threshold : r->p_threshold;
    int fires = t == UINT64_MAX || ss_prng_next(&st->prng, base) < t;
    __atomic_store_n(&st->burst_on, (unsigned)fires, __ATOMIC_RELAXED);
    return fires;
}

/* Rule i fires: fill d. Inline: it is the end of every pick that fires. */
static inline __attribute__((always_inline)) void ss_faults_fire(const struct ss_fault_plan *p, unsigned i,
                                                                 const struct ss_fault_call *c, uint64_t keep,
                                                                 uint64_t base, struct ss_fault_decision *d)
{
    const struct ss_rule *r = &p->rule[i];
    struct ss_rule_state *st = &p->st[i];
    __atomic_add_fetch(&st->fired, 1, __ATOMIC_RELAXED);
    d->rule = (int)i;
    d->actions = r->actions;
    d->error = r->error;
    d->keep = keep;
    d->batch = r->batch;
    d->rate_bps = r->rate_bps;
    d->stall_ns = r->stall_ns;
    d->ncorrupt = 0;
    d->delay_ns = 0;
    if (r->actions & SS_ACT_DELAY)
        d->delay_ns = r->delay_min_ns == r->delay_max_ns
                          ? r->delay_min_ns
                          : ss_prng_range(ss_prng_next(&st->prng, base), r->delay_min_ns, r->delay_max_ns);
    if (r->actions & SS_ACT_CORRUPT) {
        d->ncorrupt = r->corrupt_bits;
        d->unit_bits = c->unit_bytes * 8;
        d->corrupt_base = base;
        d->corrupt_k0 = __atomic_fetch_add(&st->prng.drawn, r->corrupt_bits, __ATOMIC_RELAXED);
    }
}

/* The second half, only when ss_faults_count (or ss_faults_count_groups)
 * returned nonzero: the rule that fires, by the order of the rules, or -1
 * (p= drawn as it goes; *keep is short='s byte count). c must hold the
 * facts p->needs[c->call] asks for (SS_NEED_BYTES too); it may be NULL when
 * no rule of the call reads them to decide (p->pick_reads has no bit of
 * the call: its actions act on every call). */
static inline int ss_faults_choose(const struct ss_fault_plan *p, const struct ss_fault_call *c,
                                   const struct ss_fault_counts *counts, uint64_t *keep)
{
    for (unsigned i = 0; i < p->n; i++) {
        const struct ss_rule *r = &p->rule[i];
        unsigned g = p->group_of[i];
        if (!(counts->pending & (1ull << g)) || !ss_rule_acts(r, c, keep))
            continue;
        /* A stalled descriptor stays stalled for every call the stall rule
         * matches, whatever when= and p= say: the stall is the descriptor's. */
        if (!((r->actions & SS_ACT_STALL) && c->stalled) &&
            (!ss_when_holds(r, counts->count[g]) || !ss_faults_draw_fires(r, &p->st[i], p->base[i])))
            continue;
        return (int)i;
    }
    return -1;
}

/* Both halves' end: the rule that fires, if any, in d. Inline in the fault
 * stage, which calls it on every call a rule may fire on. */
static inline void ss_faults_pick(const struct ss_fault_plan *p, const struct ss_fault_call *c,
                                  const struct ss_fault_counts *counts, struct ss_fault_decision *d)
{
    uint64_t keep;
    int i = ss_faults_choose(p, c, counts, &keep);
    d->rule = -1;
    if (i >= 0)
        ss_faults_fire(p, (unsigned)i, c, keep, p->base[i], d);
}

/* ---- the runtime side (fault_store.c, fault_actions.c, fault_log.c) ---- */

#define SS_FAULT_IOV_COPY 64            /* iovecs of a short= copy held on the stack */
#define SS_MMSG_VLEN_CAP  1024u         /* sendmmsg: the kernel caps vlen at UIO_MAXIOV */
#define SS_FAULT_FORWARD  ((ssize_t)-2) /* ss_stage_faults: forward the request */

/* One call's fault, on ss_process's stack: the decision, what the log line
 * needs, and the bounded copies a short= request is rewritten into. */
struct ss_fault {
    int fired;                 /* a rule fired; the rest is valid only then */
    int saved_errno;           /* errno as the program had it (nothing before the fire touches it) */
    struct ss_fault_call call; /* the facts the rules got */
    struct ss_fault_counts counts;
    int sigpipe;
    int wake; /* the result is an EAGAIN the library made: give the writability edge (netfaults.h) */
    int log;  /* the fault is logged (SENDSHIM_LOG is not none); text is valid only then */
    struct ss_fault_decision d;
    uint64_t bytes; /* the request's bytes and messages, for the log line */
    unsigned vlen;
    struct mmsghdr *user_vec; /* short= on sendmmsg: where message 0's msg_len goes */
    int rewritten;            /* short=, batch=: the request was rewritten, orig holds it */
    struct ss_request orig;   /* the request as it came to the stage, restored after */
    char text[SS_RULE_TEXT_MAX];
    union {
        struct msghdr msg;
        struct mmsghdr mmsg;
    } hdr;
    struct iovec iov[SS_FAULT_IOV_COPY];
};

/* Replace the rules in force by those of `text` (NULL or "" removes them
 * all), safely while other threads send. Returns 0, or -errno (-EINVAL: a bad
 * rule; -EAGAIN, -ENOMEM; -EDEADLK: called from a signal handler that
 * interrupted a replacement in the same thread) with one line in err
 * ("rule 1: ...") and nothing changed. Async-signal-safe: it takes no lock a
 * signal handler could wait on forever (it may wait, boundedly, for readers
 * and for another thread's replacement). The new set draws from a stream of
 * its own (prng.h: the set's number in this process). */
int ss_faults_replace(const char *text, char *err, size_t errlen);

/* Register the fork handlers (fault_store.c, "Fork."): a child gets its own
 * stream id and restarts the rule sets it holds. Called once, by the
 * constructor. */
void ss_faults_fork_init(void);

/* ss_faults_replace for a set from the control file (control.c): `gen` is
 * its generation (nonzero), '#' comments are allowed, its counters live in
 * the process's slot of the file, and it never waits: -EBUSY when another
 * replacement is under way (try again later). */
int ss_faults_replace_control(const char *text, uint64_t gen, char *err, size_t errlen);

/* The calls (SS_CALL_BIT mask) that some rule in force names: write and
 * writev take the pipeline only when this says a rule may want them. */
unsigned ss_faults_calls(void);
/* The address a request names (sendto's, msg_name, the first message's of
 * a sendmmsg), or NULL (*len 0): then its connected peer is where it goes. */
const struct sockaddr *ss_faults_named_dest(const struct ss_request *rq, socklen_t *len);

/* Whether some rule in force has after=: then every call counts its bytes. */
int ss_faults_count_bytes(void);

/* The rule-set slots (fault_store.c has the design): the plan each holds
 * (NULL: none, or no rule) and its readers. */
#define SS_FAULT_SLOTS 4 /* current, draining, spare */
struct ss_rtset;
struct ss_fault_slot {
    unsigned readers;
    int initial;                      /* holds the constructor's rules (ss_cfg.rules) */
    struct ss_rtset *set;             /* else this set, or NULL when empty */
    const struct ss_fault_plan *plan; /* the plan to read, or NULL */
} __attribute__((aligned(32)));       /* 32 bytes: an index is a shift */
extern struct ss_fault_slot ss_fault_slots[SS_FAULT_SLOTS];
extern struct ss_fault_slot *ss_fault_cur; /* the slot in force (a pointer: the hold's one load) */
extern unsigned ss_fault_in_force_n;       /* rules in force: 0 and no slot is taken */
/* Per send-family call (SS_CALL_SEND .. SS_CALL_SENDMMSG): the id of the
 * plan in force (high 32 bits) and the groups that name the call (low 32
 * bits); 0 when no plan is in force (no verdict has an id of 0 but a fresh
 * entry's, which then answers "no group" too), SS_FAULT_QUICK_NONE when one
 * of its groups past the verdicts' 32 names the call. With a descriptor's
 * verdict (path.h) it answers "no group can match this call" without
 * holding the plan: the verdict's id equals this id and their groups do
 * not meet. Written with the slot in force (fault_store.c). */
#define SS_FAULT_QUICK_NONE UINT64_MAX /* no plan has the id 0xffffffff */
extern uint64_t ss_fault_quick[4];
/* The same with only the call's groups that test peer= or port= (an
 * address the call names decides them), written with ss_fault_quick. */
extern uint64_t ss_fault_named[4];

/* The rules in force, whoever gave them (the environment,
 * sendshim_set_faults, the control file), held for reading in *slot until
 * ss_faults_leave; NULL (nothing held) when none is. One way for all: the
 * reader announces itself in the slot in force and checks it still is (a
 * writer frees a set only once no reader is in its slot). The announce and
 * the check are sequentially consistent. Lock-free, async-signal-safe. */
static inline const struct ss_fault_plan *ss_faults_hold_slot(struct ss_fault_slot **slot);
static inline const struct ss_fault_plan *ss_faults_hold(struct ss_fault_slot **slot)
{
    if (!__atomic_load_n(&ss_fault_in_force_n, __ATOMIC_ACQUIRE))
        return 0; /* the common case: no slot is touched */
    return ss_faults_hold_slot(slot);
}
/* The same past the "no rules" early exit, for the descriptor step, which
 * comes here only when ss_fault_quick said rules are in force (a set of no
 * rules published since holds a NULL plan: the same answer). */
static inline const struct ss_fault_plan *ss_faults_hold_slot(struct ss_fault_slot **slot)
{
    struct ss_fault_slot *s;
    for (;;) {
        s = __atomic_load_n(&ss_fault_cur, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&s->readers, 1, __ATOMIC_SEQ_CST);
        if (__builtin_expect(__atomic_load_n(&ss_fault_cur, __ATOMIC_SEQ_CST) == s, 1))
            break;
        __atomic_sub_fetch(&s->readers, 1, __ATOMIC_SEQ_CST);
    }
    const struct ss_fault_plan *p = __atomic_load_n(&s->plan, __ATOMIC_ACQUIRE);
    if (!p)
        __atomic_sub_fetch(&s->readers, 1, __ATOMIC_RELEASE);
    *slot = s;
    return p;
}
static inline void ss_faults_leave(struct ss_fault_slot *slot)
{
    __atomic_sub_fetch(&slot->readers, 1, __ATOMIC_RELEASE);
}

/* SENDSHIM_STATS: one line per rule in force, "stats: rule 1 (TEXT)
 * matched=N fired=M". */
void ss_faults_stats_report(void);

/* close and shutdown of a socket (bit: SS_CALL_CLOSE_BIT or
 * SS_CALL_SHUTDOWN_BIT): a rule that fires delays the call; its line is
 * logged by ss_faults_teardown_done with the call's result. */
struct ss_teardown {
    int rule; /* -1: no rule fired */
    uint64_t delay_ns;
    char text[SS_RULE_TEXT_MAX];
};
void ss_faults_teardown(unsigned bit, int fd, struct ss_teardown *t);
void ss_faults_teardown_done(unsigned bit, int fd, const struct ss_teardown *t, int ret, int err);

/* The "seed N (...)" line. */
void ss_faults_log_seed(void);

#pragma GCC visibility pop

#endif
