/* splice.c - splice(2): into a socket under the SIGPIPE policy, as sendfile.
 * A splice into a pipe keeps its SIGPIPE. */
#include <fcntl.h>

#include "export.h"
#include "sigpipe.h"

SS_EXPORT ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len,
                         unsigned int flags)
{
    if (SS_LIKELY(!SS_ACTIVE()) || !ss_sigpipe_suppressed(fd_out))
        return SS_REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags);
    struct ss_sigpipe_guard g;
    ss_sigpipe_block(&g);
    ssize_t r = SS_REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags);
    ss_sigpipe_restore(&g, fd_out);
    return r;
}
