/* socket.c - socket and socketpair: record the new sockets' kind at once, so
 * a descriptor number reused behind libc's back (closed by a raw syscall,
 * close_range, or libc-internally) never keeps the old descriptor's state,
 * and the kernel need not be asked what they are. Only once the library is
 * active: before that no entry exists that could go stale. */
#include <sys/socket.h>

#include "export.h"
#include "fdtable.h"

typedef int (*socket_fn)(int, int, int);
typedef int (*socketpair_fn)(int, int, int, int[2]);
static socket_fn real_socket;
static socketpair_fn real_socketpair;

/* SOCK_NONBLOCK and SOCK_CLOEXEC ride in the type argument. */
#define SOCK_TYPE_MASK 0xf

SS_EXPORT int socket(int domain, int type, int protocol)
{
    socket_fn fn = __atomic_load_n(&real_socket, __ATOMIC_RELAXED);
    if (!fn)
        fn = (socket_fn)ss_real_resolve((void **)&real_socket, "socket");
    int r = fn(domain, type, protocol);
    /* Nothing configured: no table (and no memory for it) at all. */
    if (r >= 0 && __atomic_load_n(&ss_active, __ATOMIC_RELAXED))
        ss_fd_socket_created(r, domain, type & SOCK_TYPE_MASK);
    return r;
}

SS_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
    socketpair_fn fn = __atomic_load_n(&real_socketpair, __ATOMIC_RELAXED);
    if (!fn)
        fn = (socketpair_fn)ss_real_resolve((void **)&real_socketpair, "socketpair");
    int r = fn(domain, type, protocol, sv);
    if (r == 0 && __atomic_load_n(&ss_active, __ATOMIC_RELAXED)) {
        ss_fd_socket_created(sv[0], domain, type & SOCK_TYPE_MASK);
        ss_fd_socket_created(sv[1], domain, type & SOCK_TYPE_MASK);
    }
    return r;
}
