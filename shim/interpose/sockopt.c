/* sockopt.c - setsockopt/getsockopt: the emulated SO_NOSIGPIPE.
 *
 * Always at Linux's SOL_SOCKET with shim/sendshim.h's 0x0800 (FreeBSD's
 * value; Linux has no SOL_SOCKET option with that number). Under a BSD
 * style (SENDSHIM_FLAGS), also that system's own SO_NOSIGPIPE, at its
 * SOL_SOCKET 0xffff (code compiled with BSD numbers) and at Linux's: FreeBSD
 * and NetBSD 0x0800, macOS 0x1022 (sys/socket.h of each; XNU
 * bsd/sys/socket.h). OpenBSD has no SO_NOSIGPIPE (its 0x0800 is
 * SO_TIMESTAMP), so nothing more under that style. Linux has no option
 * 0x1022 at SOL_SOCKET and no level 0xffff. Every other option, any other
 * at level 0xffff included, goes straight to libc: the kernel answers. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "../sendshim.h"
#include "export.h"
#include "fdtable.h"
#include "norm_internal.h" /* SS_BSD_SOL_SOCKET */
#include "state.h"

#define BSD_SO_NOSIGPIPE   0x0800 /* FreeBSD, NetBSD */
#define MACOS_SO_NOSIGPIPE 0x1022

/* The style's own SO_NOSIGPIPE, or 0 when it has none beyond the header's. */
static int style_nosigpipe(void)
{
    switch (ss_cfg.style) {
    case SS_STYLE_FREEBSD:
    case SS_STYLE_NETBSD:
        return BSD_SO_NOSIGPIPE;
    case SS_STYLE_MACOS:
        return MACOS_SO_NOSIGPIPE;
    default:
        return 0;
    }
}

/* Does (level, optname) name the emulated SO_NOSIGPIPE? */
static inline int is_nosigpipe(int level, int optname)
{
    if (SS_LIKELY(level != SOL_SOCKET && level != SS_BSD_SOL_SOCKET))
        return 0;
    if (level == SOL_SOCKET && optname == SO_NOSIGPIPE)
        return 1;
    int own = style_nosigpipe();
    return own && optname == own;
}

static int set_nosigpipe(int fd, const void *optval, socklen_t optlen)
{
    int type;
    socklen_t len = sizeof type;
    /* The kernel judges the descriptor, so EBADF and ENOTSOCK are exactly
     * what a real option would give. */
    if (SS_REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &len))
        return -1;
    /* sock_setsockopt(): an int option wants at least sizeof(int) bytes
     * (a negative int length is EINVAL too); FreeBSD's sooptcopyin agrees. */
    if ((int)optlen < (int)sizeof(int)) {
        errno = EINVAL;
        return -1;
    }
    if (!optval) {
        errno = EFAULT;
        return -1;
    }
    int on;
    memcpy(&on, optval, sizeof on);
    /* The option belongs to this socket: its entry must describe it (the
     * number may hold another socket's stale state) and hold its identity,
     * so that a later reuse of the number is told apart (fdtable.h). */
    struct ss_fd_ref r;
    ss_fd_ref_init(&r, fd);
    (void)ss_fd_confirm(fd, &r);
    int err = ss_fd_set_nosigpipe(fd, on != 0);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

static int get_nosigpipe(int fd, void *optval, socklen_t *optlen)
{
    /* Ask the kernel for SO_TYPE into the caller's buffers: it validates the
     * descriptor (EBADF, ENOTSOCK), the pointers (EFAULT) and the length
     * (EINVAL when negative) exactly as for any int option, stores
     * min(len, sizeof(int)) in *optlen and that many bytes in optval. We then
     * overwrite those bytes with our value. */
    if (SS_REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, optval, optlen))
        return -1;
    /* 1 when set, like Linux's boolean options (FreeBSD would say 0x800),
     * and only if the entry still describes this socket. */
    struct ss_fd_ref r;
    ss_fd_ref_init(&r, fd);
    if (r.st & SS_FD_NOSIGPIPE)
        (void)ss_fd_confirm(fd, &r);
    int v = (r.st & SS_FD_NOSIGPIPE) != 0;
    socklen_t n = *optlen < sizeof v ? *optlen : (socklen_t)sizeof v;
    if (n)
        memcpy(optval, &v, n);
    return 0;
}

SS_EXPORT int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
    if (SS_LIKELY(!is_nosigpipe(level, optname)))
        return SS_REAL(setsockopt)(fd, level, optname, optval, optlen);
    return set_nosigpipe(fd, optval, optlen);
}

SS_EXPORT int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)
{
    if (SS_LIKELY(!is_nosigpipe(level, optname)))
        return SS_REAL(getsockopt)(fd, level, optname, optval, optlen);
    return get_nosigpipe(fd, optval, optlen);
}
