/* recvmsg.c - recvmsg(2): descriptors that arrive in SCM_RIGHTS are new open
 * files at their numbers, so what the table knew about those numbers (a
 * socket closed behind libc's back, its SO_NOSIGPIPE, its bytes) is
 * forgotten. The kernel sets msg_controllen to the control data it wrote, so
 * a call that brought none costs one test. */
#include <sys/socket.h>

#include "export.h"
#include "fdtable.h"

SS_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    ssize_t r = SS_REAL(recvmsg)(fd, msg, flags);
    /* Only a call that worked wrote msg (a bad pointer fails with EFAULT). */
    if (r >= 0 && msg->msg_controllen)
        ss_fd_received_msg(msg);
    return r;
}
