/* sysv_signal.c - sysv_signal(3) and __sysv_signal: signal with System V
 * semantics (the handler reset on delivery). glibc's <signal.h> turns
 * signal() into __sysv_signal in strict ISO C or X/Open programs
 * (-std=c11 without _DEFAULT_SOURCE), so both names are followed. */
#include <signal.h>

#include "export.h"
#include "sigdisp.h"

SS_EXPORT ss_handler_t __sysv_signal(int sig, ss_handler_t handler);
SS_UNSANITIZED ss_handler_t __sysv_signal(int sig, ss_handler_t handler)
{
    return ss_signal_tracked(sig, handler, SS_REAL(__sysv_signal));
}

SS_EXPORT ss_handler_t sysv_signal(int sig, ss_handler_t handler);
SS_UNSANITIZED ss_handler_t sysv_signal(int sig, ss_handler_t handler)
{
    return __sysv_signal(sig, handler);
}
