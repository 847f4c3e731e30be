/* stress_signals MIB [PERIOD_US] - sends from a SIGALRM handler at a high
 * rate while the main loop sends a checked stream.
 *
 * An interval timer (default every 100 us) raises SIGALRM; its handler sends
 * one 64-byte datagram (sequence number, checksum, a body made from the
 * sequence number) on a unix dgram pair with sendto or sendmsg, MSG_DONTWAIT,
 * retrying EINTR a few times. Meanwhile the main thread sends MIB MiB of a
 * known pattern over TCP with send/sendmsg, completing short counts and
 * retrying EINTR (SA_RESTART is off, so real EINTR happens as well). Two
 * receiver threads (SIGALRM blocked there, so the handler always interrupts
 * the main thread) check every datagram and every stream byte. Prints
 *
 *   handler calls=N sent=N eagain=N eintr=N
 *   main calls=N
 *   dgram received=N bad=N
 *   stream sent=N received=N corrupt=N
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "target.h"

#define DGRAM_BYTES     64
#define HANDLER_RETRIES 3 /* EINTR retries in the handler */
#define STREAM_CHUNK    8192
#define DRAIN_IDLE_MS   300
#define DEFAULT_PERIOD  100 /* microseconds between two SIGALRMs */

static int d[2], t[2];
static uint64_t h_calls, h_sent, h_eagain, h_eintr, h_seq;
static uint64_t main_calls;
static uint64_t dg_received, dg_bad;
static uint64_t st_received, st_corrupt;
static int done;

static unsigned char pattern(uint64_t off)
{
    return (unsigned char)(off * 31 + (off >> 9));
}

/* FNV-1a over the body. */
static uint32_t sum(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void make_dgram(unsigned char *m, uint32_t seq)
{
    for (size_t i = 8; i < DGRAM_BYTES; i++)
        m[i] = (unsigned char)(seq * 17 + i);
    uint32_t c = sum(m + 8, DGRAM_BYTES - 8);
    memcpy(m, &seq, 4);
    memcpy(m + 4, &c, 4);
}

/* Async-signal-safe: a stack buffer, sendto/sendmsg, atomics. */
static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    unsigned char m[DGRAM_BYTES];
    uint64_t seq = __atomic_fetch_add(&h_seq, 1, __ATOMIC_RELAXED);
    make_dgram(m, (uint32_t)seq);
    for (int tries = 0; tries <= HANDLER_RETRIES; tries++) {
        long r;
        if (seq & 1) {
            struct iovec iov[2] = {{m, 20}, {m + 20, DGRAM_BYTES - 20}};
            struct msghdr h = {.msg_iov = iov, .msg_iovlen = 2};
            r = sendmsg(d[0], &h, MSG_DONTWAIT);
        } else {
            r = sendto(d[0], m, DGRAM_BYTES, MSG_DONTWAIT, NULL, 0);
        }
        __atomic_add_fetch(&h_calls, 1, __ATOMIC_RELAXED);
        if (r == DGRAM_BYTES) {
            __atomic_add_fetch(&h_sent, 1, __ATOMIC_RELAXED);
            break;
        }
        if (r < 0 && errno == EINTR) {
            __atomic_add_fetch(&h_eintr, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (r < 0 && errno == EAGAIN)
            __atomic_add_fetch(&h_eagain, 1, __ATOMIC_RELAXED);
        break;
    }
    errno = saved;
}

static void block_alarm(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static void *dgram_rx(void *arg)
{
    (void)arg;
    block_alarm();
    unsigned char m[DGRAM_BYTES + 16];
    int idle = 0;
    for (;;) {
        struct pollfd p = {.fd = d[1], .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            ssize_t n;
            while ((n = recv(d[1], m, sizeof m, MSG_DONTWAIT)) >= 0) {
                unsigned char want[DGRAM_BYTES];
                uint32_t seq;
                memcpy(&seq, m, 4);
                make_dgram(want, seq);
                if (n != DGRAM_BYTES || memcmp(m, want, DGRAM_BYTES))
                    dg_bad++;
                dg_received++;
            }
            idle = 0;
        } else if (__atomic_load_n(&done, __ATOMIC_ACQUIRE) && (idle += 50) > DRAIN_IDLE_MS) {
            return NULL;
        }
    }
}

static void *stream_rx(void *arg)
{
    (void)arg;
    block_alarm();
    static unsigned char buf[1 << 16];
    ssize_t n;
    for (;;) {
        n = recv(t[1], buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(st_received + (uint64_t)i))
                st_corrupt++;
        st_received += (uint64_t)n;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: stress_signals MIB [PERIOD_US]\n");
        return 2;
    }
    uint64_t total = (uint64_t)atol(argv[1]) << 20;
    long period = argc > 2 ? atol(argv[2]) : DEFAULT_PERIOD;
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, d))
        t_die("socketpair");
    t_pair("tcp", t);
    pthread_t r1, r2;
    pthread_create(&r1, NULL, dgram_rx, NULL);
    pthread_create(&r2, NULL, stream_rx, NULL);

    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART: real EINTR too */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, period}, {0, period}};
    setitimer(ITIMER_REAL, &it, NULL);

    static unsigned char chunk[2 * STREAM_CHUNK];
    uint64_t off = 0;
    while (off < total) {
        size_t len = total - off < STREAM_CHUNK ? (size_t)(total - off) : STREAM_CHUNK;
        for (size_t i = 0; i < len; i++)
            chunk[i] = pattern(off + i);
        long r;
        if (main_calls & 1) {
            struct iovec iov[2] = {{chunk, len / 3}, {chunk + len / 3, len - len / 3}};
            struct msghdr h = {.msg_iov = iov, .msg_iovlen = 2};
            r = sendmsg(t[0], &h, 0);
        } else {
            r = send(t[0], chunk, len, 0);
        }
        main_calls++;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            t_die("stream send");
        }
        off += (uint64_t)r;
    }
    struct itimerval off_timer = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off_timer, NULL);
    shutdown(t[0], SHUT_WR);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    pthread_join(r1, NULL);
    pthread_join(r2, NULL);
    printf("handler calls=%llu sent=%llu eagain=%llu eintr=%llu\n", (unsigned long long)h_calls,
           (unsigned long long)h_sent, (unsigned long long)h_eagain, (unsigned long long)h_eintr);
    printf("main calls=%llu\n", (unsigned long long)main_calls);
    printf("dgram received=%llu bad=%llu\n", (unsigned long long)dg_received, (unsigned long long)dg_bad);
    printf("stream sent=%llu received=%llu corrupt=%llu\n", (unsigned long long)off,
           (unsigned long long)st_received, (unsigned long long)st_corrupt);
    return 0;
}
