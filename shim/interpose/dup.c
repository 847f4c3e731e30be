/* dup.c - dup, dup2, dup3: the new descriptor shares the socket's state
 * (kind, SO_NOSIGPIPE), as BSD's per-socket options do. */
#include <fcntl.h>
#include <unistd.h>

#include "export.h"
#include "fdtable.h"

SS_EXPORT int dup(int oldfd)
{
    int r = SS_REAL(dup)(oldfd);
    if (r >= 0)
        ss_fd_duplicated(oldfd, r);
    return r;
}

SS_EXPORT int dup2(int oldfd, int newfd)
{
    int r = SS_REAL(dup2)(oldfd, newfd);
    /* dup2(fd, fd) changes nothing; otherwise newfd is replaced. */
    if (r >= 0 && oldfd != newfd)
        ss_fd_duplicated(oldfd, r);
    return r;
}

SS_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    int r = SS_REAL(dup3)(oldfd, newfd, flags);
    if (r >= 0)
        ss_fd_duplicated(oldfd, r);
    return r;
}
