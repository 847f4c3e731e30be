/* stages.h - the pipeline's stages. Each takes the request, may rewrite it,
 * and returns 0 to go on or an errno value to fail the call with. */
#ifndef SENDSHIM_STAGES_H
#define SENDSHIM_STAGES_H

#include <sys/types.h>

#include "faults.h"
#include "request.h"

/* Prepare the stages' tables once the configuration is known (constructor). */
void ss_stages_init(void);

/* Bring msghdr and control messages into the shape Linux expects (SPEC 7). */
int ss_stage_normalize(struct ss_request *rq);
/* After the call: copy sendmmsg's msg_len values back into the program's
 * array and release what the stage mapped. */
void ss_stage_normalize_done(struct ss_request *rq, ssize_t ret);

/* Give flags their portable meaning (SPEC 5, 6). */
int ss_stage_flags(struct ss_request *rq);

/* Decide and apply fault injection (SPEC 8), after the flags stage. Returns
 * SS_FAULT_FORWARD to forward the (possibly rewritten: short=, batch=)
 * request, else the call's result (-1 with errno for error=, the full length
 * for drop). When f->fired, pass the result to ss_stage_faults_done, which
 * logs the fault and returns the result to give (errno kept). */
ssize_t ss_stage_faults(struct ss_request *rq, struct ss_fault *f);
ssize_t ss_stage_faults_done(struct ss_request *rq, struct ss_fault *f, ssize_t ret);

/* What must happen after a successful call (MSG_EOF's shutdown). */
void ss_stage_after_success(struct ss_request *rq, ssize_t ret);

#endif
