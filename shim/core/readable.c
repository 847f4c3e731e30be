/* readable.c - readability of the program's memory, asked of the kernel.
 *
 * process_vm_readv(2) on our own process copies like the kernel copies from
 * user space, so an unmapped or unreadable page is an EFAULT instead of the
 * SIGSEGV a plain read would raise. Reading one byte of each page is enough
 * (protection is per page), so a region costs one system call per
 * SS_PAGES_PER_CALL pages. The kernel reads the remote iovecs in order and
 * stops at the first that faults, returning what it copied before: the
 * region is readable exactly when the count is complete. Our own process
 * passes the access check (same thread group), but a seccomp filter may
 * refuse the call; the answer is then "readable", the behaviour from before
 * the question was asked. */
#include "readable.h"

#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SS_PAGES_PER_CALL 64   /* remote iovecs of one byte per system call */
#define SS_PAGE_MIN       4096 /* the smallest page size Linux uses: sampling at it is never too sparse */

/* Page samples gathered for one process_vm_readv. */
struct probe {
    pid_t pid;
    int answer; /* 1 readable so far, 0 not, -1 the kernel cannot tell */
    unsigned n;
    struct iovec remote[SS_PAGES_PER_CALL];
};

static void flush(struct probe *pr)
{
    unsigned char sink[SS_PAGES_PER_CALL];
    struct iovec local = {sink, pr->n};
    if (pr->n == 0 || pr->answer != 1)
        return;
    long got = syscall(SYS_process_vm_readv, pr->pid, &local, 1UL, pr->remote, (unsigned long)pr->n, 0UL);
    if (got != (long)pr->n)
        pr->answer = (got >= 0 || errno == EFAULT) ? 0 : -1; /* ENOSYS, EPERM (seccomp): no answer */
    pr->n = 0;
}

/* Sample one byte of each page of [p, p + len). */
static void add(struct probe *pr, const void *p, size_t len)
{
    uintptr_t first = (uintptr_t)p;
    if (len == 0 || pr->answer != 1)
        return;
    if (len - 1 > UINTPTR_MAX - first) {
        pr->answer = 0; /* wraps around the address space */
        return;
    }
    uintptr_t last = first + (len - 1);
    uintptr_t page = first & ~(uintptr_t)(SS_PAGE_MIN - 1);
    for (;;) {
        pr->remote[pr->n].iov_base = (void *)(page < first ? first : page);
        pr->remote[pr->n].iov_len = 1;
        if (++pr->n == SS_PAGES_PER_CALL)
            flush(pr);
        if (pr->answer != 1 || last - page < SS_PAGE_MIN)
            return;
        page += SS_PAGE_MIN;
    }
}

static void start(struct probe *pr)
{
    pr->pid = (pid_t)syscall(SYS_getpid);
    pr->answer = 1;
    pr->n = 0;
}

static int finish(struct probe *pr, int saved_errno)
{
    flush(pr);
    errno = saved_errno;
    return pr->answer != 0;
}

int ss_readable(const void *p, size_t len)
{
    int saved = errno;
    struct probe pr;
    start(&pr);
    add(&pr, p, len);
    return finish(&pr, saved);
}

int ss_readable_iov(const struct iovec *iov, size_t n)
{
    int saved = errno;
    struct probe pr;
    start(&pr);
    for (size_t i = 0; i < n && pr.answer == 1; i++)
        add(&pr, iov[i].iov_base, iov[i].iov_len);
    return finish(&pr, saved);
}
