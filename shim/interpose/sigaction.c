/* sigaction.c - sigaction(2) and glibc's exported __sigaction: SIGPIPE's
 * disposition is followed (sigdisp.h); a NULL act only reads it. A
 * sanitizer runtime calls it before it is initialized: uninstrumented
 * (real.h). */
#include <signal.h>

#include "export.h"
#include "sigdisp.h"

SS_EXPORT SS_UNSANITIZED int sigaction(int sig, const struct sigaction *restrict act,
                                       struct sigaction *restrict old)
{
    return ss_sigaction_tracked(sig, act, old);
}

/* glibc exports __sigaction too (the same function). */
SS_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
SS_UNSANITIZED int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return ss_sigaction_tracked(sig, act, old);
}
