/* state.h - the process-wide configuration, set once by the constructor. */
#ifndef SENDSHIM_STATE_H
#define SENDSHIM_STATE_H

#include "config.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

extern struct ss_config ss_cfg;

#pragma GCC visibility pop

#endif
