/* splice.c - splice(2): into a socket, as sendfile (transfer.h). A splice
 * into a pipe or file keeps its SIGPIPE and is not traced. */
#include <fcntl.h>

#include "export.h"
#include "transfer.h"

SS_EXPORT ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len,
                         unsigned int flags)
{
    unsigned needs;
    if (SS_LIKELY(!SS_ACTIVE()) || !(needs = ss_transfer_needs(fd_out)))
        return SS_REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags);
    struct ss_transfer t;
    ss_transfer_begin(&t, needs, SS_CALL_SPLICE, fd_out, fd_in, len, (int)flags);
    return ss_transfer_end(&t, SS_REAL(splice)(fd_in, off_in, fd_out, off_out, len, flags));
}
