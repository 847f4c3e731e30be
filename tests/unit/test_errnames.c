/* test_errnames.c - errno and call name tables. glibc's strerrorname_np() is
 * the oracle here (the library cannot use it: not async-signal-safe, and
 * musl lacks it). */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "calls.h"
#include "fmt.h"

#define ERRNO_SCAN_MAX 4096 /* the kernel's MAX_ERRNO is 4095 */

static int from(const char *s)
{
    return ss_errno_from_name(s, strlen(s));
}

Test(errnames, every_glibc_errno_round_trips)
{
    int named = 0;
    for (int e = 1; e < ERRNO_SCAN_MAX; e++) {
        const char *want = strerrorname_np(e);
        const char *got = ss_errno_name(e);
        if (!want) {
            cr_expect_null(got, "errno %d: glibc has no name, we say %s", e, got);
            continue;
        }
        named++;
        cr_expect_not_null(got, "errno %d (%s) has no name", e, want);
        if (!got)
            continue;
        cr_expect_str_eq(got, want, "errno %d", e);
        cr_expect_eq(from(got), e, "%s", got);
    }
    cr_expect_geq(named, 131, "only %d errnos named", named);
}

Test(errnames, aliases_have_one_name_and_parse)
{
    cr_expect_eq(EWOULDBLOCK, EAGAIN);
    cr_expect_str_eq(ss_errno_name(EWOULDBLOCK), "EAGAIN");
    cr_expect_eq(from("EWOULDBLOCK"), EAGAIN);
    cr_expect_eq(from("EAGAIN"), EAGAIN);
    cr_expect_eq(from("ENOTSUP"), ENOTSUP);
    cr_expect_str_eq(ss_errno_name(ENOTSUP), "EOPNOTSUPP");
    cr_expect_eq(from("EDEADLOCK"), EDEADLOCK);
    cr_expect_str_eq(ss_errno_name(EDEADLK), "EDEADLK");
}

Test(errnames, names_are_length_bounded_not_nul_terminated)
{
    cr_expect_eq(ss_errno_from_name("EAGAINXYZ", 6), EAGAIN);
    cr_expect_eq(ss_errno_from_name("EPIPE;send", 5), EPIPE);
    cr_expect_eq(ss_errno_from_name("EAGAIN", 5), 0, "EAGAI is no name");
    cr_expect_eq(ss_errno_from_name("EINTR", 0), 0);
    cr_expect_eq(ss_errno_from_name(NULL, 3), 0);
    cr_expect_eq(from(""), 0);
    cr_expect_eq(from("eagain"), 0, "names are upper case");
    cr_expect_eq(from("EAGAIN "), 0);
    cr_expect_eq(from("11"), 0, "numbers are the caller's business");
    cr_expect_eq(from("EFOO"), 0);
}

Test(errnames, unknown_numbers)
{
    cr_expect_null(ss_errno_name(0));
    cr_expect_null(ss_errno_name(-1));
    cr_expect_null(ss_errno_name(-EAGAIN));
    cr_expect_null(ss_errno_name(41)); /* a hole in Linux's numbering */
    cr_expect_null(ss_errno_name(4095));
    cr_expect_null(ss_errno_name(512)); /* ERESTARTSYS: kernel-internal, never seen by users */
}

Test(errnames, call_names)
{
    static const char *const want[SS_NCALLS_SEEN] = {"send",  "sendto", "sendmsg",  "sendmmsg",
                                                     "write", "writev", "sendfile", "splice"};
    for (int c = 0; c < SS_NCALLS_SEEN; c++)
        cr_expect_str_eq(ss_call_name((enum ss_call)c), want[c]);
    cr_expect_null(ss_call_name(SS_NCALLS_SEEN));
    cr_expect_null(ss_call_name((enum ss_call) - 1));
}
