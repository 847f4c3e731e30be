/* fcntl.c - fcntl and fcntl64: F_DUPFD and F_DUPFD_CLOEXEC make a duplicate
 * that shares the socket's state (see dup.c); every command is forwarded.
 *
 * fcntl is variadic and its third argument is, depending on the command,
 * absent, an int, or a pointer. We read it as a pointer-sized value with
 * va_arg(ap, void *) and pass that value on unchanged, which is exactly what
 * glibc's and musl's own fcntl do before the system call: on x86_64 and
 * aarch64 (and every other Linux ABI) a variadic int and a pointer travel in
 * the same 8-byte register or stack slot, so the real fcntl reads the same
 * slot contents we read; the kernel takes the argument as an unsigned long
 * and narrows it for int commands. A missing argument reads whatever the slot
 * holds, harmlessly, as libc does. On 32-bit ABIs int and pointer have the
 * same size. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>

#include "export.h"
#include "fdtable.h"

static int after(int fd, int cmd, int r)
{
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        ss_fd_duplicated(fd, r);
    return r;
}

SS_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return after(fd, cmd, SS_REAL_VARIADIC(fcntl)(fd, cmd, arg));
}

/* glibc 2.28+ has fcntl64 (what fcntl becomes with _FILE_OFFSET_BITS=64); on
 * 64-bit systems it is the same function as fcntl. Where the C library lacks
 * it, fcntl is the right fallback. */
typedef int (*fcntl_fn)(int, int, ...);
static fcntl_fn real_fcntl64;

SS_EXPORT int fcntl64(int fd, int cmd, ...);
int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    fcntl_fn fn = __atomic_load_n(&real_fcntl64, __ATOMIC_RELAXED);
    if (!fn) {
        fn = (fcntl_fn)dlsym(RTLD_NEXT, "fcntl64");
        if (!fn)
            fn = SS_REAL_VARIADIC(fcntl);
        __atomic_store_n(&real_fcntl64, fn, __ATOMIC_RELAXED);
    }
    return after(fd, cmd, fn(fd, cmd, arg));
}
