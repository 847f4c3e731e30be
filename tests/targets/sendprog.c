/* sendprog - a scriptable sender for integration tests.
 *
 *   sendprog KIND OP...
 *
 * KIND: tcp, tcp6, udp, udp6, unix-stream, unix-dgram, unix-seqpacket.
 * It makes a connected pair (s0 sends, s1 receives) and runs each OP in order,
 * printing one line per OP: "NAME RESULT" or "NAME -1 ERRNO". A successful call
 * that changed errno gets " errno-changed" appended (errno is set to 4242
 * before every call).
 *
 * OPs (FLAGS is a number, 0x.. allowed):
 *   send:TEXT[:FLAGS]      sendto:TEXT[:FLAGS] (with the peer's address on datagram kinds)
 *   sendmsg:A,B,..[:FLAGS] one message, one iovec per comma item
 *   sendmmsg:A,B,..[:FLAGS] one message per comma item; prints the count and each msg_len
 *   write:TEXT  writev:A,B,..
 *   big:N[:FLAGS]          send N bytes of 'x' in one send
 *   bigmmsg:N:SIZE         one sendmmsg of N messages of SIZE bytes of 'y' (N <= 64); prints the count
 *   recv                   read what s1 has (waits up to 1 s for the first byte), print it
 *   fd:N | fd:pipe | fd:s0 the descriptor later ops send on (N, a pipe's write end, s0)
 *   nonblock               O_NONBLOCK on s0
 *   fill                   send 64 KiB chunks until EAGAIN; prints "fill -1 EAGAIN"
 *   close-peer             close s1
 *   sleep:MS
 *   fork                   fork; the child runs the remaining OPs, the parent waits and
 *                          exits with the child's status
 *   threads:N:M            N threads each send M one-byte datagrams on s0 (a unix-dgram pair
 *                          made for it), a reader drains; prints "threads SENT"
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "target.h"

#define MAX_PARTS 64

static int s[2];
static int out_fd;

static int split(char *text, char *parts[], size_t lens[])
{
    int n = 0;
    for (char *p = text; p && n < MAX_PARTS; n++) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        parts[n] = p;
        lens[n] = strlen(p);
        p = comma ? comma + 1 : NULL;
    }
    return n;
}

/* "TEXT[:FLAGS]" -> TEXT and flags */
static int take_flags(char *arg)
{
    char *colon = strrchr(arg, ':');
    if (!colon)
        return 0;
    *colon = '\0';
    return (int)strtol(colon + 1, NULL, 0);
}

static void report(const char *name, long ret, int err)
{
    if (ret >= 0 && err != 4242) {
        printf("%s %ld errno-changed\n", name, ret);
        fflush(stdout);
        return;
    }
    t_show(name, ret, err);
}

static void do_recv(void)
{
    char buf[70000];
    struct pollfd p = {.fd = s[1], .events = POLLIN};
    int wait_ms = 1000;
    while (poll(&p, 1, wait_ms) > 0 && (p.revents & POLLIN)) {
        ssize_t n = recv(s[1], buf, sizeof buf - 1, MSG_DONTWAIT);
        if (n < 0)
            break;
        if (n == 0) {
            printf("recv EOF\n");
            break;
        }
        buf[n] = '\0';
        printf("recv %zd %s\n", n, n <= 200 ? buf : "(long)");
        wait_ms = 100;
    }
    fflush(stdout);
}

struct thread_arg {
    int fd;
    long count;
    long sent;
};

static void *sender_thread(void *p)
{
    struct thread_arg *a = p;
    for (long i = 0; i < a->count; i++)
        if (send(a->fd, "t", 1, 0) == 1)
            a->sent++;
    return NULL;
}

static void *drain_thread(void *p)
{
    int fd = *(int *)p;
    char c[64];
    while (recv(fd, c, sizeof c, 0) > 0)
        ;
    return NULL;
}

static void do_threads(int n, long m)
{
    int pair[2];
    pthread_t th[64], reader;
    struct thread_arg args[64];
    if (n > 64)
        n = 64;
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair))
        t_die("socketpair");
    pthread_create(&reader, NULL, drain_thread, &pair[1]);
    for (int i = 0; i < n; i++) {
        args[i] = (struct thread_arg){.fd = pair[0], .count = m};
        pthread_create(&th[i], NULL, sender_thread, &args[i]);
    }
    long total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        total += args[i].sent;
    }
    shutdown(pair[1], SHUT_RD);
    close(pair[0]);
    pthread_join(reader, NULL);
    printf("threads %ld\n", total);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sendprog KIND OP...\n");
        return 2;
    }
    t_pair(argv[1], s);
    out_fd = s[0];
    int dgram = strstr(argv[1], "udp") || !strcmp(argv[1], "unix-dgram");
    struct sockaddr_storage peer;
    socklen_t peerlen = sizeof peer;
    if (getpeername(s[0], (struct sockaddr *)&peer, &peerlen))
        peerlen = 0;

    for (int i = 2; i < argc; i++) {
        char *op = argv[i];
        char *arg = strchr(op, ':');
        if (arg)
            *arg++ = '\0';
        char *parts[MAX_PARTS];
        size_t lens[MAX_PARTS];
        long ret;
        int flags;
        errno = 4242;
        if (!strcmp(op, "send")) {
            flags = take_flags(arg);
            errno = 4242;
            ret = send(out_fd, arg, strlen(arg), flags);
            report(op, ret, errno);
        } else if (!strcmp(op, "sendto")) {
            flags = take_flags(arg);
            errno = 4242;
            ret = sendto(out_fd, arg, strlen(arg), flags, dgram && peerlen ? (struct sockaddr *)&peer : NULL,
                         dgram ? peerlen : 0);
            report(op, ret, errno);
        } else if (!strcmp(op, "sendmsg") || !strcmp(op, "writev")) {
            int is_msg = !strcmp(op, "sendmsg");
            flags = is_msg ? take_flags(arg) : 0;
            int n = split(arg, parts, lens);
            struct iovec iov[MAX_PARTS];
            for (int k = 0; k < n; k++)
                iov[k] = (struct iovec){parts[k], lens[k]};
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
            errno = 4242;
            ret = is_msg ? sendmsg(out_fd, &m, flags) : writev(out_fd, iov, n);
            report(op, ret, errno);
        } else if (!strcmp(op, "sendmmsg")) {
            flags = take_flags(arg);
            int n = split(arg, parts, lens);
            struct iovec iov[MAX_PARTS];
            struct mmsghdr v[MAX_PARTS];
            memset(v, 0, sizeof v);
            for (int k = 0; k < n; k++) {
                iov[k] = (struct iovec){parts[k], lens[k]};
                v[k].msg_hdr.msg_iov = &iov[k];
                v[k].msg_hdr.msg_iovlen = 1;
                v[k].msg_len = 0xdead;
            }
            errno = 4242;
            ret = sendmmsg(out_fd, v, (unsigned)n, flags);
            report(op, ret, errno);
            for (int k = 0; k < n; k++)
                printf("msg_len[%d] %u\n", k, v[k].msg_len);
        } else if (!strcmp(op, "write")) {
            errno = 4242;
            ret = write(out_fd, arg, strlen(arg));
            report(op, ret, errno);
        } else if (!strcmp(op, "big")) {
            flags = take_flags(arg);
            size_t n = strtoul(arg, NULL, 0);
            char *buf = malloc(n ? n : 1);
            memset(buf, 'x', n);
            errno = 4242;
            ret = send(out_fd, buf, n, flags);
            report(op, ret, errno);
            free(buf);
        } else if (!strcmp(op, "bigmmsg")) {
            char *colon = strchr(arg, ':');
            int n = atoi(arg);
            size_t size = colon ? strtoul(colon + 1, NULL, 0) : 1;
            if (n < 1 || n > MAX_PARTS)
                n = 1;
            char *buf = malloc(size ? size : 1);
            memset(buf, 'y', size);
            struct iovec iov = {buf, size};
            struct mmsghdr v[MAX_PARTS];
            memset(v, 0, sizeof v);
            for (int k = 0; k < n; k++) {
                v[k].msg_hdr.msg_iov = &iov;
                v[k].msg_hdr.msg_iovlen = 1;
            }
            errno = 4242;
            ret = sendmmsg(out_fd, v, (unsigned)n, 0);
            report(op, ret, errno);
            free(buf);
        } else if (!strcmp(op, "recv")) {
            do_recv();
        } else if (!strcmp(op, "fd")) {
            if (!strcmp(arg, "pipe")) {
                int p[2];
                if (pipe(p))
                    t_die("pipe");
                out_fd = p[1];
            } else if (!strcmp(arg, "s0")) {
                out_fd = s[0];
            } else {
                out_fd = atoi(arg);
            }
        } else if (!strcmp(op, "nonblock")) {
            fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) | O_NONBLOCK);
        } else if (!strcmp(op, "fill")) {
            static char chunk[65536];
            do {
                ret = send(out_fd, chunk, sizeof chunk, MSG_DONTWAIT);
            } while (ret > 0);
            t_show(op, ret, errno);
        } else if (!strcmp(op, "close-peer")) {
            close(s[1]);
        } else if (!strcmp(op, "sleep")) {
            usleep((useconds_t)atoi(arg) * 1000);
        } else if (!strcmp(op, "fork")) {
            int st;
            if (t_fork_wait(&st) > 0)
                return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        } else if (!strcmp(op, "threads")) {
            int n = atoi(arg);
            char *m = strchr(arg, ':');
            do_threads(n, m ? atol(m + 1) : 1000);
        } else {
            fprintf(stderr, "sendprog: unknown op '%s'\n", op);
            return 2;
        }
    }
    return 0;
}
