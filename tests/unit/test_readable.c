/* test_readable.c - ss_readable (shim/core/readable.c): the kernel's answer on
 * mapped, unmapped and partly mapped memory, without a fault. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "readable.h"

#define PAGES 80 /* more pages than one process_vm_readv samples */

static unsigned char *map_pages(size_t n)
{
    void *p = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    return p;
}

Test(readable, mapped_memory_is_readable)
{
    unsigned char *p = map_pages(PAGES);
    cr_expect(ss_readable(p, PAGES * 4096));
    cr_expect(ss_readable(p + 4095, 2)); /* across a page boundary */
    cr_expect(ss_readable(p, 0));
    cr_expect(ss_readable(NULL, 0));
    munmap(p, PAGES * 4096);
}

Test(readable, a_hole_anywhere_is_found)
{
    unsigned char *p = map_pages(PAGES);
    /* The last page, a page past the first 64 samples, and the first. */
    size_t holes[] = {PAGES - 1, 70, 0};
    for (size_t i = 0; i < sizeof holes / sizeof holes[0]; i++) {
        cr_assert_eq(mprotect(p + holes[i] * 4096, 4096, PROT_NONE), 0);
        errno = 1234;
        cr_expect_not(ss_readable(p, PAGES * 4096), "hole at page %zu", holes[i]);
        cr_expect_eq(errno, 1234, "errno is preserved");
        cr_expect_not(ss_readable(p + holes[i] * 4096 + 100, 1));
        cr_assert_eq(mprotect(p + holes[i] * 4096, 4096, PROT_READ), 0);
    }
    cr_expect(ss_readable(p, PAGES * 4096));
    munmap(p, PAGES * 4096);
}

Test(readable, iovecs_and_impossible_ranges)
{
    unsigned char *p = map_pages(4);
    cr_assert_eq(munmap(p + 2 * 4096, 4096), 0);
    struct iovec ok[2] = {{p, 10}, {p + 4096, 4096}};
    struct iovec bad[3] = {{p, 10}, {NULL, 0}, {p + 2 * 4096 + 8, 1}};
    cr_expect(ss_readable_iov(ok, 2));
    cr_expect_not(ss_readable_iov(bad, 3));
    cr_expect_not(ss_readable((void *)16, 10));
    cr_expect_not(ss_readable(p, SIZE_MAX)); /* wraps around the address space */
    munmap(p, 4096 * 2);
    munmap(p + 3 * 4096, 4096);
}
