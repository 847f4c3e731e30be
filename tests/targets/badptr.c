/* badptr - send-family calls with bad iovec, control, name and vector
 * pointers, each in a child of its own, printing "CASE RESULT" ("-1 ENAME",
 * a count, or "signal N" when the child was killed), so a test can compare
 * the library with the kernel alone. With no argument every case runs.
 *
 * "Unmapped" memory is a page mapped PROT_NONE and kept (so no later mapping,
 * the library's included, can take its place); "at a hole" puts a valid
 * array at the end of a page whose next page is such a page, so reading one
 * entry past what the kernel reads faults. Cases (unix datagram pairs
 * unless named):
 *   iovlen-5000          one valid iovec at a hole, msg_iovlen 5000 (EMSGSIZE)
 *   iovlen-5000-stream   the same on a stream pair
 *   iovlen-2000-null     msg_iov NULL, msg_iovlen 2000 (EMSGSIZE)
 *   iov-unmapped         msg_iov unmapped, msg_iovlen 1 (EFAULT)
 *   iov-unmapped-ctl     the same, with a valid SCM_RIGHTS
 *   base-unmapped        iov_base unmapped (EFAULT)
 *   gather-base-unmapped 1100 iovecs, one iov_base unmapped (EMSGSIZE)
 *   ctl-unmapped         msg_control unmapped, msg_controllen 32 (EFAULT)
 *   name-unmapped        msg_name unmapped, msg_namelen 16 (EFAULT)
 *   mmsg-vec-unmapped    sendmmsg of 1 with the vector unmapped (EFAULT)
 *   mmsg-iov-unmapped    sendmmsg of 1 whose msg_iov is unmapped (EFAULT)
 *   writev-iov-unmapped  writev of 1 with the array unmapped (EFAULT)
 */
#include <sys/mman.h>
#include <sys/uio.h>

#include "target.h"

#define PAGE 4096

static int s[2];

static void *unmapped(void)
{
    void *p = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        t_die("mmap");
    return p;
}

/* n bytes that end where an unmapped page begins. */
static void *at_hole(size_t n)
{
    char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        t_die("mmap");
    if (mprotect(p + PAGE, PAGE, PROT_NONE))
        t_die("mprotect");
    return p + PAGE - n;
}

static long run_case(const char *c)
{
    static char data[] = "0123456789";
    static struct iovec one = {data, 10};
    struct msghdr m = {.msg_iov = &one, .msg_iovlen = 1};
    int type = !strcmp(c, "iovlen-5000-stream") ? SOCK_STREAM : SOCK_DGRAM;
    if (socketpair(AF_UNIX, type, 0, s))
        t_die("socketpair");
    if (!strncmp(c, "iovlen-5000", 11)) {
        struct iovec *v = at_hole(sizeof *v);
        *v = one;
        m.msg_iov = v;
        m.msg_iovlen = 5000;
    } else if (!strcmp(c, "iovlen-2000-null")) {
        m.msg_iov = NULL;
        m.msg_iovlen = 2000;
    } else if (!strncmp(c, "iov-unmapped", 12)) {
        m.msg_iov = unmapped();
        if (!strcmp(c, "iov-unmapped-ctl")) {
            static union {
                struct cmsghdr h;
                char b[CMSG_SPACE(sizeof(int))];
            } u;
            u.h.cmsg_len = CMSG_LEN(sizeof(int));
            u.h.cmsg_level = SOL_SOCKET;
            u.h.cmsg_type = SCM_RIGHTS;
            memcpy(CMSG_DATA(&u.h), &s[0], sizeof(int));
            m.msg_control = u.b;
            m.msg_controllen = sizeof u.b;
        }
    } else if (!strcmp(c, "base-unmapped")) {
        static struct iovec v;
        v = (struct iovec){unmapped(), 10};
        m.msg_iov = &v;
    } else if (!strcmp(c, "gather-base-unmapped")) {
        static struct iovec v[1100];
        for (int i = 0; i < 1100; i++)
            v[i] = (struct iovec){data, 1};
        v[500].iov_base = unmapped();
        m.msg_iov = v;
        m.msg_iovlen = 1100;
    } else if (!strcmp(c, "ctl-unmapped")) {
        m.msg_control = unmapped();
        m.msg_controllen = 32;
    } else if (!strcmp(c, "name-unmapped")) {
        m.msg_name = unmapped();
        m.msg_namelen = 16;
    } else if (!strcmp(c, "mmsg-vec-unmapped")) {
        return sendmmsg(s[0], unmapped(), 1, 0);
    } else if (!strcmp(c, "mmsg-iov-unmapped")) {
        struct mmsghdr mm = {.msg_hdr = {.msg_iov = unmapped(), .msg_iovlen = 1}};
        return sendmmsg(s[0], &mm, 1, 0);
    } else if (!strcmp(c, "writev-iov-unmapped")) {
        return writev(s[0], unmapped(), 1);
    } else {
        fprintf(stderr, "badptr: unknown case %s\n", c);
        exit(2);
    }
    return sendmsg(s[0], &m, 0);
}

static const char *const all[] = {"iovlen-5000",
                                  "iovlen-5000-stream",
                                  "iovlen-2000-null",
                                  "iov-unmapped",
                                  "iov-unmapped-ctl",
                                  "base-unmapped",
                                  "gather-base-unmapped",
                                  "ctl-unmapped",
                                  "name-unmapped",
                                  "mmsg-vec-unmapped",
                                  "mmsg-iov-unmapped",
                                  "writev-iov-unmapped",
                                  NULL};

static void one_case(const char *c)
{
    int status;
    if (t_fork_wait(&status) == 0) {
        errno = 0;
        long r = run_case(c);
        t_show(c, r, errno);
        _exit(0);
    }
    if (WIFSIGNALED(status))
        printf("%s signal %d\n", c, WTERMSIG(status));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            one_case(argv[i]);
    else
        for (int i = 0; all[i]; i++)
            one_case(all[i]);
    return 0;
}
