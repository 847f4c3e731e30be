/* policy.c - compiling the configuration into the send path's front words
 * (policy.h). */
#include "policy.h"

#include "config.h"
#include "faults.h"
#include "fdtable.h"
#include "flags.h"
#include "normalize.h"
#include "path.h"
#include "state.h"

#define FLAG_BITS 32 /* bits of the flags word */

/* Before the constructor (and with nothing configured): MSG_EOF and
 * MSG_CONFIRM have the portable meanings we give them (SPEC 5) whatever is
 * configured; every other call leaves at once, unchanged. */
#define SS_FRONT_IDLE ((uint64_t)(unsigned)(SS_MSG_EOF | MSG_CONFIRM))

uint64_t ss_front[SS_FRONT_CALLS] SS_HOT = {SS_FRONT_IDLE, SS_FRONT_IDLE, SS_FRONT_IDLE, SS_FRONT_IDLE};
int ss_active SS_HOT;

static unsigned policy_gen; /* compilations begun; a racing one redoes its work */

int ss_policy_same_flags(const struct ss_config *cfg)
{
    /* Translation works bit by bit (flags.c's per-bit tables), so a word of
     * bits that each stay as they are stays as it is. */
    unsigned same = 0;
    for (unsigned b = 0; b < FLAG_BITS; b++) {
        int bit = (int)(1u << b), out;
        if (ss_flags_translate(cfg->style, cfg->unknown, bit, &out) == 0 && out == bit &&
            !(out & (SS_MSG_EOF | MSG_CONFIRM)))
            same |= 1u << b;
    }
    return (int)same;
}

/* The calls that need the descriptor step whatever their flags. */
static unsigned step_calls(int active)
{
    if (!active)
        return 0;
    unsigned calls = ss_faults_calls();
    /* after= counts the bytes every call sends, not only those it names. */
    if (ss_faults_count_bytes() || ss_cfg.count || ss_cfg.trace || (active & SS_ACTIVE_CONTROL) ||
        ((active & SS_ACTIVE_NOSIGPIPE) && !ss_cfg.nosigpipe))
        calls |= SS_CALLS_ALL;
    /* A sendmmsg batch is looked at only once something is configured:
     * finding control data means reading every message (SPEC 7). */
    if (active & SS_ACTIVE_ENV)
        calls |= SS_CALL_BIT(SS_CALL_SENDMMSG);
    return calls;
}

static void compile(uint64_t *front, unsigned *opts)
{
    int active = __atomic_load_n(&ss_active, __ATOMIC_ACQUIRE);
    unsigned step = step_calls(active);
    /* ss_cfg is the environment's (all zero before the constructor: the
     * Linux numbering, nothing added). */
    unsigned slow = ~(unsigned)ss_policy_same_flags(&ss_cfg);
    uint64_t add = (active & SS_ACTIVE_ENV) && ss_cfg.nosigpipe ? MSG_NOSIGNAL : 0;
    *opts = (active && ss_cfg.count ? SS_OPT_STATS : 0) | (active && ss_cfg.trace ? SS_OPT_STAGES : 0) |
            (active && ss_faults_count_bytes() ? SS_OPT_BYTES : 0) |
            (active && ((active & SS_ACTIVE_NOSIGPIPE) || ss_faults_calls()) ? SS_OPT_DESC : 0);
    _Static_assert(SS_FRONT_ADD_MASK >= MSG_NOSIGNAL, "MSG_NOSIGNAL fits the added flags");
    for (unsigned c = 0; c < SS_FRONT_CALLS; c++) {
        /* Every option sends every call to the step (step_calls). */
        uint64_t opt = (step & SS_CALL_BIT(c)) ? (uint64_t)*opts << SS_FRONT_OPT_SHIFT : 0;
        front[c] = add << 32 | slow | opt | ((step & SS_CALL_BIT(c)) ? SS_FRONT_STEP : 0);
    }
}

void ss_policy_refresh(void)
{
    unsigned gen = __atomic_add_fetch(&policy_gen, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        uint64_t front[SS_FRONT_CALLS];
        unsigned opts;
        compile(front, &opts);
        for (unsigned c = 0; c < SS_FRONT_CALLS; c++)
            __atomic_store_n(&ss_front[c], front[c], __ATOMIC_RELEASE);
        /* Another compilation began meanwhile: its inputs may be newer than
         * what this one read, and its words may have been stored before
         * ours. Compile again from the inputs as they are now. */
        unsigned now = __atomic_load_n(&policy_gen, __ATOMIC_SEQ_CST);
        if (now == gen)
            return;
        gen = now;
    }
}

void ss_activate(enum ss_active_reason why)
{
    __atomic_fetch_or(&ss_active, (int)why, __ATOMIC_RELEASE);
    ss_policy_refresh();
}
