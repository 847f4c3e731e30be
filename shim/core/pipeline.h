/* pipeline.h - the stages of the one path (path.h has the steps before). */
#ifndef SENDSHIM_PIPELINE_H
#define SENDSHIM_PIPELINE_H

#include <sys/types.h>

#include "policy.h"
#include "request.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* Hand a request to the real function of its kind, as the last stage does
 * (for the fault actions that send by themselves: netfaults.c). */
ssize_t ss_forward(const struct ss_request *rq);

/* Run a write or writev request through the stages: returns what the call
 * returns, errno set as the call would. */
ssize_t ss_process(struct ss_request *rq);

#pragma GCC visibility pop

#endif
