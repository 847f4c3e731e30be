/* close.c - close(2): keeps the descriptor table true; a close rule's
 * delay= (slow close: the peer's EOF comes that much later). */
#include <errno.h>
#include <unistd.h>

#include "export.h"
#include "faults.h"
#include "fdtable.h"
#include "netfaults.h"

SS_EXPORT int close(int fd)
{
    struct ss_teardown t;
    ss_faults_teardown(SS_CALL_CLOSE_BIT, fd, &t);
    uint64_t seen = ss_fd_closing(fd);
    ss_net_forget(fd);
    int r = SS_REAL(close)(fd);
    int err = errno;
    /* After, whatever the result: Linux releases the descriptor even when
     * close reports EINTR or EIO. Forgetting it after (not before) means a
     * concurrent probe of the old descriptor cannot leave stale state. */
    ss_fd_closed(fd, seen);
    ss_faults_teardown_done(SS_CALL_CLOSE_BIT, fd, &t, r, err);
    errno = err;
    return r;
}
