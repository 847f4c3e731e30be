/* close.c - close(2): keeps the descriptor table true. */
#include <unistd.h>

#include "export.h"
#include "fdtable.h"

SS_EXPORT int close(int fd)
{
    uint64_t seen = ss_fd_closing(fd);
    int r = SS_REAL(close)(fd);
    /* After, whatever the result: Linux releases the descriptor even when
     * close reports EINTR or EIO. Forgetting it after (not before) means a
     * concurrent probe of the old descriptor cannot leave stale state. */
    ss_fd_closed(fd, seen);
    return r;
}
