/* sendfile.c - sendfile(2) and sendfile64: to a socket under the SIGPIPE
 * policy, the call runs with SIGPIPE blocked in this thread and a SIGPIPE it
 * raised is consumed (sendfile has no MSG_NOSIGNAL); trace and stats see it
 * (transfer.h). */
/* export.h (real.h) first: musl's <sys/sendfile.h> defines sendfile64 as a
 * macro, which must not rename ss_real's member. */
#include "export.h"
#include "transfer.h"

#include <sys/sendfile.h>

SS_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
    unsigned needs;
    if (SS_LIKELY(!SS_ACTIVE()) || !(needs = ss_transfer_needs(out_fd)))
        return SS_REAL(sendfile)(out_fd, in_fd, offset, count);
    struct ss_transfer t;
    ss_transfer_begin(&t, needs, SS_CALL_SENDFILE, out_fd, in_fd, count, 0);
    return ss_transfer_end(&t, SS_REAL(sendfile)(out_fd, in_fd, offset, count));
}

/* glibc exports sendfile64 too (the same call on 64-bit systems; the
 * 64-bit-offset one on 32-bit systems). The real function takes an off64_t
 * pointer; ss_real's slot is typed with off_t, the same type on 64-bit. */
#ifdef sendfile64
/* musl: sendfile64 is a macro for sendfile. We still define the symbol, for
 * programs linked against a C library that exports it. */
#undef sendfile64
ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count);
#endif
SS_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
    unsigned needs;
    if (SS_LIKELY(!SS_ACTIVE()) || !(needs = ss_transfer_needs(out_fd)))
        return SS_REAL(sendfile64)(out_fd, in_fd, (off_t *)offset, count);
    struct ss_transfer t;
    ss_transfer_begin(&t, needs, SS_CALL_SENDFILE, out_fd, in_fd, count, 0);
    return ss_transfer_end(&t, SS_REAL(sendfile64)(out_fd, in_fd, (off_t *)offset, count));
}
