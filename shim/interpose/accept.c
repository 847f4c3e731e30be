/* accept.c - accept and accept4: the new socket starts with fresh state and
 * inherits SO_NOSIGPIPE from the listening socket, as on BSD. */
#include <sys/socket.h>

#include "export.h"
#include "fdtable.h"

SS_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    int r = SS_REAL(accept)(fd, addr, addrlen);
    if (r >= 0)
        ss_fd_accepted(fd, r);
    return r;
}

SS_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
    int r = SS_REAL(accept4)(fd, addr, addrlen, flags);
    if (r >= 0)
        ss_fd_accepted(fd, r);
    return r;
}
