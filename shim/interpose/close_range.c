/* close_range.c - close_range(2) (glibc 2.34+): the descriptors it closes are
 * forgotten, so a number the program reuses (open, pipe, a received socket)
 * never keeps an old socket's state. With CLOSE_RANGE_CLOEXEC it only marks
 * them close-on-exec: nothing is forgotten. CLOSE_RANGE_UNSHARE closes them
 * in the caller's own copy of the table, which is the process's unless a
 * vfork child or a thread made by clone without CLONE_FILES calls it (README
 * Limits: as close in a vfork child). */
#include <unistd.h>

#include "export.h"
#include "fdtable.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1u << 2) /* linux/close_range.h, Linux 5.11 */
#endif

/* musl and glibc before 2.34 do not declare it. */
int close_range(unsigned int first, unsigned int last, int flags);

SS_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
    int closes = !(flags & CLOSE_RANGE_CLOEXEC);
    int r = SS_REAL(close_range)(first, last, flags);
    /* After, and only when it worked: a failed close_range (EINVAL for
     * first > last or unknown flags, ENOMEM for UNSHARE) closed nothing. */
    if (r == 0 && closes)
        ss_fd_closed_range(first, last);
    return r;
}
