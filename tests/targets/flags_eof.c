/* flags_eof - MSG_EOF as the program sees it.
 *
 *   flags_eof KIND CALL [nonblock]
 *
 * KIND: tcp, tcp6, udp, unix-stream, unix-dgram. CALL: send, sendto, sendmsg,
 * sendmmsg, zero (send of 0 bytes), sendmsg-1100 (1100 one-byte iovecs, of
 * which the library sends the first 1024). Sends "hello" (two messages
 * "hel"+"lo" for sendmmsg) with MSG_EOF (0x200), then reports what the peer
 * saw:
 *   "CALL RESULT", "peer N bytes EOF" or "peer N bytes open" (no EOF within
 *   a short wait), then "again RESULT" for one more plain send.
 * nonblock (tcp): O_NONBLOCK sender with a tiny send buffer sends 4 MiB with
 * MSG_EOF, retrying the rest after each short count while a peer thread
 * reads; prints "short" once a short count was seen with no EOF at the peer
 * yet, then "peer N bytes EOF".
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/uio.h>

#include "sendshim.h"
#include "target.h"

#define WAIT_MS 300 /* how long the peer waits for more data or EOF */
#define BIG     (4 << 20)

static int s[2];

/* Read from s[1] until EOF or WAIT_MS of silence. */
static void peer_report(void)
{
    char buf[65536];
    long total = 0;
    int eof = 0;
    for (;;) {
        struct pollfd p = {.fd = s[1], .events = POLLIN};
        if (poll(&p, 1, WAIT_MS) <= 0)
            break;
        ssize_t n = recv(s[1], buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) {
            /* A datagram socket reports an empty datagram as 0, not EOF. */
            int type = 0;
            socklen_t len = sizeof type;
            getsockopt(s[1], SOL_SOCKET, SO_TYPE, &type, &len);
            if (type == SOCK_STREAM) {
                eof = 1;
                break;
            }
            continue;
        }
        if (n < 0)
            break;
        total += n;
    }
    printf("peer %ld bytes %s\n", total, eof ? "EOF" : "open");
    fflush(stdout);
}

static long do_call(const char *call)
{
    char hel[] = "hel", lo[] = "lo";
    struct iovec iov[2] = {{hel, 3}, {lo, 2}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    struct mmsghdr mm[2] = {{.msg_hdr = {.msg_iov = &iov[0], .msg_iovlen = 1}},
                            {.msg_hdr = {.msg_iov = &iov[1], .msg_iovlen = 1}}};
    if (!strcmp(call, "send"))
        return send(s[0], "hello", 5, MSG_EOF);
    if (!strcmp(call, "sendto"))
        return sendto(s[0], "hello", 5, MSG_EOF, NULL, 0);
    if (!strcmp(call, "sendmsg"))
        return sendmsg(s[0], &m, MSG_EOF);
    if (!strcmp(call, "sendmmsg"))
        return sendmmsg(s[0], mm, 2, MSG_EOF);
    if (!strcmp(call, "zero"))
        return send(s[0], "", 0, MSG_EOF);
    if (!strcmp(call, "sendmsg-1100")) {
        static struct iovec v[1100];
        for (int i = 0; i < 1100; i++)
            v[i] = (struct iovec){hel, 1};
        m.msg_iov = v;
        m.msg_iovlen = 1100;
        return sendmsg(s[0], &m, MSG_EOF);
    }
    fprintf(stderr, "unknown call %s\n", call);
    exit(2);
}

static long big_read;
static void *reader(void *arg)
{
    (void)arg;
    char buf[65536];
    for (;;) {
        ssize_t n = recv(s[1], buf, sizeof buf, 0);
        if (n <= 0)
            break;
        __atomic_add_fetch(&big_read, n, __ATOMIC_SEQ_CST);
    }
    printf("peer %ld bytes EOF\n", __atomic_load_n(&big_read, __ATOMIC_SEQ_CST));
    fflush(stdout);
    return NULL;
}

static int nonblock_run(void)
{
    static char data[BIG];
    int small = 4096;
    setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    fcntl(s[0], F_SETFL, O_NONBLOCK);
    memset(data, 'x', sizeof data);
    size_t done = 0;
    int reported = 0;
    /* First call while nobody reads: must be short, and must not end the
     * stream. */
    ssize_t n = send(s[0], data, sizeof data, MSG_EOF);
    if (n < 0 || (size_t)n >= sizeof data) {
        printf("first send %ld: not short\n", (long)n);
        return 1;
    }
    done = (size_t)n;
    char probe[1];
    struct pollfd p = {.fd = s[1], .events = POLLIN};
    /* Drain what arrived so far without consuming an EOF: it must not be there. */
    long seen = 0;
    for (;;) {
        char buf[65536];
        if (poll(&p, 1, 100) <= 0)
            break;
        ssize_t r = recv(s[1], buf, sizeof buf, MSG_DONTWAIT);
        if (r == 0) {
            printf("EOF after a short count\n");
            return 1;
        }
        if (r < 0)
            break;
        seen += r;
    }
    (void)probe;
    __atomic_store_n(&big_read, seen, __ATOMIC_SEQ_CST);
    if (!reported) {
        printf("short\n");
        fflush(stdout);
        reported = 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    while (done < sizeof data) {
        n = send(s[0], data + done, sizeof data - done, MSG_EOF);
        if (n < 0 && errno == EAGAIN) {
            struct pollfd w = {.fd = s[0], .events = POLLOUT};
            poll(&w, 1, 1000);
            continue;
        }
        if (n < 0) {
            t_show("retry", -1, errno);
            return 1;
        }
        done += (size_t)n;
    }
    pthread_join(t, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: flags_eof KIND CALL [nonblock]\n");
        return 2;
    }
    t_pair(argv[1], s);
    if (argc > 3 && !strcmp(argv[3], "nonblock"))
        return nonblock_run();
    long r = do_call(argv[2]);
    t_show(argv[2], r, errno);
    peer_report();
    r = send(s[0], "!", 1, MSG_NOSIGNAL);
    t_show("again", r, errno);
    return 0;
}
