/* real.h - the one place that knows the real libc functions. */
#ifndef SENDSHIM_REAL_H
#define SENDSHIM_REAL_H

#include <fcntl.h> /* loff_t (musl) */
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

#ifdef __GLIBC__
typedef int ss_mmsg_flags_t; /* glibc: sendmmsg(int, struct mmsghdr *, unsigned int, int) */
#else
typedef unsigned ss_mmsg_flags_t; /* musl: sendmmsg(int, struct mmsghdr *, unsigned, unsigned) */
#endif

/* For what a sanitizer's runtime calls while it initializes: it installs
 * its deadly-signal handlers with sigaction before any of its state exists,
 * and in our sanitized builds (make tsan, make sanitize: the runtime in the
 * program, our library linked or preloaded before libc) that call is ours.
 * Instrumented code there crashes, so the sigaction path down to libc -
 * the wrapper, SIGPIPE's bookkeeping, resolving the real function - is left
 * uninstrumented. No effect on ordinary builds. */
#if defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define SS_UNSANITIZED __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#ifndef SS_UNSANITIZED
#define SS_UNSANITIZED __attribute__((no_sanitize("address", "thread", "undefined")))
#endif

struct ss_real {
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    ssize_t (*sendmsg)(int, const struct msghdr *, int);
    int (*sendmmsg)(int, struct mmsghdr *, unsigned int, ss_mmsg_flags_t);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*sendfile)(int, int, off_t *, size_t);
    ssize_t (*sendfile64)(int, int, off_t *, size_t);
    ssize_t (*splice)(int, loff_t *, int, loff_t *, size_t, unsigned int);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
    int (*getsockopt)(int, int, int, void *, socklen_t *);
    int (*close)(int);
    int (*dup)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*fcntl)(int, int, ...);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
    /* glibc 2.34+ only (musl has neither): where the C library lacks one,
     * the slot holds an emulation by the close_range system call. */
    int (*close_range)(unsigned int, unsigned int, int);
    void (*closefrom)(int);
    /* SIGPIPE's disposition (sigdisp.h) */
    void (*(*signal)(int, void (*)(int)))(int);
    void (*(*__sysv_signal)(int, void (*)(int)))(int);
    void (*(*sigset)(int, void (*)(int)))(int);
    int (*sigaction)(int, const struct sigaction *, struct sigaction *);
    int (*shutdown)(int, int);
};

extern struct ss_real ss_real;

/* Resolve every function that exists (constructor time). */
void ss_real_resolve_all(void);
/* Resolve one slot now; a missing function is fatal (message, then abort):
 * a shim that cannot reach libc must not pretend to work. */
void *ss_real_resolve(void **slot, const char *name);

/* 1 when fn (a symbol's address) lies in this copy of the library. */
int ss_is_our_own(void *fn);

/* The real function NAME. Every slot starts at a small stub that resolves it
 * on first use and calls it, so calls that arrive before our constructor
 * (from other libraries' constructors) work, and the hot path is a plain
 * indirect call with no test. */
#define SS_REAL(name) (ss_real.name)

/* fcntl is variadic, so a stub cannot forward its arguments: its slot starts
 * NULL and is resolved here on first use. */
#define SS_REAL_VARIADIC(name)                                                                               \
    (__builtin_expect(ss_real.name != NULL, 1)                                                               \
         ? ss_real.name                                                                                      \
         : (__typeof__(ss_real.name))ss_real_resolve((void **)&ss_real.name, #name))

#pragma GCC visibility pop

#endif
