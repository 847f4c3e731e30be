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

struct ss_real ss_real;

static int is_our_own(void *fn)
{
    Dl_info mine, theirs;
    if (!fn || !dladdr((void *)ss_real_resolve_all, &mine) || !dladdr(fn, &theirs))
        return 0;
    return mine.dli_fbase == theirs.dli_fbase;
}

static void *lookup(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (!fn || is_our_own(fn)) {
        fn = dlsym(RTLD_DEFAULT, name);
        if (is_our_own(fn))
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
#define TRY(name)                                                                                            \
    do {                                                                                                     \
        if (!ss_real.name)                                                                                   \
            __atomic_store_n((void **)&ss_real.name, lookup(#name), __ATOMIC_RELAXED);                       \
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
