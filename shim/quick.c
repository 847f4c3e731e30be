/* quick.c - what the quick lane (quick.h) knows of the configuration. */
#include "quick.h"

#include "flags.h"
#include "state.h"

struct ss_quick_config ss_quick_cfg;

#define FLAG_BITS 32 /* bits of the flags word */

int ss_quick_flags_for(enum ss_style style, enum ss_unknown_mode mode)
{
    /* Translation works bit by bit (flags.c's per-bit tables), so a word of
     * bits that each stay as they are stays as it is. */
    unsigned same = 0;
    for (unsigned b = 0; b < FLAG_BITS; b++) {
        int bit = (int)(1u << b), out;
        if (ss_flags_translate(style, mode, bit, &out) == 0 && out == bit &&
            !(out & (SS_MSG_EOF | MSG_CONFIRM)))
            same |= 1u << b;
    }
    return (int)same;
}

void ss_quick_init(void)
{
    ss_quick_cfg.flags_refused = ~ss_quick_flags_for(ss_cfg.style, ss_cfg.unknown);
    ss_quick_cfg.nosignal = ss_cfg.nosigpipe ? MSG_NOSIGNAL : 0;
}

enum ss_lane_kind ss_quick_fire(const struct ss_fault_plan *p, enum ss_call call, int fd, unsigned vlen,
                                uint64_t st, struct ss_lane *l)
{
    l->fd.st = st;
    ss_fault_facts(call, fd, vlen, &l->fd, p->needs[call], &l->call);
    l->plan = p;
    return SS_LANE_FIRE;
}

enum ss_lane_kind ss_quick_count_narrow(const struct ss_fault_plan *p, enum ss_call call, int fd,
                                        unsigned vlen, uint64_t st, uint64_t m, struct ss_lane *l)
{
    l->fd.st = st;
    ss_fault_facts(call, fd, vlen, &l->fd, p->needs[call], &l->call);
    m = ss_faults_narrow(p, &l->call, m);
    if (ss_faults_count_groups(p, m, &l->counts)) {
        l->plan = p;
        return SS_LANE_FIRE;
    }
    return SS_LANE_QUICK;
}
