/* sendmsg.c - sendmsg(2). A message with control data always takes the
 * pipeline: the public header's SCM_CREDS and IP_SENDSRCADDR need translating
 * even when nothing is configured. A NULL msg goes to the kernel (EFAULT). */
#include <sys/socket.h>

#include "export.h"

SS_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (SS_LIKELY(!ss_active && !(flags & SS_FLAGS_NEED_PIPELINE) && (!msg || !msg->msg_controllen)))
        return SS_REAL(sendmsg)(fd, msg, flags);
    struct ss_request rq = {.call = SS_CALL_SENDMSG, .fd = fd, .flags_in = flags, .msg = msg};
    return ss_process(&rq);
}
