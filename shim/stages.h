/* stages.h - the pipeline's stages. Each takes the request, may rewrite it,
 * and returns 0 to go on or an errno value to fail the call with. */
#ifndef SENDSHIM_STAGES_H
#define SENDSHIM_STAGES_H

#include <sys/types.h>

#include "request.h"

/* Prepare the stages' tables once the configuration is known (constructor). */
void ss_stages_init(void);

/* Bring msghdr and control messages into the shape Linux expects (SPEC 7). */
int ss_stage_normalize(struct ss_request *rq);

/* Give flags their portable meaning (SPEC 5, 6). */
int ss_stage_flags(struct ss_request *rq);

/* What must happen after a successful call (MSG_EOF's shutdown). */
void ss_stage_after_success(struct ss_request *rq, ssize_t ret);

#endif
