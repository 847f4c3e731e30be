/* netfault - the network actions of issue 16 seen from the other end of a
 * real socket. The library acts on this program's sends; the receiving end
 * (s[1], in this process) only receives, and reports what arrived.
 *
 *   netfault dup KIND N           N datagrams with sendto (KIND udp or
 *                                 unix-dgram); prints "reported R received M"
 *   netfault dupmmsg N            one sendmmsg of N datagrams over udp;
 *                                 prints "reported R received M"
 *   netfault corrupt KIND BYTES   one send of BYTES pattern bytes (KIND udp,
 *                                 tcp, unix-stream); prints "sent S received
 *                                 R flipped F buffer intact|WRITTEN" and the
 *                                 flipped bit offsets "at A,B,..."
 *   netfault corruptmmsg N BYTES  one sendmmsg of N messages of BYTES bytes
 *                                 over udp; prints "message K flipped F" each
 *   netfault burst N              N numbered datagrams on a unix dgram pair
 *                                 (reliable: a loss is the library's);
 *                                 prints "lost L runs R"
 *   netfault reset                tcp: three sends of 5 bytes; prints each
 *                                 result and then the peer's two
 *                                 non-blocking recv results
 *   netfault stall [nb]           tcp: send#1, send#2 (timed), send#3; with
 *                                 nb, MSG_DONTWAIT sends counted until one
 *                                 passes; prints times in ms
 *   netfault teardown CALL        tcp: the peer waits for EOF while we close
 *                                 (CALL close) or shutdown(SHUT_WR) fd 4;
 *                                 prints "eof after MS ms"
 *   netfault epoll BYTES [slow]   tcp, non-blocking, edge-triggered epoll
 *                                 (slow: the peer reads 4 KiB a ms, so the
 *                                 send buffer fills):
 *                                 send 1000-byte chunks until EAGAIN, then
 *                                 wait for EPOLLOUT (3 s at most); prints
 *                                 "sent B waits W" or "hung after B bytes"
 *   netfault ratethreads N BYTES  N threads share one tcp descriptor, each
 *                                 sending BYTES/N in 16 KiB blocking sends;
 *                                 prints "sent S received R in MS ms"
 *   netfault rate MODE BYTES PORT BYTES to 127.0.0.1:PORT with 64 KiB sends,
 *                                 MODE block or poll (non-blocking, waiting
 *                                 in poll for POLLOUT); prints "sent B in MS ms"
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "target.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 131u + 7u);
}

static int drain_count(int fd, size_t size)
{
    char buf[65536];
    int n = 0;
    while (recv(fd, buf, size < sizeof buf ? size : sizeof buf, MSG_DONTWAIT) >= 0)
        n++;
    return n;
}

static int mode_dup(const char *kind, long n)
{
    int s[2];
    t_pair(kind, s);
    long reported = 0;
    for (long i = 0; i < n; i++) {
        uint32_t seq = (uint32_t)i;
        if (send(s[0], &seq, sizeof seq, 0) == (long)sizeof seq)
            reported++;
    }
    usleep(20000);
    printf("reported %ld received %d\n", reported, drain_count(s[1], 4));
    return 0;
}

static int mode_dupmmsg(unsigned n)
{
    int s[2];
    t_pair("udp", s);
    struct mmsghdr v[16];
    struct iovec io[16];
    uint32_t seq[16];
    if (n > 16)
        n = 16;
    memset(v, 0, sizeof v);
    for (unsigned i = 0; i < n; i++) {
        seq[i] = i;
        io[i] = (struct iovec){&seq[i], sizeof seq[i]};
        v[i].msg_hdr.msg_iov = &io[i];
        v[i].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(s[0], v, n, 0);
    usleep(20000);
    printf("reported %d received %d len0 %u\n", r, drain_count(s[1], 4), v[0].msg_len);
    return 0;
}

static int popcount8(unsigned x)
{
    return __builtin_popcount(x & 0xffu);
}

static int mode_corrupt(const char *kind, size_t bytes)
{
    int s[2];
    t_pair(kind, s);
    unsigned char *buf = malloc(bytes), *copy = malloc(bytes), *got = malloc(bytes);
    if (!buf || !copy || !got)
        t_die("malloc");
    for (size_t i = 0; i < bytes; i++)
        buf[i] = copy[i] = pattern(i);
    long sent = send(s[0], buf, bytes, 0);
    if (sent < 0)
        t_die("send");
    size_t have = 0;
    int stream = strcmp(kind, "udp") != 0;
    while (have < (size_t)sent) {
        long r = recv(s[1], got + have, bytes - have, 0);
        if (r <= 0)
            t_die("recv");
        have += (size_t)r;
        if (!stream)
            break;
    }
    int flipped = 0;
    printf("sent %ld received %zu", sent, have);
    char at[4096] = "";
    for (size_t i = 0; i < have; i++) {
        unsigned d = (unsigned)(got[i] ^ copy[i]);
        flipped += popcount8(d);
        for (unsigned b = 0; b < 8; b++)
            if (d & (1u << b))
                snprintf(at + strlen(at), sizeof at - strlen(at), "%s%zu", at[0] ? "," : "", i * 8 + b);
    }
    printf(" flipped %d buffer %s\nat %s\n", flipped, memcmp(buf, copy, bytes) ? "WRITTEN" : "intact", at);
    return 0;
}

static int mode_corruptmmsg(unsigned n, size_t bytes)
{
    int s[2];
    t_pair("udp", s);
    enum { MAXM = 8, MAXB = 512 };
    static unsigned char data[MAXM][MAXB], copy[MAXM][MAXB];
    struct mmsghdr v[MAXM];
    struct iovec io[MAXM];
    if (n > MAXM || bytes > MAXB)
        return 2;
    memset(v, 0, sizeof v);
    for (unsigned m = 0; m < n; m++) {
        for (size_t i = 0; i < bytes; i++)
            data[m][i] = copy[m][i] = pattern(i + m * 1000u);
        io[m] = (struct iovec){data[m], bytes};
        v[m].msg_hdr.msg_iov = &io[m];
        v[m].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(s[0], v, n, 0);
    printf("reported %d\n", r);
    for (int m = 0; m < r; m++) {
        unsigned char got[MAXB];
        long g = recv(s[1], got, sizeof got, 0);
        int flipped = 0;
        for (long i = 0; i < g; i++)
            flipped += popcount8((unsigned)(got[i] ^ copy[m][i]));
        printf("message %d len %u got %ld flipped %d\n", m, v[m].msg_len, g, flipped);
    }
    printf("buffers %s\n", memcmp(data, copy, sizeof data) ? "WRITTEN" : "intact");
    return 0;
}

struct burst_rx {
    int fd;
    long n;
    long lost, runs;
};

static void *burst_reader(void *arg)
{
    struct burst_rx *rx = arg;
    long expect = 0;
    for (;;) {
        uint32_t seq;
        long r = recv(rx->fd, &seq, sizeof seq, 0);
        if (r != (long)sizeof seq)
            break;
        if (seq == UINT32_MAX)
            break;
        if ((long)seq > expect) {
            rx->lost += (long)seq - expect;
            rx->runs++;
        }
        expect = (long)seq + 1;
    }
    if (rx->n > expect) {
        rx->lost += rx->n - expect;
        rx->runs++;
    }
    return NULL;
}

static int mode_burst(long n)
{
    int s[2];
    t_pair("unix-dgram", s);
    struct burst_rx rx = {s[1], n, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, burst_reader, &rx);
    for (long i = 0; i < n; i++) {
        uint32_t seq = (uint32_t)i;
        if (send(s[0], &seq, sizeof seq, 0) != (long)sizeof seq)
            t_die("send");
    }
    /* The end marker goes around the rules (they name send only). */
    uint32_t end = UINT32_MAX;
    write(s[0], &end, sizeof end);
    pthread_join(t, NULL);
    printf("lost %ld runs %ld\n", rx.lost, rx.runs);
    return 0;
}

static int mode_reset(void)
{
    int s[2];
    signal(SIGPIPE, SIG_IGN);
    t_pair("tcp", s);
    for (int i = 1; i <= 3; i++) {
        errno = 0;
        long r = send(s[0], "hello", 5, 0);
        printf("send%d %ld %s\n", i, r, r < 0 ? t_errname(errno) : "ok");
    }
    char buf[64];
    for (int i = 1; i <= 2; i++) {
        errno = 0;
        long r = recv(s[1], buf, sizeof buf, MSG_DONTWAIT);
        printf("peer%d %ld %s\n", i, r, r < 0 ? t_errname(errno) : "ok");
    }
    return 0;
}

static int mode_stall(int nb)
{
    int s[2];
    signal(SIGPIPE, SIG_IGN);
    t_pair("tcp", s);
    double t0 = now_ms();
    long r1 = send(s[0], "one", 3, 0);
    double t1 = now_ms();
    long r2 = send(s[0], "two", 3, nb ? MSG_DONTWAIT : 0);
    int e2 = errno;
    double t2 = now_ms();
    long eagains = 0;
    if (nb) {
        while (r2 < 0 && e2 == EAGAIN) {
            eagains++;
            usleep(10000);
            r2 = send(s[0], "two", 3, MSG_DONTWAIT);
            e2 = errno;
        }
        t2 = now_ms();
    }
    long r3 = send(s[0], "three", 5, 0);
    int e3 = errno;
    double t3 = now_ms();
    printf("send1 %ld %.0f ms\n", r1, t1 - t0);
    printf("send2 %ld %s %.0f ms eagain %ld\n", r2, r2 < 0 ? t_errname(e2) : "ok", t2 - t1, eagains);
    printf("send3 %ld %s %.0f ms\n", r3, r3 < 0 ? t_errname(e3) : "ok", t3 - t2);
    char buf[64];
    size_t have = 0;
    for (;;) {
        errno = 0;
        long r = recv(s[1], buf + have, sizeof buf - 1 - have, MSG_DONTWAIT);
        if (r <= 0) {
            printf("peer %s\n", r < 0 && errno == ECONNRESET ? "ECONNRESET" : "end");
            break;
        }
        have += (size_t)r;
    }
    buf[have] = 0;
    printf("peer got '%s'\n", buf);
    return 0;
}

struct eof_wait {
    int fd;
    double at;
};

static void *eof_waiter(void *arg)
{
    struct eof_wait *w = arg;
    char buf[256];
    while (recv(w->fd, buf, sizeof buf, 0) > 0)
        ;
    w->at = now_ms();
    return NULL;
}

static int mode_teardown(const char *call)
{
    int s[2];
    t_pair("tcp", s); /* s[0] is fd 4 */
    send(s[0], "bye", 3, 0);
    struct eof_wait w = {s[1], 0};
    pthread_t t;
    pthread_create(&t, NULL, eof_waiter, &w);
    double t0 = now_ms();
    int r = !strcmp(call, "close") ? close(s[0]) : shutdown(s[0], SHUT_WR);
    double t1 = now_ms();
    pthread_join(t, NULL);
    printf("%s %d after %.0f ms; eof after %.0f ms\n", call, r, t1 - t0, w.at - t0);
    return 0;
}

struct sink {
    int fd;
    long got;
    int slow; /* read 4 KiB a millisecond: the sender's buffer fills */
};

static void *sink_reader(void *arg)
{
    struct sink *k = arg;
    char buf[65536];
    long r;
    while ((r = recv(k->fd, buf, k->slow ? 4096 : sizeof buf, 0)) > 0) {
        k->got += r;
        if (k->slow)
            usleep(1000);
    }
    return NULL;
}

static int mode_epoll(long total, int slow)
{
    int s[2];
    t_pair("tcp", s);
    struct sink k = {s[1], 0, slow};
    pthread_t t;
    pthread_create(&t, NULL, sink_reader, &k);
    fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) | O_NONBLOCK);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.fd = s[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, s[0], &ev);
    static char chunk[1000];
    long sent = 0, waits = 0;
    while (sent < total) {
        struct epoll_event got;
        int n = epoll_wait(ep, &got, 1, 3000);
        if (n == 0) {
            printf("hung after %ld bytes\n", sent);
            return 0;
        }
        waits++;
        /* Edge-triggered: write until the kernel says EAGAIN. */
        while (sent < total) {
            long r = send(s[0], chunk, sizeof chunk, 0);
            if (r < 0) {
                if (errno != EAGAIN)
                    t_die("send");
                break;
            }
            sent += r;
        }
    }
    shutdown(s[0], SHUT_WR);
    pthread_join(t, NULL);
    printf("sent %ld waits %ld peer got %ld\n", sent, waits, k.got);
    return 0;
}

struct rate_thread {
    int fd;
    long bytes, sent;
};

static void *rate_sender(void *arg)
{
    struct rate_thread *t = arg;
    static char chunk[16384];
    while (t->sent < t->bytes) {
        long want = t->bytes - t->sent < (long)sizeof chunk ? t->bytes - t->sent : (long)sizeof chunk;
        long r = send(t->fd, chunk, (size_t)want, 0);
        if (r < 0)
            t_die("send");
        t->sent += r;
    }
    return NULL;
}

static int mode_ratethreads(int n, long total)
{
    int s[2];
    t_pair("tcp", s);
    struct sink k = {s[1], 0, 0};
    pthread_t reader, th[16];
    struct rate_thread t[16];
    if (n < 1 || n > 16)
        return 2;
    pthread_create(&reader, NULL, sink_reader, &k);
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        t[i] = (struct rate_thread){s[0], total / n, 0};
        pthread_create(&th[i], NULL, rate_sender, &t[i]);
    }
    long sent = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        sent += t[i].sent;
    }
    double t1 = now_ms();
    shutdown(s[0], SHUT_WR);
    pthread_join(reader, NULL);
    printf("sent %ld received %ld in %.0f ms\n", sent, k.got, t1 - t0);
    return 0;
}

static int mode_rate(const char *mode, long total, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
        t_die("connect");
    int poll_mode = !strcmp(mode, "poll");
    if (poll_mode)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    static char buf[65536];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)pattern(i);
    double t0 = now_ms();
    long sent = 0, calls = 0, eagains = 0;
    while (sent < total) {
        size_t want = (size_t)(total - sent) < sizeof buf ? (size_t)(total - sent) : sizeof buf;
        long r = send(fd, buf, want, 0);
        calls++;
        if (r < 0) {
            if (poll_mode && errno == EAGAIN) {
                eagains++;
                struct pollfd p = {fd, POLLOUT, 0};
                poll(&p, 1, -1);
                continue;
            }
            t_die("send");
        }
        sent += r;
    }
    double t1 = now_ms();
    close(fd);
    printf("sent %ld in %.0f ms (%ld calls, %ld EAGAIN)\n", sent, t1 - t0, calls, eagains);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 4 && !strcmp(argv[1], "dup"))
        return mode_dup(argv[2], atol(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "dupmmsg"))
        return mode_dupmmsg((unsigned)atoi(argv[2]));
    if (argc >= 4 && !strcmp(argv[1], "corrupt"))
        return mode_corrupt(argv[2], (size_t)atol(argv[3]));
    if (argc >= 4 && !strcmp(argv[1], "corruptmmsg"))
        return mode_corruptmmsg((unsigned)atoi(argv[2]), (size_t)atol(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "burst"))
        return mode_burst(atol(argv[2]));
    if (argc >= 2 && !strcmp(argv[1], "reset"))
        return mode_reset();
    if (argc >= 2 && !strcmp(argv[1], "stall"))
        return mode_stall(argc >= 3 && !strcmp(argv[2], "nb"));
    if (argc >= 3 && !strcmp(argv[1], "teardown"))
        return mode_teardown(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "epoll"))
        return mode_epoll(atol(argv[2]), argc >= 4 && !strcmp(argv[3], "slow"));
    if (argc >= 4 && !strcmp(argv[1], "ratethreads"))
        return mode_ratethreads(atoi(argv[2]), atol(argv[3]));
    if (argc >= 5 && !strcmp(argv[1], "rate"))
        return mode_rate(argv[2], atol(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: see the comment at the top of netfault.c\n");
    return 2;
}
