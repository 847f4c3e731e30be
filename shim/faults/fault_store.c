/* fault_store.c - the rule sets in force (SPEC section 8): their slots and
 * readers, their replacement at run time (sendshim_set_faults, the control
 * file), the fork handlers, and their statistics. The fault stage itself is
 * fault_actions.c; the facts it gathers, fault_facts.c; its log line,
 * fault_log.c (fault_internal.h joins them).
 *
 * Rule sets and readers. The rules in force can be replaced at any time by
 * sendshim_set_faults() while other threads (and signal handlers) send, and
 * the send path may take no lock. The sets live in a few slots; `ss_fault_cur` points to
 * the slot in force. A reader (one call's decision) announces itself in the
 * slot's reader count, then checks that the slot is still the current one
 * (if not, it backs off and retries), reads, and leaves. A writer (serialized
 * by a lock that is never on the send path) builds the new set in a slot that
 * is neither current nor read, publishes it by storing `ss_fault_cur`, and frees an
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
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "control.h"
#include "control_layout.h"
#include "fault_internal.h"
#include "faults.h"
#include "log.h"
#include "path.h"
#include "pipeline.h"
#include "stages.h"
#include "state.h"

#define SS_SET_WAIT_TRIES 1000000 /* sched_yield()s a writer waits for a free slot */

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

struct ss_fault_slot ss_fault_slots[SS_FAULT_SLOTS] = {[0] = {.initial = 1}};
struct ss_fault_slot *ss_fault_cur = &ss_fault_slots[0]; /* the slot in force */
static struct ss_rule_state initial_st[SS_MAX_RULES];    /* counters of ss_cfg.rules */
static struct ss_fault_plan initial_plan;                /* of ss_cfg.rules, made by the constructor */
static int initial_ready;                                /* initial_plan is made */
/* Once a set was given at run time, ss_cfg.rules no longer counts. */
static int replaced;
/* The set in force, as the send path's first look sees it: its number of
 * rules (0: none, and the path takes no slot), the calls its rules name and
 * whether one has after= (policy.c compiles these into the front words). */
unsigned ss_fault_in_force_n SS_HOT;
uint64_t ss_fault_quick[4] SS_HOT; /* 0: no rules */
uint64_t ss_fault_named[4] SS_HOT; /* ss_fault_quick with the groups that test peer= or port= */
_Static_assert(SS_CALL_SEND == 0 && SS_CALL_SENDTO == 1 && SS_CALL_SENDMSG == 2 && SS_CALL_SENDMMSG == 3,
               "ss_fault_quick is indexed by the send-family calls");
static unsigned in_force_calls;
static int in_force_count_bytes;
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

/* The rule set in force is now `rules[0..n)`: what the front words are
 * compiled from. The writer's, or the constructor's before any writer. */
static void set_in_force(const struct ss_rule *rules, unsigned n, const struct ss_fault_plan *p)
{
    unsigned calls = 0;
    for (unsigned i = 0; i < n; i++)
        calls |= rules[i].calls;
    __atomic_store_n(&in_force_calls, calls, __ATOMIC_RELAXED);
    __atomic_store_n(&in_force_count_bytes, p ? p->count_bytes : 0, __ATOMIC_RELAXED);
    for (unsigned c = 0; c < 4; c++) {
        uint64_t q = 0;
        if (n && p)
            q = (p->calls[c] >> SS_VERDICT_GROUPS) ? SS_FAULT_QUICK_NONE
                                                   : (uint64_t)p->id << 32 | p->calls[c];
        __atomic_store_n(&ss_fault_named[c],
                         q == SS_FAULT_QUICK_NONE || !q ? q : q & (p->named | ~0xffffffffull),
                         __ATOMIC_RELEASE);
        __atomic_store_n(&ss_fault_quick[c], q, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&ss_fault_in_force_n, n, __ATOMIC_RELEASE);
}

void ss_stage_faults_init(void)
{
    ss_faults_plan(&initial_plan, ss_cfg.rules.rule, initial_st, ss_cfg.rules.n, set_seed(0), 1);
    initial_plan.id = 1; /* the sets given at run time are 2, 3, ... */
    __atomic_store_n(&initial_ready, 1, __ATOMIC_RELEASE);
    if (ss_fault_slots[0].initial)
        __atomic_store_n(&ss_fault_slots[0].plan, ss_cfg.rules.n ? &initial_plan : NULL, __ATOMIC_RELEASE);
    if (!__atomic_load_n(&replaced, __ATOMIC_ACQUIRE))
        set_in_force(ss_cfg.rules.rule, ss_cfg.rules.n, &initial_plan);
}

/* ---- readers ----------------------------------------------------------- */

/* ss_faults_hold and ss_faults_leave are inline (faults.h). */

unsigned ss_faults_calls(void)
{
    return __atomic_load_n(&ss_fault_in_force_n, __ATOMIC_ACQUIRE)
               ? __atomic_load_n(&in_force_calls, __ATOMIC_RELAXED)
               : 0;
}

int ss_faults_count_bytes(void)
{
    return __atomic_load_n(&ss_fault_in_force_n, __ATOMIC_ACQUIRE) &&
           __atomic_load_n(&in_force_count_bytes, __ATOMIC_RELAXED);
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
    /* The id stays: the child's descriptors are the parent's, with the same
     * peers, so their verdicts (path.h) stay true. */
    ss_faults_plan_seed(p, set_seed(number));
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
        __atomic_store_n(&ss_fault_slots[i].readers, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&proc_stream, ss_prng_fork_stream(proc_stream, fork_index), __ATOMIC_RELAXED);
    __atomic_store_n(&forks, 0, __ATOMIC_RELAXED);
    ss_path_named_reset();
    if (__atomic_load_n(&initial_ready, __ATOMIC_ACQUIRE))
        restart_plan(&initial_plan, 0);
    /* A set from the control file counted in the parent's slot of the file:
     * the child's own slot takes over (or its own memory, when it has none),
     * before restarting zeroes the counters. */
    ss_control_atfork_child();
    unsigned current = (unsigned)(__atomic_load_n(&ss_fault_cur, __ATOMIC_RELAXED) - ss_fault_slots);
    for (unsigned i = 0; i < SS_FAULT_SLOTS; i++) {
        struct ss_rtset *set = __atomic_load_n(&ss_fault_slots[i].set, __ATOMIC_ACQUIRE);
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
    struct ss_rtset *set = ss_fault_slots[i].set;
    ss_fault_slots[i].initial = 0;
    __atomic_store_n(&ss_fault_slots[i].plan, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&ss_fault_slots[i].set, NULL, __ATOMIC_RELEASE);
    if (set)
        munmap(set, set->map_len);
}

/* A slot that is not current and has no reader, or -1 after waiting. */
static int free_slot_index(long max_tries)
{
    unsigned current = (unsigned)(__atomic_load_n(&ss_fault_cur, __ATOMIC_SEQ_CST) - ss_fault_slots);
    for (long tries = 0; tries < max_tries; tries++) {
        for (unsigned i = 0; i < SS_FAULT_SLOTS; i++)
            if (i != current && !__atomic_load_n(&ss_fault_slots[i].readers, __ATOMIC_SEQ_CST))
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
    const struct ss_fault_plan *p = __atomic_load_n(&ss_fault_slots[slot].plan, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; p && i < p->n; i++)
        report_rule(p, i, suffix);
}

void ss_faults_stats_report(void)
{
    struct ss_fault_slot *slot;
    if (ss_faults_hold(&slot)) {
        report_set((unsigned)(slot - ss_fault_slots), "");
        ss_faults_leave(slot);
    }
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
    /* 1 is the environment's; 0 (no verdict) and 0xffffffff
     * (SS_FAULT_QUICK_NONE) are never a plan's. */
    set->plan.id = (uint32_t)(set->number % 0xfffffffdu) + 2;
    if (st)
        ss_control_rules_counted(j, gen, &set->plan);
    else
        ss_control_rules_counted(0, 0, NULL); /* the file's rules are no longer in force */
    unsigned n = set->rs.n;

    __atomic_store_n(&ss_fault_slots[j].set, set, __ATOMIC_RELEASE);
    __atomic_store_n(&ss_fault_slots[j].plan, n ? &set->plan : NULL, __ATOMIC_RELEASE);
    unsigned old = (unsigned)(__atomic_load_n(&ss_fault_cur, __ATOMIC_RELAXED) - ss_fault_slots);
    __atomic_store_n(&replaced, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&ss_fault_cur, &ss_fault_slots[j], __ATOMIC_SEQ_CST);
    set_in_force(set->rs.rule, n, &set->plan);
    /* The front words follow the rules in force: their calls take the
     * descriptor step from now on, and a set of no rules lets them leave
     * early again. */
    if (n)
        ss_activate(SS_ACTIVE_RULES);
    else
        ss_policy_refresh();

    if (ss_cfg.stats)
        report_set(old, " (replaced)");
    if (set->rs.uses_random && !ss_cfg.rules.uses_random && !seed_logged) {
        seed_logged = 1;
        ss_faults_log_seed();
    }
    /* Free every old set nobody reads any more; one still read is freed by a
     * later call. */
    for (unsigned i = 0; i < SS_FAULT_SLOTS; i++)
        if (i != (unsigned)j && (ss_fault_slots[i].set || ss_fault_slots[i].initial) &&
            !__atomic_load_n(&ss_fault_slots[i].readers, __ATOMIC_SEQ_CST))
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
