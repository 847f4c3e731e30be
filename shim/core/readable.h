/* readable.h - whether the program's memory can be read without a fault,
 * asked of the kernel. For the rare paths only (each answer costs a system
 * call): where the library must read memory the kernel would have refused
 * with EFAULT, or must know the kernel would refuse it. */
#ifndef SENDSHIM_READABLE_H
#define SENDSHIM_READABLE_H

#include <stddef.h>
#include <sys/uio.h>

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* 1 when every byte of [p, p + len) can be read (len 0: always), 0 when some
 * page cannot (the kernel would say EFAULT). 1 also when the kernel cannot
 * tell (process_vm_readv refused, e.g. by a seccomp filter): the library then
 * reads as it would have without asking. errno is preserved. */
int ss_readable(const void *p, size_t len);

/* The same for every buffer of iov[0..n) (the array itself is the caller's
 * to have checked). */
int ss_readable_iov(const struct iovec *iov, size_t n);

#pragma GCC visibility pop

#endif
