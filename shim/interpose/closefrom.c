/* closefrom.c - closefrom(3) (glibc 2.34+): every descriptor from lowfd up is
 * closed and forgotten. glibc's closefrom calls its internal close_range,
 * which no preload sees, so it is interposed on its own. */
#include <unistd.h>

#include "export.h"
#include "fdtable.h"

/* musl and glibc before 2.34 do not declare it. */
void closefrom(int lowfd);

SS_EXPORT void closefrom(int lowfd)
{
    /* A negative lowfd counts as 0 (glibc's unistd.h). */
    unsigned first = lowfd < 0 ? 0 : (unsigned)lowfd;
    SS_REAL(closefrom)(lowfd);
    /* closefrom cannot fail (it returns nothing; glibc aborts if it cannot
     * close everything). */
    ss_fd_closed_range(first, ~0u);
}
