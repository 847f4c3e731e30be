/* logfd_prog - programs that own every descriptor, to see that the library's
 * log never takes or writes to one of them.
 *
 *   logfd_prog fds
 *       sends a datagram on a unix socketpair, then prints the descriptors
 *       open in /proc/self/fd: "fds 0 1 2 3 4".
 *   logfd_prog closefrom FILE
 *       closes every descriptor from 3 up as closefrom(3) does (the
 *       close_range system call, which no close() wrapper sees), opens FILE
 *       and moves it to descriptor 700 (F_DUPFD), sends a datagram on a
 *       socketpair (a traced call), then writes "program line\n" to 700.
 *       FILE must end up holding the program's line only.
 *   logfd_prog stderr-socket FILE
 *       closes 0, 1 and 2, makes two socketpairs (the second lands on 2 and
 *       3), sends "data" on descriptor 2 and reports in FILE what the peer
 *       (3) received: "peer got 4 'data'".
 *   logfd_prog dlopen LIB N
 *       dlopen()s LIB, sends through its send(), dlclose()s it, N times; prints
 *       "glibc|other unloaded yes|no" (the C library, and whether dlclose
 *       unmapped LIB: RTLD_NOLOAD finds it no more) and "fds before B after A"
 *       (entries of /proc/self/fd).
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>

#include "target.h"

#ifndef SYS_close_range
#define SYS_close_range 436 /* the same on every Linux architecture */
#endif

#define CLOSEFROM_TARGET_FD 700 /* where the log's descriptor used to live */

/* The descriptors open now, in directory order, except the one listing them. */
static int list_fds(int *out, int max)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        t_die("opendir /proc/self/fd");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd != dirfd(d) && n < max)
            out[n++] = fd;
    }
    closedir(d);
    return n;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void send_one(void)
{
    int s[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
        t_die("socketpair");
    if (send(s[0], "x", 1, 0) != 1)
        t_die("send");
    close(s[0]);
    close(s[1]);
}

static int show_fds(void)
{
    int s[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
        t_die("socketpair");
    if (send(s[0], "x", 1, 0) != 1)
        t_die("send");
    int fds[1024];
    int n = list_fds(fds, 1024);
    qsort(fds, (size_t)n, sizeof fds[0], cmp_int);
    printf("fds");
    for (int i = 0; i < n; i++)
        printf(" %d", fds[i]);
    printf("\n");
    return 0;
}

static int closefrom_then_reuse(const char *path)
{
    if (syscall(SYS_close_range, 3u, ~0u, 0u))
        t_die("close_range");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (fd < 0)
        t_die("open");
    int high = fcntl(fd, F_DUPFD, CLOSEFROM_TARGET_FD);
    if (high != CLOSEFROM_TARGET_FD)
        t_die("F_DUPFD did not give 700");
    close(fd);
    send_one();
    static const char line[] = "program line\n";
    if (write(high, line, sizeof line - 1) != (ssize_t)(sizeof line - 1))
        t_die("write");
    printf("done\n");
    return 0;
}

static int stderr_socket(const char *path)
{
    int a[2], b[2];
    close(0);
    close(1);
    close(2);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) || socketpair(AF_UNIX, SOCK_STREAM, 0, b))
        return 98;
    if (b[0] != 2 || b[1] != 3)
        return 97;
    ssize_t sent = send(2, "data", 4, 0);
    char got[4096];
    ssize_t n = recv(3, got, sizeof got - 1, MSG_DONTWAIT);
    if (n < 0)
        n = 0;
    got[n] = '\0';
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0)
        return 96;
    dprintf(out, "sent %zd, peer got %zd '%s'\n", sent, n, got);
    close(out);
    return 0;
}

static int dlopen_cycles(const char *lib, int cycles)
{
    int fds[1024];
    int before = list_fds(fds, 1024);
    int unloaded = 1;
    for (int i = 0; i < cycles; i++) {
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            printf("dlopen failed: %s\n", dlerror());
            return 1;
        }
        t_send_fn lib_send = (t_send_fn)dlsym(h, "send");
        int s[2];
        if (!lib_send || socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
            t_die("send or socketpair");
        if (lib_send(s[0], "x", 1, 0) != 1)
            t_die("send");
        close(s[0]);
        close(s[1]);
        dlclose(h);
        void *still = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
        if (still) {
            unloaded = 0;
            dlclose(still);
        }
    }
    int after = list_fds(fds, 1024);
#ifdef __GLIBC__
    const char *libc = "glibc";
#else
    const char *libc = "other"; /* musl: dlclose never unmaps */
#endif
    printf("%s unloaded %s\nfds before %d after %d\n", libc, unloaded ? "yes" : "no", before, after);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "fds"))
        return show_fds();
    if (argc == 3 && !strcmp(argv[1], "closefrom"))
        return closefrom_then_reuse(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "stderr-socket"))
        return stderr_socket(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "dlopen"))
        return dlopen_cycles(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: logfd_prog fds | closefrom FILE | stderr-socket FILE | dlopen LIB N\n");
    return 2;
}
