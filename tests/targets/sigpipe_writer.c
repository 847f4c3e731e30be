/* sigpipe_writer - writes to a socket whose peer is gone, to see whether the
 * program dies of SIGPIPE or gets EPIPE and lives.
 *
 *   sigpipe_writer SETUP CALL
 *
 * SETUP says how the writing descriptor is made (a unix stream socketpair
 * unless said otherwise) and whether SO_NOSIGPIPE is set on it:
 *   plain          nothing set
 *   tcp            a TCP connection (peer closed, RST received), nothing set
 *   so             SO_NOSIGPIPE on the descriptor
 *   so-cleared     set, then cleared again
 *   so-dup         set on dup(fd); fd is written
 *   so-after-dup   d = dup(fd) first, then set on fd; d is written
 *   so-dup2, so-dup3, so-fcntl, so-fcntl-cloexec
 *                  set on fd, written through dup2/dup3/F_DUPFD/F_DUPFD_CLOEXEC
 *   so-accept, so-accept4
 *                  set on a TCP listener; the accepted socket is written
 *   so-fork        set, then fork: the child writes
 *   pipe           a pipe whose read end is closed (SIGPIPE must stay)
 *   stale-pipe     a socket with SO_NOSIGPIPE closed behind libc's back
 *                  (raw close system call), then a pipe at the same number
 *                  with its read end closed: still SIGPIPE
 *   stale-live     as stale-pipe but the read end open: the write succeeds
 * CALL: write, writev, send, sendto, sendmsg, sendmmsg, sendfile, splice.
 * Prints "getsockopt V" where SO_NOSIGPIPE was read back, "CALL RESULT" for
 * each of three attempts, then "alive".
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "sendshim.h"
#include "target.h"

#define ATTEMPTS 3

static void set_nosigpipe(int fd, int on)
{
    if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on))
        t_show("setsockopt", -1, errno);
}

static void show_nosigpipe(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &v, &len))
        t_show("getsockopt", -1, errno);
    else
        printf("getsockopt %d\n", v != 0);
    fflush(stdout);
}

static long attempt(const char *call, int fd)
{
    char x[1] = {'x'};
    struct iovec iov = {x, 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    struct mmsghdr mm = {.msg_hdr = m};
    if (!strcmp(call, "write"))
        return write(fd, x, 1);
    if (!strcmp(call, "writev"))
        return writev(fd, &iov, 1);
    if (!strcmp(call, "send"))
        return send(fd, x, 1, 0);
    if (!strcmp(call, "sendto"))
        return sendto(fd, x, 1, 0, NULL, 0);
    if (!strcmp(call, "sendmsg"))
        return sendmsg(fd, &m, 0);
    if (!strcmp(call, "sendmmsg"))
        return sendmmsg(fd, &mm, 1, 0);
    if (!strcmp(call, "sendfile") || !strcmp(call, "splice")) {
        int p[2];
        if (pipe(p))
            t_die("pipe");
        if (write(p[1], "data", 4) != 4)
            t_die("write pipe");
        long r;
        if (!strcmp(call, "splice")) {
            r = splice(p[0], NULL, fd, NULL, 4, 0);
        } else {
            char path[] = "/tmp/sigpipe_writer.XXXXXX";
            int f = mkstemp(path);
            if (f < 0 || write(f, "data", 4) != 4)
                t_die("tmpfile");
            unlink(path);
            off_t off = 0;
            r = sendfile(fd, f, &off, 4);
            int e = errno;
            close(f);
            errno = e;
        }
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return r;
    }
    fprintf(stderr, "unknown call %s\n", call);
    exit(2);
}

/* A TCP listener and a connection to it: *listener, *client. */
static void tcp_listener(int *listener, int *client)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    *listener = socket(AF_INET, SOCK_STREAM, 0);
    if (*listener < 0 || bind(*listener, (struct sockaddr *)&a, len) ||
        getsockname(*listener, (struct sockaddr *)&a, &len) || listen(*listener, 4))
        t_die("listen");
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client < 0 || connect(*client, (struct sockaddr *)&a, len))
        t_die("connect");
}

/* Make the peer of fd's connection go away. For TCP, a first send elicits
 * the RST after which writes fail with EPIPE. */
static void break_tcp(int fd)
{
    usleep(20000);
    send(fd, "a", 1, MSG_NOSIGNAL);
    usleep(20000);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sigpipe_writer SETUP CALL\n");
        return 2;
    }
    const char *setup = argv[1], *call = argv[2];
    int sv[2], fd;
    signal(SIGPIPE, SIG_DFL);
    if (!strcmp(setup, "pipe") || !strncmp(setup, "stale", 5)) {
        int p[2];
        if (pipe(p))
            t_die("pipe");
        fd = p[1];
        if (!strncmp(setup, "stale", 5)) {
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
                t_die("socketpair");
            set_nosigpipe(sv[0], 1);
            attempt("send", sv[0]); /* the library now knows sv[0] well */
            /* Behind libc's back: the socket's number now names the pipe's
             * write end, and the library's entry for it is stale. */
            syscall(SYS_close, sv[0]);
            if (syscall(SYS_dup3, p[1], sv[0], 0) != sv[0])
                t_die("dup3");
            close(p[1]);
            close(sv[1]);
            fd = sv[0];
        }
        if (strcmp(setup, "stale-live"))
            close(p[0]);
    } else if (!strncmp(setup, "so-accept", 9)) {
        int l, c;
        tcp_listener(&l, &c);
        set_nosigpipe(l, 1);
        fd = !strcmp(setup, "so-accept4") ? accept4(l, NULL, NULL, SOCK_CLOEXEC) : accept(l, NULL, NULL);
        if (fd < 0)
            t_die("accept");
        show_nosigpipe(fd);
        close(c);
        break_tcp(fd);
    } else if (!strcmp(setup, "tcp")) {
        int l, c;
        tcp_listener(&l, &c);
        int a = accept(l, NULL, NULL);
        close(a);
        fd = c;
        break_tcp(fd);
    } else {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
            t_die("socketpair");
        fd = sv[0];
        if (!strcmp(setup, "so") || !strcmp(setup, "so-fork")) {
            set_nosigpipe(fd, 1);
        } else if (!strcmp(setup, "so-cleared")) {
            set_nosigpipe(fd, 1);
            set_nosigpipe(fd, 0);
        } else if (!strcmp(setup, "so-dup")) {
            set_nosigpipe(dup(fd), 1);
        } else if (!strcmp(setup, "so-after-dup")) {
            int d = dup(fd);
            set_nosigpipe(fd, 1);
            fd = d;
        } else if (!strcmp(setup, "so-dup2")) {
            set_nosigpipe(fd, 1);
            fd = dup2(fd, 50);
        } else if (!strcmp(setup, "so-dup3")) {
            set_nosigpipe(fd, 1);
            fd = dup3(fd, 51, O_CLOEXEC);
        } else if (!strcmp(setup, "so-fcntl")) {
            set_nosigpipe(fd, 1);
            fd = fcntl(fd, F_DUPFD, 60);
        } else if (!strcmp(setup, "so-fcntl-cloexec")) {
            set_nosigpipe(fd, 1);
            fd = fcntl(fd, F_DUPFD_CLOEXEC, 70);
        } else if (strcmp(setup, "plain")) {
            fprintf(stderr, "unknown setup %s\n", setup);
            return 2;
        }
        if (fd < 0)
            t_die("dup");
        show_nosigpipe(fd);
        close(sv[1]);
        if (!strcmp(setup, "so-fork")) {
            int st;
            if (t_fork_wait(&st) > 0) {
                if (WIFSIGNALED(st))
                    printf("child killed by signal %d\n", WTERMSIG(st));
                else
                    printf("child exit %d\n", WEXITSTATUS(st));
                return 0;
            }
            show_nosigpipe(fd);
        }
    }
    for (int i = 0; i < ATTEMPTS; i++) {
        long r = attempt(call, fd);
        t_show(call, r, errno);
    }
    printf("alive\n");
    return 0;
}
