/* state.h - the process-wide configuration, set once by the constructor. */
#ifndef SENDSHIM_STATE_H
#define SENDSHIM_STATE_H

#include "config.h"

extern struct ss_config ss_cfg;

#endif
