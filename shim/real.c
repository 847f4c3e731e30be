/* real.c - find the real functions behind ours with dlsym(RTLD_NEXT).
 *
 * RTLD_NEXT finds the next definition after this library in the lookup order:
 * libc's when we are preloaded. When the library was dlopen()ed instead, libc
 * was loaded before us and RTLD_NEXT finds nothing, so we fall back to
 * RTLD_DEFAULT, refusing any answer that is our own definition (dladdr tells
 * which object a symbol lives in). No RTLD_DEEPBIND: it breaks sanitizers and
 * other preloads. */
#include "real.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fmt.h"

/* The stubs every slot starts at (see SS_REAL). */
#define SS_LAZY(name, ret, params, args)                                                                     \
    static ret lazy_##name params                                                                            \
    {                                                                                                        \
        return ((__typeof__(ss_real.name))ss_real_resolve((void **)&ss_real.name, #name))args;               \
    }
SS_LAZY(send, ssize_t, (int fd, const void *b, size_t n, int fl), (fd, b, n, fl))
SS_LAZY(sendto, ssize_t, (int fd, const void *b, size_t n, int fl, const struct sockaddr *a, socklen_t al),
        (fd, b, n, fl, a, al))
SS_LAZY(sendmsg, ssize_t, (int fd, const struct msghdr *m, int fl), (fd, m, fl))
SS_LAZY(sendmmsg, int, (int fd, struct mmsghdr *v, unsigned int n, ss_mmsg_flags_t fl), (fd, v, n, fl))
SS_LAZY(write, ssize_t, (int fd, const void *b, size_t n), (fd, b, n))
SS_LAZY(writev, ssize_t, (int fd, const struct iovec *v, int n), (fd, v, n))
SS_LAZY(sendfile, ssize_t, (int o, int i, off_t *off, size_t n), (o, i, off, n))
SS_LAZY(sendfile64, ssize_t, (int o, int i, off_t *off, size_t n), (o, i, off, n))
SS_LAZY(splice, ssize_t, (int i, loff_t *oi, int o, loff_t *oo, size_t n, unsigned int fl),
        (i, oi, o, oo, n, fl))
SS_LAZY(setsockopt, int, (int fd, int l, int o, const void *v, socklen_t n), (fd, l, o, v, n))
SS_LAZY(getsockopt, int, (int fd, int l, int o, void *v, socklen_t *n), (fd, l, o, v, n))
SS_LAZY(close, int, (int fd), (fd))
SS_LAZY(dup, int, (int fd), (fd))
SS_LAZY(dup2, int, (int a, int b), (a, b))
SS_LAZY(dup3, int, (int a, int b, int fl), (a, b, fl))
SS_LAZY(accept, int, (int fd, struct sockaddr *a, socklen_t *al), (fd, a, al))
SS_LAZY(accept4, int, (int fd, struct sockaddr *a, socklen_t *al, int fl), (fd, a, al, fl))
#undef SS_LAZY

struct ss_real ss_real = {
    .send = lazy_send,
    .sendto = lazy_sendto,
    .sendmsg = lazy_sendmsg,
    .sendmmsg = lazy_sendmmsg,
    .write = lazy_write,
    .writev = lazy_writev,
    .sendfile = lazy_sendfile,
    .sendfile64 = lazy_sendfile64,
    .splice = lazy_splice,
    .setsockopt = lazy_setsockopt,
    .getsockopt = lazy_getsockopt,
    .close = lazy_close,
    .dup = lazy_dup,
    .dup2 = lazy_dup2,
    .dup3 = lazy_dup3,
    .fcntl = NULL, /* variadic: see SS_REAL_VARIADIC */
    .accept = lazy_accept,
    .accept4 = lazy_accept4,
};

int ss_is_our_own(void *fn)
{
    Dl_info mine, theirs;
    if (!fn || !dladdr((void *)ss_real_resolve_all, &mine) || !dladdr(fn, &theirs))
        return 0;
    return mine.dli_fbase == theirs.dli_fbase;
}

static void *lookup(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (!fn || ss_is_our_own(fn)) {
        fn = dlsym(RTLD_DEFAULT, name);
        if (ss_is_our_own(fn))
            fn = NULL;
    }
    return fn;
}

static void die_missing(const char *name)
{
    char line[256];
    struct ss_buf b;
    ss_buf_init(&b, line, sizeof line);
    ss_buf_str(&b, "sendshim[");
    ss_buf_i64(&b, getpid());
    ss_buf_str(&b, "]: fatal: cannot find the real '");
    ss_buf_str(&b, name);
    ss_buf_str(&b, "' with dlsym (is the C library loaded?)\n");
    /* A raw system call: `write` would be our own wrapper, and the slot it
     * needs may be the missing one. */
    (void)syscall(SYS_write, 2, line, b.len);
    abort();
}

void *ss_real_resolve(void **slot, const char *name)
{
    void *fn = lookup(name);
    if (!fn)
        die_missing(name);
    /* Several threads may race here; they all store the same value. */
    __atomic_store_n(slot, fn, __ATOMIC_RELAXED);
    return fn;
}

void ss_real_resolve_all(void)
{
    /* A function libc lacks keeps its stub, which dies with a clear message
     * only if the program ever calls it. */
#define TRY(name)                                                                                            \
    do {                                                                                                     \
        void *fn = lookup(#name);                                                                            \
        if (fn)                                                                                              \
            __atomic_store_n((void **)&ss_real.name, fn, __ATOMIC_RELAXED);                                  \
    } while (0)
    TRY(send);
    TRY(sendto);
    TRY(sendmsg);
    TRY(sendmmsg);
    TRY(write);
    TRY(writev);
    TRY(sendfile);
    TRY(sendfile64);
    TRY(splice);
    TRY(setsockopt);
    TRY(getsockopt);
    TRY(close);
    TRY(dup);
    TRY(dup2);
    TRY(dup3);
    TRY(fcntl);
    TRY(accept);
    TRY(accept4);
#undef TRY
}
