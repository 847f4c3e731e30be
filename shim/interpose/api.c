/* api.c - the runtime API of shim/sendshim.h. */
#include <errno.h>

#include "../sendshim.h"
#include "export.h"
#include "faults.h"
#include "log.h"

SS_EXPORT int sendshim_active(void)
{
    return 1;
}

/* Replace the fault rules (SPEC 11). A bad rule is logged with the message of
 * SPEC 10, prefixed with this function's name, and changes nothing. */
SS_EXPORT int sendshim_set_faults(const char *rules)
{
    char err[SS_ERR_MAX];
    int rc = ss_faults_replace(rules, err, sizeof err);
    if (!rc)
        return 0;
    char line[SS_LINE_MAX];
    struct ss_buf b;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "sendshim_set_faults ");
    ss_buf_str(&b, err);
    ss_log_end(&b);
    errno = -rc;
    return -1;
}
