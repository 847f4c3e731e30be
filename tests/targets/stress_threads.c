/* stress_threads THREADS CALLS [steady] - many threads send through the
 * library while another thread keeps replacing the fault rules (with
 * `steady`, the rules of the environment stay in force: calls are counted
 * by the library's descriptor step, shim/core/path.h).
 *
 * Thread i sends on its own connected pair of kind i % 3 (unix dgram, UDP,
 * TCP), exactly CALLS calls, cycling through send, sendto, sendmsg, sendmmsg
 * (two messages) and write. It copes with what the rules inject the way a
 * correct program does: EINTR is retried, a short count on TCP continues
 * where the kernel stopped, a short sendmmsg resends the rest. Each call is
 * one call of the library, counted per function with its failures, so the
 * SENDSHIM_STATS lines can be compared with the counts printed here:
 *
 *   calls send=N sendto=N sendmsg=N sendmmsg=N write=N total=N
 *   failed send=N ... total=N
 *   unix-dgram sent=N received=N        (messages; no loss possible)
 *   udp sent=N received=N               (the kernel and drop may lose some)
 *   tcp sent=N received=N corrupt=N     (bytes, checked against the pattern)
 *   swaps=N rejected=N
 *
 * A controller thread replaces the rules with sendshim_set_faults() until the
 * senders are done (rejected counts the calls that failed).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "../../shim/sendshim.h"
#include "target.h"

#define MAX_THREADS   64
#define DGRAM_BYTES   64  /* one datagram */
#define STREAM_CHUNK  700 /* bytes a stream call asks to send */
#define DRAIN_IDLE_MS 300 /* a dgram receiver stops after this long idle, once senders are done */
#define SWAP_PAUSE_US 200 /* between two rule replacements */
#define NKIND         3

enum kind { K_UNIX_DGRAM, K_UDP, K_TCP };
enum fn { F_SEND, F_SENDTO, F_SENDMSG, F_SENDMMSG, F_WRITE, NFN };
static const char *const kind_name[NKIND] = {"unix-dgram", "udp", "tcp"};
static const char *const fn_name[NFN] = {"send", "sendto", "sendmsg", "sendmmsg", "write"};

/* The rule sets the controller cycles through. Errors are only ones a
 * correct program retries; short= and drop act only where they can. */
static const char *const rule_sets[] = {
    "*:error=EINTR:p=0.02;*:short=50%:type=stream:p=0.3;*:drop:family=inet:p=0.05",
    "send,sendto:error=EINTR:when=1..+7;write,sendmsg:short=1:p=0.2",
    "",
    "sendmmsg:batch=1:p=0.5;*:error=EINTR:p=0.01;*:delay=1us:p=0.001",
    "sendmsg:short=3:type=stream;sendmmsg:short=10%;send:drop:type=dgram:family=inet6,inet:p=0.5",
    /* named addresses (a UDP sender's sendto names its peer): the
     * named-address cache, filled and read by all threads across sets */
    "sendto,sendmsg:peer=127.0.0.1:error=EINTR:p=0.05;sendto:port=1:drop;*:fd=3:error=EINTR:p=0.1",
};

struct sender {
    pthread_t th, rx;
    enum kind kind;
    int s[2];
    long calls;
    uint64_t n_calls[NFN], n_failed[NFN];
    uint64_t sent;     /* messages (dgram) or bytes (tcp) accepted */
    uint64_t received; /* messages or bytes the receiver got */
    uint64_t corrupt;  /* tcp bytes that differ from the pattern */
    struct sockaddr_storage peer;
    socklen_t peerlen;
};

static struct sender snd[MAX_THREADS];
static int senders_done;

/* Byte `off` of a TCP stream, so the receiver can check every byte. */
static unsigned char pattern(uint64_t off, unsigned id)
{
    return (unsigned char)(off * 7 + off / 251 + id * 13);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *receiver(void *arg)
{
    struct sender *x = arg;
    unsigned id = (unsigned)(x - snd);
    static __thread unsigned char buf[1 << 16];
    if (x->kind == K_TCP) {
        ssize_t n;
        while ((n = recv(x->s[1], buf, sizeof buf, 0)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] != pattern(x->received + (uint64_t)i, id))
                    x->corrupt++;
            x->received += (uint64_t)n;
        }
        return NULL;
    }
    int64_t idle_since = 0;
    for (;;) {
        struct pollfd p = {.fd = x->s[1], .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            while (recv(x->s[1], buf, sizeof buf, MSG_DONTWAIT) >= 0)
                x->received++;
            idle_since = 0;
            continue;
        }
        if (!__atomic_load_n(&senders_done, __ATOMIC_ACQUIRE))
            continue;
        if (!idle_since)
            idle_since = now_ms();
        else if (now_ms() - idle_since > DRAIN_IDLE_MS)
            return NULL;
    }
}

/* One call of function f; returns what it returned (messages for sendmmsg). */
static long one_call(struct sender *x, enum fn f, const unsigned char *data, size_t len, struct mmsghdr *v,
                     unsigned *vlen)
{
    int dgram = x->kind != K_TCP;
    struct iovec iov[2] = {{(void *)data, len / 2}, {(void *)(data + len / 2), len - len / 2}};
    switch (f) {
    case F_SEND:
        return send(x->s[0], data, len, 0);
    case F_SENDTO:
        return sendto(x->s[0], data, len, 0, dgram && x->peerlen ? (struct sockaddr *)&x->peer : NULL,
                      dgram ? x->peerlen : 0);
    case F_SENDMSG: {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
        return sendmsg(x->s[0], &m, 0);
    }
    case F_SENDMMSG:
        return sendmmsg(x->s[0], v, *vlen, 0);
    case F_WRITE:
        return write(x->s[0], data, len);
    case NFN:
        break;
    }
    return -1;
}

static void *sender(void *arg)
{
    struct sender *x = arg;
    unsigned id = (unsigned)(x - snd);
    unsigned char dg[DGRAM_BYTES];
    static __thread unsigned char stream[2 * STREAM_CHUNK];
    memset(dg, 'a' + (int)id, sizeof dg);
    uint64_t off = 0; /* tcp: bytes accepted so far */
    /* sendmmsg: two messages; after a short batch the rest is sent next. */
    struct iovec miov[2];
    struct mmsghdr v[2];
    unsigned vdone = 0;
    for (long c = 0; c < x->calls; c++) {
        enum fn f = (enum fn)(c % NFN);
        const unsigned char *data = dg;
        size_t len = sizeof dg;
        if (x->kind == K_TCP) {
            for (size_t i = 0; i < sizeof stream; i++)
                stream[i] = pattern(off + i, id);
            data = stream;
            len = STREAM_CHUNK;
        }
        unsigned vlen = 2 - vdone;
        if (f == F_SENDMMSG) {
            memset(v, 0, sizeof v);
            for (unsigned k = 0; k < vlen; k++) {
                size_t from = x->kind == K_TCP ? (size_t)k * STREAM_CHUNK / 2 : 0;
                miov[k] = (struct iovec){(void *)(data + from), x->kind == K_TCP ? STREAM_CHUNK / 2 : len};
                v[k].msg_hdr.msg_iov = &miov[k];
                v[k].msg_hdr.msg_iovlen = 1;
                if (x->kind != K_TCP && x->peerlen) {
                    v[k].msg_hdr.msg_name = &x->peer;
                    v[k].msg_hdr.msg_namelen = x->peerlen;
                }
            }
        }
        long r = one_call(x, f, data, len, v, &vlen);
        x->n_calls[f]++;
        if (r < 0) {
            x->n_failed[f]++;
            if (errno != EINTR) {
                fprintf(stderr, "thread %u: %s: %s\n", id, fn_name[f], strerror(errno));
                exit(3);
            }
            continue;
        }
        if (f == F_SENDMMSG) {
            for (long k = 0; k < r; k++)
                if (x->kind == K_TCP)
                    off += v[k].msg_len;
                else
                    x->sent++;
            /* A stream message sent in part: the next call starts after it. */
            vdone = 0;
            if (x->kind != K_TCP && r == 1 && vlen == 2)
                vdone = 1;
            continue;
        }
        if (x->kind == K_TCP)
            off += (uint64_t)r;
        else
            x->sent++;
    }
    if (x->kind == K_TCP) {
        x->sent = off;
        shutdown(x->s[0], SHUT_WR);
    }
    return NULL;
}

static long swaps, rejected;

static void *controller(void *arg)
{
    (void)arg;
    size_t n = sizeof rule_sets / sizeof rule_sets[0];
    for (size_t i = 0; !__atomic_load_n(&senders_done, __ATOMIC_ACQUIRE); i++) {
        if (sendshim_set_faults(rule_sets[i % n]))
            rejected++;
        swaps++;
        usleep(SWAP_PAUSE_US);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (argc > 3 && strcmp(argv[3], "steady"))) {
        fprintf(stderr, "usage: stress_threads THREADS CALLS [steady]\n");
        return 2;
    }
    int steady = argc > 3;
    int nth = atoi(argv[1]);
    long calls = atol(argv[2]);
    if (nth < 1 || nth > MAX_THREADS)
        return 2;
    for (int i = 0; i < nth; i++) {
        struct sender *x = &snd[i];
        x->kind = (enum kind)(i % NKIND);
        x->calls = calls;
        if (x->kind == K_UNIX_DGRAM) {
            if (socketpair(AF_UNIX, SOCK_DGRAM, 0, x->s))
                t_die("socketpair");
        } else {
            t_pair(x->kind == K_UDP ? "udp" : "tcp", x->s);
        }
        x->peerlen = sizeof x->peer;
        /* An unnamed unix peer has no address to give sendto (only its family). */
        if (getpeername(x->s[0], (struct sockaddr *)&x->peer, &x->peerlen) ||
            x->peerlen <= (socklen_t)sizeof(sa_family_t))
            x->peerlen = 0;
        /* A deep receive queue, so a busy receiver drops fewer UDP datagrams. */
        int big = 1 << 20;
        setsockopt(x->s[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        pthread_create(&x->rx, NULL, receiver, x);
    }
    pthread_t ctl;
    if (!steady)
        pthread_create(&ctl, NULL, controller, NULL);
    for (int i = 0; i < nth; i++)
        pthread_create(&snd[i].th, NULL, sender, &snd[i]);
    for (int i = 0; i < nth; i++)
        pthread_join(snd[i].th, NULL);
    __atomic_store_n(&senders_done, 1, __ATOMIC_RELEASE);
    if (!steady)
        pthread_join(ctl, NULL);
    for (int i = 0; i < nth; i++)
        pthread_join(snd[i].rx, NULL);

    uint64_t tc[NFN] = {0}, tf[NFN] = {0}, sent[NKIND] = {0}, recvd[NKIND] = {0}, corrupt = 0;
    uint64_t all_c = 0, all_f = 0;
    for (int i = 0; i < nth; i++) {
        for (int f = 0; f < NFN; f++) {
            tc[f] += snd[i].n_calls[f];
            tf[f] += snd[i].n_failed[f];
        }
        sent[snd[i].kind] += snd[i].sent;
        recvd[snd[i].kind] += snd[i].received;
        corrupt += snd[i].corrupt;
    }
    printf("calls");
    for (int f = 0; f < NFN; f++) {
        printf(" %s=%llu", fn_name[f], (unsigned long long)tc[f]);
        all_c += tc[f];
    }
    printf(" total=%llu\nfailed", (unsigned long long)all_c);
    for (int f = 0; f < NFN; f++) {
        printf(" %s=%llu", fn_name[f], (unsigned long long)tf[f]);
        all_f += tf[f];
    }
    printf(" total=%llu\n", (unsigned long long)all_f);
    for (int k = 0; k < NKIND; k++)
        printf("%s sent=%llu received=%llu\n", kind_name[k], (unsigned long long)sent[k],
               (unsigned long long)recvd[k]);
    printf("tcp corrupt=%llu\nswaps=%ld rejected=%ld\n", (unsigned long long)corrupt, swaps, rejected);
    return 0;
}
