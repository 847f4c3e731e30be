/* quick.c - what the quick lane (quick.h) knows of the configuration. */
#include "quick.h"

#include "flags.h"
#include "pipeline.h"
#include "state.h"

struct ss_quick_config ss_quick_cfg SS_HOT;

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
