/* sendmmsg.c - sendmmsg(2). glibc and musl differ in the type of flags. */
#include <sys/socket.h>

#include "export.h"
#include "normalize.h"

/* Whether any message needs the pipeline even when nothing is configured
 * (see sendmsg.c). vlen is capped the way the kernel caps it (UIO_MAXIOV), so
 * a huge vlen costs no more. */
static int needs_pipeline(const struct mmsghdr *vec, unsigned int vlen)
{
    if (!vec)
        return 0;
    if (vlen > SS_MMSG_VLEN_MAX)
        vlen = SS_MMSG_VLEN_MAX;
    for (unsigned int i = 0; i < vlen; i++)
        if (vec[i].msg_hdr.msg_controllen || vec[i].msg_hdr.msg_iovlen > SS_IOV_MAX)
            return 1;
    return 0;
}

static __attribute__((noinline)) int sendmmsg_slow(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
    struct ss_norm_scratch scratch;
    struct ss_request rq = {
        .call = SS_CALL_SENDMMSG, .fd = fd, .flags_in = flags, .vec = vec, .vlen = vlen, .norm = &scratch};
    return (int)ss_process(&rq);
}

SS_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, ss_mmsg_flags_t flags)
{
    if (SS_LIKELY(!ss_active && !((int)flags & SS_FLAGS_NEED_PIPELINE) && !needs_pipeline(vec, vlen)))
        return SS_REAL(sendmmsg)(fd, vec, vlen, flags);
    return sendmmsg_slow(fd, vec, vlen, (int)flags);
}
