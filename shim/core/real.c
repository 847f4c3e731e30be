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
    static SS_UNSANITIZED ret lazy_##name params                                                             \
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
SS_LAZY(connect, int, (int fd, const struct sockaddr *a, socklen_t al), (fd, a, al))
SS_LAZY(accept, int, (int fd, struct sockaddr *a, socklen_t *al), (fd, a, al))
SS_LAZY(accept4, int, (int fd, struct sockaddr *a, socklen_t *al, int fl), (fd, a, al, fl))
SS_LAZY(recvmsg, ssize_t, (int fd, struct msghdr *m, int fl), (fd, m, fl))
typedef void (*handler_t)(int);
SS_LAZY(signal, handler_t, (int sig, handler_t h), (sig, h))
SS_LAZY(__sysv_signal, handler_t, (int sig, handler_t h), (sig, h))
SS_LAZY(sigset, handler_t, (int sig, handler_t h), (sig, h))
SS_LAZY(sigaction, int, (int sig, const struct sigaction *a, struct sigaction *o), (sig, a, o))
SS_LAZY(shutdown, int, (int fd, int how), (fd, how))
#undef SS_LAZY

/* close_range and closefrom exist in glibc 2.34+ only; musl (1.2.3 in Debian
 * 12) has neither. A program can reach ours only through a C library that
 * declares them, but a slot must never be left without a function: a missing
 * one is done by the system call itself (Linux 5.9+; ENOSYS before, which is
 * what such a C library would report too). */
#ifndef SYS_close_range
#define SYS_close_range 436 /* the same number on every architecture (asm-generic) */
#endif
static int sys_close_range(unsigned int first, unsigned int last, int flags)
{
    return (int)syscall(SYS_close_range, first, last, flags);
}
static void sys_closefrom(int low)
{
    /* glibc's closefrom does the same, then falls back to closing one by one
     * from /proc/self/fd; on a kernel without close_range we close nothing. */
    (void)syscall(SYS_close_range, low < 0 ? 0u : (unsigned int)low, ~0u, 0);
}
/* The optional functions' stubs: resolve, or settle for the system call. */
static void *resolve_or(void **slot, const char *name, void *fallback);
static int lazy_close_range(unsigned int first, unsigned int last, int flags)
{
    return ((__typeof__(ss_real.close_range))resolve_or((void **)&ss_real.close_range, "close_range",
                                                        (void *)sys_close_range))(first, last, flags);
}
static void lazy_closefrom(int low)
{
    ((__typeof__(ss_real.closefrom))resolve_or((void **)&ss_real.closefrom, "closefrom",
                                               (void *)sys_closefrom))(low);
}

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
    .connect = lazy_connect,
    .accept = lazy_accept,
    .accept4 = lazy_accept4,
    .recvmsg = lazy_recvmsg,
    .close_range = lazy_close_range,
    .closefrom = lazy_closefrom,
    .signal = lazy_signal,
    .__sysv_signal = lazy___sysv_signal,
    .sigset = lazy_sigset,
    .sigaction = lazy_sigaction,
    .shutdown = lazy_shutdown,
};

SS_UNSANITIZED int ss_is_our_own(void *fn)
{
    Dl_info mine, theirs;
    if (!fn || !dladdr((void *)ss_real_resolve_all, &mine) || !dladdr(fn, &theirs))
        return 0;
    return mine.dli_fbase == theirs.dli_fbase;
}

static SS_UNSANITIZED void *lookup(const char *name)
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

SS_UNSANITIZED void *ss_real_resolve(void **slot, const char *name)
{
    void *fn = lookup(name);
    if (!fn)
        die_missing(name);
    /* Several threads may race here; they all store the same value. */
    __atomic_store_n(slot, fn, __ATOMIC_RELAXED);
    return fn;
}

static void *resolve_or(void **slot, const char *name, void *fallback)
{
    void *fn = lookup(name);
    if (!fn)
        fn = fallback;
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
    TRY(connect);
    TRY(accept);
    TRY(accept4);
    TRY(recvmsg);
    TRY(signal);
    TRY(__sysv_signal);
    TRY(sigset);
    TRY(sigaction);
    TRY(shutdown);
#undef TRY
    resolve_or((void **)&ss_real.close_range, "close_range", (void *)sys_close_range);
    resolve_or((void **)&ss_real.closefrom, "closefrom", (void *)sys_closefrom);
}
