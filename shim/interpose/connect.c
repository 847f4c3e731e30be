/* connect.c - connect(2): the socket's peer may change (a TCP connect, a UDP
 * socket connected again or disconnected with AF_UNSPEC), so the rules'
 * verdict on it, which peer= and port= conditions decide, is made again on
 * its next send (path.h). Asked of nobody: the next send that needs the peer
 * asks the kernel once (getpeername). */
#include <sys/socket.h>

#include "export.h"
#include "fdtable.h"

SS_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    int r = SS_REAL(connect)(fd, addr, addrlen);
    /* Whatever the result: a failed or pending connect (EINPROGRESS) may
     * also leave the socket with another peer than before. The table is
     * touched only for a descriptor it has an entry for. */
    if (SS_ACTIVE())
        ss_fd_connected(fd); /* no system call: errno stays connect's */
    return r;
}
