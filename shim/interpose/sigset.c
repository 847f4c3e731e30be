/* sigset.c - sigset(3) (System V): a disposition, or SIG_HOLD, which blocks
 * the signal and leaves its disposition as it is. */
#include <signal.h>

#include "export.h"
#include "sigdisp.h"

SS_EXPORT SS_UNSANITIZED ss_handler_t sigset(int sig, ss_handler_t disp)
{
    if (disp == SIG_HOLD)
        return SS_REAL(sigset)(sig, disp);
    return ss_signal_tracked(sig, disp, SS_REAL(sigset));
}
