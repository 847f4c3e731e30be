/* signal.c - signal(2) and glibc's alias ssignal: SIGPIPE's disposition is
 * followed (sigdisp.h); the call itself is libc's. */
#include <signal.h>

#include "export.h"
#include "sigdisp.h"

SS_EXPORT SS_UNSANITIZED ss_handler_t signal(int sig, ss_handler_t handler)
{
    return ss_signal_tracked(sig, handler, SS_REAL(signal));
}

/* glibc: ssignal is signal under another name (the same function). */
SS_EXPORT ss_handler_t ssignal(int sig, ss_handler_t handler);
SS_UNSANITIZED ss_handler_t ssignal(int sig, ss_handler_t handler)
{
    return signal(sig, handler);
}
