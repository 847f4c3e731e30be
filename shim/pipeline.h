/* pipeline.h - the one path every configured send-family call takes. */
#ifndef SENDSHIM_PIPELINE_H
#define SENDSHIM_PIPELINE_H

#include <sys/types.h>

#include "request.h"

/* Nonzero when anything is configured; zero means every wrapper passes
 * straight through to libc (the cost of the library is this one load). */
extern int ss_active;

/* Flag bits that need the pipeline even when nothing is configured:
 * MSG_EOF (0x200, = MSG_FIN) and MSG_CONFIRM have portable meanings we give
 * them (SPEC section 5). */
#define SS_FLAGS_NEED_PIPELINE (0x200 | MSG_CONFIRM)

/* Run the request: returns what the call returns, errno set as the call would. */
ssize_t ss_process(struct ss_request *rq);

#endif
