/* stage_flags.c - flag semantics (SPEC sections 5 and 6). */
#include "stages.h"

void ss_stages_init(void)
{
}

int ss_stage_flags(struct ss_request *rq)
{
    (void)rq;
    return 0;
}

void ss_stage_after_success(struct ss_request *rq, ssize_t ret)
{
    (void)rq;
    (void)ret;
}
