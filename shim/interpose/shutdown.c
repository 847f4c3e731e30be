/* shutdown.c - shutdown(2) of a socket: a shutdown rule's delay= (slow
 * close: the peer's EOF comes that much later). Otherwise untouched. */
#include <errno.h>
#include <sys/socket.h>

#include "export.h"
#include "faults.h"

SS_EXPORT int shutdown(int fd, int how)
{
    struct ss_teardown t;
    ss_faults_teardown(SS_CALL_SHUTDOWN_BIT, fd, &t);
    int r = SS_REAL(shutdown)(fd, how);
    int err = errno;
    ss_faults_teardown_done(SS_CALL_SHUTDOWN_BIT, fd, &t, r, err);
    errno = err;
    return r;
}
