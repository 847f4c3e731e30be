/* api.c - the runtime API of shim/sendshim.h. */
#include <errno.h>

#include "../sendshim.h"
#include "export.h"

SS_EXPORT int sendshim_active(void)
{
    return 1;
}
