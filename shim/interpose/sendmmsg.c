/* sendmmsg.c - sendmmsg(2). glibc and musl differ in the type of flags. */
#include <sys/socket.h>

#include "export.h"

/* Whether any message carries control data (see sendmsg.c). vlen is capped
 * the way the kernel caps it (UIO_MAXIOV), so a huge vlen costs no more. */
static int any_control(const struct mmsghdr *vec, unsigned int vlen)
{
    if (!vec)
        return 0;
    if (vlen > 1024)
        vlen = 1024;
    for (unsigned int i = 0; i < vlen; i++)
        if (vec[i].msg_hdr.msg_controllen)
            return 1;
    return 0;
}

SS_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, ss_mmsg_flags_t flags)
{
    if (SS_LIKELY(!ss_active && !((int)flags & SS_FLAGS_NEED_PIPELINE) && !any_control(vec, vlen)))
        return SS_REAL(sendmmsg)(fd, vec, vlen, flags);
    struct ss_request rq = {
        .call = SS_CALL_SENDMMSG, .fd = fd, .flags_in = (int)flags, .vec = vec, .vlen = vlen};
    return (int)ss_process(&rq);
}
