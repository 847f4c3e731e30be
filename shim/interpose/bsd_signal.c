/* bsd_signal.c - bsd_signal(3): signal with BSD semantics, which glibc's and
 * musl's signal already has (the same function). */
#include <signal.h>

#include "export.h"
#include "sigdisp.h"

SS_EXPORT ss_handler_t bsd_signal(int sig, ss_handler_t handler);
SS_UNSANITIZED ss_handler_t bsd_signal(int sig, ss_handler_t handler)
{
    return signal(sig, handler);
}
