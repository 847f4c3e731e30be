/* netfaults.c - reset, rate=, stall=, dup and corrupt= at the kernel (SPEC 8).
 *
 * reset. connect(2) with AF_UNSPEC on a TCP socket runs tcp_disconnect()
 * (net/ipv4/tcp.c), which sends a RST when the connection is established or
 * closing (tcp_need_reset) or data is unsent, and leaves the socket CLOSED
 * with sk_err = ECONNRESET; the descriptor stays open. The pending error is
 * then read off with getsockopt(SO_ERROR), so that this call reports
 * ECONNRESET and the next ones get what the kernel gives a send on a closed
 * TCP socket: EPIPE (sk_stream_wait_connect), SIGPIPE unless suppressed.
 * SO_LINGER {1, 0} resets only at close, which would close the program's
 * descriptor.
 *
 * rate=. A token bucket per descriptor, kept as one 64-bit word: the time
 * at which the bucket was (or will be) empty (GCRA). Taking n bytes moves it
 * forward by n/R from max(word, now - 100 ms), by compare-and-swap: no lock,
 * so threads sharing a descriptor each claim their own share; a blocking
 * call then sleeps until the time its bytes are covered. The word starts at
 * the descriptor's first rate= call: the bucket starts empty.
 *
 * stall=. A per-descriptor deadline (and whether a reset follows it).
 *
 * Both live in a side table indexed by descriptor, mapped a chunk at a time
 * on first use (like fdtable.c), forgotten when close() is interposed.
 *
 * dup and corrupt= send by themselves: dup forwards the request twice;
 * corrupt= sends a copy in which the flipped bytes are single bytes of its
 * own, between pieces of the program's buffers (a scatter list), so the
 * program's memory is never written and nothing large is copied. */
#include "netfaults.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fdtable.h"
#include "pipeline.h"
#include "real.h"

#define SS_NS_PER_S        1000000000ull
#define SS_NET_CHUNK_SHIFT 10
#define SS_NET_CHUNK       (1u << SS_NET_CHUNK_SHIFT)
#define SS_NET_NCHUNKS     (SS_FD_LIMIT / SS_NET_CHUNK)
#define SS_NET_PIECE_IOV   64 /* iovecs of one rate= piece (a piece is cut to fit) */
/* corrupt=: the scatter list of the copy: the program's pieces and the
 * flipped bytes between them (each flipped byte splits one piece in two). */
#define SS_NET_CORRUPT_IOV (SS_NET_PIECE_IOV + 2 * (int)SS_CORRUPT_MAX)

struct ss_net_entry {
    uint64_t empty_at;    /* rate=: when the bucket is empty (ns, CLOCK_MONOTONIC); 0: unused */
    uint64_t stall_until; /* stall=: sends nothing before this (ns) */
    unsigned reset_due;   /* stall= with reset: reset when the stall ends */
};

static struct ss_net_entry *chunks[SS_NET_NCHUNKS];

static struct ss_net_entry *entry(int fd, int make)
{
    if ((unsigned)fd >= SS_FD_LIMIT)
        return NULL;
    struct ss_net_entry **slot = &chunks[(unsigned)fd >> SS_NET_CHUNK_SHIFT];
    struct ss_net_entry *c = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!c && make) {
        void *m =
            mmap(NULL, SS_NET_CHUNK * sizeof *c, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        struct ss_net_entry *none = NULL;
        if (__atomic_compare_exchange_n(slot, &none, (struct ss_net_entry *)m, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            c = m;
        else {
            munmap(m, SS_NET_CHUNK * sizeof *c);
            c = none;
        }
    }
    return c ? &c[(unsigned)fd & (SS_NET_CHUNK - 1)] : NULL;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * SS_NS_PER_S + (uint64_t)t.tv_nsec;
}

/* Sleep until `when` (ns, CLOCK_MONOTONIC); a signal resumes the sleep. */
static void sleep_until(uint64_t when)
{
    struct timespec t = {.tv_sec = (time_t)(when / SS_NS_PER_S), .tv_nsec = (long)(when % SS_NS_PER_S)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
        ;
}

void ss_net_forget(int fd)
{
    struct ss_net_entry *e = entry(fd, 0);
    if (!e)
        return;
    __atomic_store_n(&e->empty_at, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->stall_until, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->reset_due, 0, __ATOMIC_RELAXED);
}

int ss_net_nonblocking(const struct ss_request *rq)
{
    if (rq->flags & MSG_DONTWAIT)
        return 1;
    int saved = errno;
    int fl = (int)syscall(SYS_fcntl, rq->fd, F_GETFL);
    errno = saved;
    return fl >= 0 && (fl & O_NONBLOCK);
}

void ss_net_tcp_reset(int fd)
{
    int saved = errno;
    struct sockaddr unspec;
    memset(&unspec, 0, sizeof unspec);
    unspec.sa_family = AF_UNSPEC;
    syscall(SYS_connect, fd, &unspec, (socklen_t)sizeof unspec);
    int pending;
    socklen_t len = sizeof pending;
    SS_REAL(getsockopt)(fd, SOL_SOCKET, SO_ERROR, &pending, &len);
    errno = saved;
}

void ss_net_wake_full(int fd, uint64_t st)
{
    /* A real EAGAIN ends with the kernel's wakeup when the send buffer
     * drains; an injected one left the buffer as it was. Two cases:
     * - The socket is writable (poll says POLLOUT): nothing will drain, so
     *   the wakeup is made now. do_tcp_setsockopt(TCP_NOTSENT_LOWAT) stores
     *   the value and calls sk->sk_write_space(sk) (sk_stream_write_space),
     *   which wakes poll/epoll waiters with EPOLLOUT: the edge an
     *   edge-triggered epoll needs. The value is set to what it is, so
     *   nothing else changes (SO_SNDBUF would also call it, but would lock
     *   the buffer size and stop autotuning).
     * - It is not writable (the buffer really is nearly full): tcp_poll,
     *   finding it so, has just set SOCK_NOSPACE, the flag a real EAGAIN
     *   sets, without which tcp_check_space never calls sk_write_space when
     *   the buffer drains. So the kernel's own wakeup comes, at the right
     *   time.
     * Other sockets: see README Limits. */
    /* TCP only: the kind is known after a descriptor's first probe, so
     * other sockets cost no system call here. */
    if (!(st & SS_FD_KNOWN))
        st = ss_fd_probe(fd);
    if (ss_fd_type(st) != SOCK_STREAM || (ss_fd_family(st) != AF_INET && ss_fd_family(st) != AF_INET6))
        return;
    int saved = errno;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) {
        int v;
        socklen_t len = sizeof v;
        if (SS_REAL(getsockopt)(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len) == 0)
            SS_REAL(setsockopt)(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, len);
    }
    errno = saved;
}

/* ---- the request's bytes ---------------------------------------------------- */

/* The bytes of a request (sendmmsg: of message k) as an iovec list. */
static void payload(const struct ss_request *rq, unsigned k, struct iovec *one, const struct iovec **iov,
                    size_t *n)
{
    switch (rq->call) {
    case SS_CALL_WRITEV:
        *iov = rq->iov;
        *n = rq->iovcnt > 0 ? (size_t)rq->iovcnt : 0;
        return;
    case SS_CALL_SENDMSG:
        *iov = rq->msg->msg_iov;
        *n = rq->msg->msg_iovlen;
        return;
    case SS_CALL_SENDMMSG:
        *iov = rq->vec[k].msg_hdr.msg_iov;
        *n = rq->vec[k].msg_hdr.msg_iovlen;
        return;
    default:
        one->iov_base = (void *)rq->buf;
        one->iov_len = rq->len;
        *iov = one;
        *n = 1;
        return;
    }
}

static uint64_t iov_bytes(const struct iovec *iov, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; iov && i < n; i++)
        sum += iov[i].iov_len;
    return sum;
}

/* A request like rq (not sendmmsg) that sends the iovecs v[0..n) instead:
 * write/writev become writev, the send calls sendmsg to the same address,
 * with rq's control data when `control`. */
static ssize_t send_iov(const struct ss_request *rq, struct iovec *v, size_t n, int control)
{
    struct ss_request sub = *rq;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    if (rq->call == SS_CALL_WRITE || rq->call == SS_CALL_WRITEV) {
        sub.call = SS_CALL_WRITEV;
        sub.iov = v;
        sub.iovcnt = (int)n;
        return ss_forward(&sub);
    }
    m.msg_iov = v;
    m.msg_iovlen = n;
    if (rq->call == SS_CALL_SENDTO) {
        m.msg_name = (void *)rq->addr;
        m.msg_namelen = rq->addrlen;
    } else if (rq->call == SS_CALL_SENDMSG) {
        m.msg_name = rq->msg->msg_name;
        m.msg_namelen = rq->msg->msg_namelen;
        if (control) {
            m.msg_control = rq->msg->msg_control;
            m.msg_controllen = rq->msg->msg_controllen;
        }
    }
    sub.call = SS_CALL_SENDMSG;
    sub.msg = &m;
    return ss_forward(&sub);
}

/* Bytes [off, off + len) of the request's data (not sendmmsg), as at most
 * SS_NET_PIECE_IOV iovecs in v; returns how many, *len cut to what fits. */
static size_t slice(const struct ss_request *rq, uint64_t off, uint64_t *len, struct iovec *v)
{
    struct iovec one;
    const struct iovec *iov;
    size_t n, k = 0;
    uint64_t want = *len, got = 0;
    payload(rq, 0, &one, &iov, &n);
    for (size_t i = 0; i < n && got < want && k < SS_NET_PIECE_IOV; i++) {
        uint64_t l = iov[i].iov_len;
        if (off >= l) {
            off -= l;
            continue;
        }
        uint64_t take = l - off;
        if (take > want - got)
            take = want - got;
        v[k].iov_base = (char *)iov[i].iov_base + off;
        v[k].iov_len = (size_t)take;
        k++;
        got += take;
        off = 0;
    }
    *len = got;
    return k;
}

/* ---- dup -------------------------------------------------------------------- */

static ssize_t apply_dup(const struct ss_request *rq)
{
    ssize_t r = ss_forward(rq);
    if (r < 0)
        return r;
    int saved = errno;
    /* The copy: what it returns is not the program's business (a datagram
     * the network duplicated costs the sender nothing). For sendmmsg only
     * the messages the first call sent. */
    struct ss_request again = *rq;
    if (rq->call == SS_CALL_SENDMMSG)
        again.vlen = (unsigned)r; /* the same datagrams: the same msg_len */
    ss_forward(&again);
    errno = saved;
    return r;
}

/* ---- corrupt= --------------------------------------------------------------- */

/* The scatter list of `iov` with the bits at offsets at[0..n) (ascending)
 * flipped: each byte holding one becomes a byte of flip[]. Returns the
 * entries, or -1 when they would not fit in out. */
static int corrupt_iov(const struct iovec *iov, size_t niov, const uint64_t *at, unsigned n,
                       unsigned char *flip, struct iovec *out)
{
    int k = 0;
    unsigned j = 0, nflip = 0;
    uint64_t base = 0; /* byte offset of iov[i] in the data */
    for (size_t i = 0; i < niov; i++) {
        const unsigned char *p = iov[i].iov_base;
        uint64_t len = iov[i].iov_len, done = 0;
        while (j < n && at[j] / 8 < base + len) {
            uint64_t byte = at[j] / 8 - base;
            unsigned char b = p[byte];
            while (j < n && at[j] / 8 == base + byte) { /* every bit of this byte */
                b ^= (unsigned char)(1u << (at[j] % 8));
                j++;
            }
            if (k + 2 > SS_NET_CORRUPT_IOV)
                return -1;
            if (byte > done)
                out[k++] = (struct iovec){(void *)(p + done), (size_t)(byte - done)};
            flip[nflip] = b;
            out[k++] = (struct iovec){&flip[nflip], 1};
            nflip++;
            done = byte + 1;
        }
        if (len > done) {
            if (k + 1 > SS_NET_CORRUPT_IOV)
                return -1;
            out[k++] = (struct iovec){(void *)(p + done), (size_t)(len - done)};
        }
        base += len;
    }
    return k;
}

/* sendmmsg's first message alone, its data replaced by v[0..n): its msg_len
 * is copied back when it went out. Returns what sendmmsg returned (1, or
 * -1 with errno). */
static ssize_t send_first_message(const struct ss_request *rq, struct iovec *v, size_t n)
{
    struct mmsghdr first = rq->vec[0];
    first.msg_hdr.msg_iov = v;
    first.msg_hdr.msg_iovlen = n;
    struct ss_request sub = *rq;
    sub.vec = &first;
    sub.vlen = 1;
    ssize_t r = ss_forward(&sub);
    if (r == 1)
        rq->vec[0].msg_len = first.msg_len;
    return r;
}

/* A flat private copy, for a scatter list too long to split (rare): one
 * mapping, freed after the call. */
static ssize_t corrupt_flat(const struct ss_request *rq, const struct iovec *iov, size_t niov,
                            const struct ss_fault_decision *d, const uint64_t *at, uint64_t bytes)
{
    size_t maplen = (size_t)bytes ? (size_t)bytes : 1;
    unsigned char *copy = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy == MAP_FAILED) {
        errno = ENOBUFS; /* what the kernel says when it has no memory for a send */
        return -1;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < niov; i++) {
        memcpy(copy + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    for (unsigned j = 0; j < d->ncorrupt; j++)
        copy[at[j] / 8] ^= (unsigned char)(1u << (at[j] % 8));
    struct iovec v = {copy, (size_t)bytes};
    ssize_t r;
    if (rq->call == SS_CALL_SENDMMSG)
        r = send_first_message(rq, &v, 1);
    else
        r = send_iov(rq, &v, 1, 1);
    int saved = errno;
    munmap(copy, maplen);
    errno = saved;
    return r;
}

/* Send message 0 (sendmmsg: alone, then the rest of the batch) or the
 * whole request with the chosen bits flipped. */
static ssize_t apply_corrupt(const struct ss_request *rq, const struct ss_fault_decision *d)
{
    struct iovec one, out[SS_NET_CORRUPT_IOV];
    unsigned char flip[SS_CORRUPT_MAX];
    uint64_t at[SS_CORRUPT_MAX];
    const struct iovec *iov;
    size_t niov;
    ss_faults_corrupt_positions(d, at);
    payload(rq, 0, &one, &iov, &niov);
    int k = corrupt_iov(iov, niov, at, d->ncorrupt, flip, out);
    if (rq->call != SS_CALL_SENDMMSG) {
        if (k < 0)
            return corrupt_flat(rq, iov, niov, d, at, iov_bytes(iov, niov));
        return send_iov(rq, out, (size_t)k, 1);
    }
    ssize_t r;
    if (k < 0)
        r = corrupt_flat(rq, iov, niov, d, at, iov_bytes(iov, niov));
    else
        r = send_first_message(rq, out, (size_t)k);
    if (r != 1 || rq->vlen < 2)
        return r;
    /* The rest of the batch as it is; a failure there ends the batch early,
     * as the kernel's sendmmsg does after a first success. */
    int saved = errno;
    struct ss_request rest = *rq;
    rest.vec = rq->vec + 1;
    rest.vlen = (rq->vlen > SS_MMSG_VLEN_CAP ? SS_MMSG_VLEN_CAP : rq->vlen) - 1;
    ssize_t more = ss_forward(&rest);
    errno = saved;
    return more > 0 ? 1 + more : 1;
}

/* ---- rate= ------------------------------------------------------------------ */

static uint64_t cost_ns(uint64_t bytes, uint64_t bps)
{
    return (uint64_t)((unsigned __int128)bytes * SS_NS_PER_S / bps);
}

/* The bucket's bytes at `now`, and the word they were read from. */
static uint64_t bucket_avail(struct ss_net_entry *e, uint64_t bps, uint64_t now, uint64_t *word)
{
    uint64_t w = __atomic_load_n(&e->empty_at, __ATOMIC_ACQUIRE);
    if (!w) { /* the first call: the bucket starts empty now */
        uint64_t none = 0;
        if (__atomic_compare_exchange_n(&e->empty_at, &none, now, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            w = now;
        else
            w = none;
    }
    *word = w;
    if (w >= now)
        return 0;
    uint64_t full = now - w > SS_RATE_BURST_NS ? SS_RATE_BURST_NS : now - w;
    return (uint64_t)((unsigned __int128)full * bps / SS_NS_PER_S);
}

/* Take n bytes from the bucket; returns the time they are covered (may be
 * in the future: the caller sleeps until then). */
static uint64_t bucket_take(struct ss_net_entry *e, uint64_t bps, uint64_t n, uint64_t now)
{
    uint64_t w;
    bucket_avail(e, bps, now, &w);
    for (;;) {
        uint64_t from = w;
        if (now > SS_RATE_BURST_NS && from < now - SS_RATE_BURST_NS)
            from = now - SS_RATE_BURST_NS; /* the bucket holds at most 100 ms */
        uint64_t next = from + cost_ns(n, bps);
        if (__atomic_compare_exchange_n(&e->empty_at, &w, next, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return next;
    }
}

/* Give back bytes taken but not sent. */
static void bucket_refund(struct ss_net_entry *e, uint64_t bps, uint64_t n)
{
    if (n)
        __atomic_sub_fetch(&e->empty_at, cost_ns(n, bps), __ATOMIC_ACQ_REL);
}

static uint64_t bucket_bytes(uint64_t bps)
{
    uint64_t b = bps / (SS_NS_PER_S / SS_RATE_BURST_NS);
    return b ? b : 1;
}

/* sendmmsg under rate=: whole messages, each paid for before it goes. */
static ssize_t rate_mmsg(const struct ss_request *rq, struct ss_net_entry *e, uint64_t bps, int nonblock)
{
    unsigned vlen = rq->vlen > SS_MMSG_VLEN_CAP ? SS_MMSG_VLEN_CAP : rq->vlen;
    if (nonblock) {
        uint64_t w, avail = bucket_avail(e, bps, now_ns(), &w), sum = 0;
        unsigned k = 0;
        for (; k < vlen; k++) {
            uint64_t b = iov_bytes(rq->vec[k].msg_hdr.msg_iov, rq->vec[k].msg_hdr.msg_iovlen);
            if (sum + b > avail && !(k == 0 && avail >= bucket_bytes(bps)))
                break;
            sum += b;
        }
        if (!k) {
            errno = EAGAIN;
            return -1;
        }
        bucket_take(e, bps, sum, now_ns());
        struct ss_request sub = *rq;
        sub.vlen = k;
        ssize_t r = ss_forward(&sub);
        uint64_t sent = 0;
        for (ssize_t i = 0; i < r; i++)
            sent += rq->vec[i].msg_len;
        bucket_refund(e, bps, sum - (sent < sum ? sent : sum));
        return r;
    }
    ssize_t done = 0;
    for (unsigned k = 0; k < vlen; k++) {
        uint64_t b = iov_bytes(rq->vec[k].msg_hdr.msg_iov, rq->vec[k].msg_hdr.msg_iovlen);
        sleep_until(bucket_take(e, bps, b, now_ns()));
        struct ss_request sub = *rq;
        sub.vec = rq->vec + k;
        sub.vlen = 1;
        ssize_t r = ss_forward(&sub);
        if (r != 1) {
            bucket_refund(e, bps, b);
            return done ? done : r;
        }
        done++;
    }
    return done;
}

static ssize_t apply_rate(const struct ss_request *rq, const struct ss_fault_decision *d, int type,
                          int *eagain)
{
    uint64_t bps = d->rate_bps;
    struct ss_net_entry *e = entry(rq->fd, 1);
    if (!e)
        return ss_forward(rq); /* no memory for the bucket: not limited */
    int nonblock = ss_net_nonblocking(rq);
    if (rq->call == SS_CALL_SENDMMSG) {
        ssize_t r = rate_mmsg(rq, e, bps, nonblock);
        *eagain = r < 0 && errno == EAGAIN && nonblock;
        return r;
    }
    struct iovec one;
    const struct iovec *iov;
    size_t niov;
    payload(rq, 0, &one, &iov, &niov);
    uint64_t total = iov_bytes(iov, niov);
    int stream = type == SOCK_STREAM;
    if (!total)
        return ss_forward(rq);
    if (nonblock) {
        uint64_t w, avail = bucket_avail(e, bps, now_ns(), &w);
        /* A datagram goes whole or not at all; one larger than the bucket
         * goes when the bucket is full, and leaves it in debt. */
        uint64_t n = stream ? (avail < total ? avail : total)
                            : (avail >= total || avail >= bucket_bytes(bps) ? total : 0);
        if (!n) {
            *eagain = 1;
            errno = EAGAIN;
            return -1;
        }
        bucket_take(e, bps, n, now_ns());
        if (n == total) {
            ssize_t r = ss_forward(rq);
            bucket_refund(e, bps, r < 0 ? n : n - (uint64_t)r);
            return r;
        }
        struct iovec v[SS_NET_PIECE_IOV];
        size_t k = slice(rq, 0, &n, v);
        ssize_t r = send_iov(rq, v, k, 1);
        bucket_refund(e, bps, r < 0 ? n : n - (uint64_t)r);
        return r;
    }
    if (!stream) {
        sleep_until(bucket_take(e, bps, total, now_ns()));
        ssize_t r = ss_forward(rq);
        if (r < 0)
            bucket_refund(e, bps, total);
        return r;
    }
    /* A blocking stream call: bucket-sized pieces, each sent when covered. */
    uint64_t off = 0, piece_max = bucket_bytes(bps);
    while (off < total) {
        uint64_t n = total - off < piece_max ? total - off : piece_max;
        struct iovec v[SS_NET_PIECE_IOV];
        size_t k = slice(rq, off, &n, v);
        sleep_until(bucket_take(e, bps, n, now_ns()));
        ssize_t r = send_iov(rq, v, k, off == 0);
        if (r <= 0) {
            bucket_refund(e, bps, n);
            if (off)
                return (ssize_t)off;
            return r;
        }
        bucket_refund(e, bps, n - (uint64_t)r);
        off += (uint64_t)r;
    }
    return (ssize_t)off;
}

/* ---- stall= ----------------------------------------------------------------- */

int ss_net_stall_state(int fd)
{
    struct ss_net_entry *e = entry(fd, 0);
    if (!e)
        return 0;
    uint64_t until = __atomic_load_n(&e->stall_until, __ATOMIC_ACQUIRE);
    if (!until)
        return 0;
    if (now_ns() < until)
        return SS_STALL_ON;
    return __atomic_load_n(&e->reset_due, __ATOMIC_ACQUIRE) ? SS_STALL_ENDED : 0;
}

/* The reset that ends a stall, once (another thread may get there first:
 * it then sees the kernel's own answer). */
static ssize_t stall_reset(const struct ss_request *rq, struct ss_net_entry *e)
{
    if (__atomic_exchange_n(&e->reset_due, 0, __ATOMIC_ACQ_REL))
        ss_net_tcp_reset(rq->fd);
    errno = ECONNRESET;
    return -1;
}

static ssize_t apply_stall(const struct ss_request *rq, const struct ss_fault *f, int *eagain)
{
    struct ss_net_entry *e = entry(rq->fd, 1);
    if (!e)
        return ss_forward(rq);
    if (f->call.stalled == SS_STALL_ENDED)
        return stall_reset(rq, e);
    if (f->call.stalled != SS_STALL_ON) { /* the stall starts with this call */
        __atomic_store_n(&e->reset_due, (f->d.actions & SS_ACT_RESET) ? 1u : 0u, __ATOMIC_RELEASE);
        __atomic_store_n(&e->stall_until, now_ns() + f->d.stall_ns, __ATOMIC_RELEASE);
    }
    if (ss_net_nonblocking(rq)) {
        *eagain = 1;
        errno = EAGAIN;
        return -1;
    }
    sleep_until(__atomic_load_n(&e->stall_until, __ATOMIC_ACQUIRE));
    if (__atomic_load_n(&e->reset_due, __ATOMIC_ACQUIRE))
        return stall_reset(rq, e);
    return ss_forward(rq);
}

/* ---- the entry point -------------------------------------------------------- */

ssize_t ss_net_apply(struct ss_request *rq, struct ss_fault *f, int type)
{
    unsigned a = f->d.actions;
    int eagain = 0;
    ssize_t r;
    if (a & SS_ACT_STALL) {
        r = apply_stall(rq, f, &eagain);
    } else if (a & SS_ACT_RESET) {
        ss_net_tcp_reset(rq->fd);
        errno = ECONNRESET;
        r = -1;
    } else if (a & SS_ACT_DUP) {
        r = apply_dup(rq);
    } else if ((a & SS_ACT_RATE) && (a & SS_ACT_CORRUPT)) {
        /* The bucket pays for the bytes; the copy carries the flips. */
        struct ss_net_entry *e = entry(rq->fd, 1);
        if (e)
            sleep_until(bucket_take(e, f->d.rate_bps, f->bytes, now_ns()));
        r = apply_corrupt(rq, &f->d);
    } else if (a & SS_ACT_RATE) {
        r = apply_rate(rq, &f->d, type, &eagain);
    } else {
        r = apply_corrupt(rq, &f->d);
    }
    f->wake = eagain;
    return r;
}
