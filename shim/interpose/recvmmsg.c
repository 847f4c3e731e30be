/* recvmmsg.c - recvmmsg(2): as recvmsg, for each message received. */
#include <sys/socket.h>

#include "export.h"
#include "fdtable.h"

SS_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, ss_mmsg_flags_t flags,
                       struct timespec *timeout)
{
    int r = SS_REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
    for (int i = 0; i < r; i++)
        if (vec[i].msg_hdr.msg_controllen)
            ss_fd_received_msg(&vec[i].msg_hdr);
    return r;
}
