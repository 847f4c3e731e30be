/* sendbench - the loop `make bench` measures (SPEC section 13).
 *
 *   sendbench [-f RULES] CALL SOCK N   N calls of CALL on SOCK, timed
 *   sendbench fds NFDS [NOFILE]        memory with NFDS descriptors in use
 *
 * CALL: send, sendto, sendmsg (64-byte datagrams), sendmmsg (a batch of 32
 * messages of 64 bytes per call). SOCK: unix (an AF_UNIX SOCK_DGRAM
 * socketpair), udp (UDP over 127.0.0.1; sendto's socket is not connected and
 * names the destination on every call) or conn (UDP over 127.0.0.1, connected
 * for every call; sendto still names the destination, the connected peer).
 * -f RULES: before the first call, give RULES to the library at run time with
 * sendshim_set_faults, found with dlsym(RTLD_DEFAULT) as sendshim.h's wrapper
 * does (exit 2 when the library is not loaded or refuses them). After every call the receiver is
 * drained with one recv/recvmmsg(MSG_DONTWAIT), so queues never fill and
 * every iteration does the same work. The timed calls live in bench_loop(),
 * which nothing else calls, so `valgrind --tool=callgrind
 * --toggle-collect=bench_loop` counts exactly the N measured calls (the
 * warm-up goes through warm_loop, a different symbol). Prints one line:
 *   call=send sock=unix n=N calls=TOTAL ns_per_call=X ns_best=Y ok=K failed=F errno=NAME warm_failed=W
 * where calls counts warm-up too (for syscall counts), X is the mean over
 * the N calls and Y the mean of the fastest of CHUNKS equal slices of them
 * (timed separately; bench_loop runs once per slice), ok the calls that
 * returned the full length/count, failed the calls that returned -1 (the
 * last errno named), W the warm-up calls that returned -1.
 *
 * fds mode raises RLIMIT_NOFILE to max(NFDS + slack, NOFILE), fills the
 * table with dups of one socket up to NFDS descriptors, sends one byte on
 * each (so a library keeping per-descriptor state has it for all of them)
 * and prints
 *   fds=NFDS maxfd=M nofile=L vmrss_kib=R rssanon_kib=P lib_rss_kib=A lib_ro_rss_kib=B
 * with R and P VmRSS and RssAnon of /proc/self/status (P: the private pages
 * written, the process's state), A the resident size of libsendshim.so's mappings (with the anonymous
 * mapping right after them: the rest of its .bss) and B the part of A that is
 * not writable (code and read-only data, which is not state).
 *
 * Exit status: 0, or 2 with a message when it cannot run. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD       64   /* bytes per datagram */
#define BATCH         32   /* messages per sendmmsg call */
#define WARM_MAX      1000 /* warm-up calls at most (and N/WARM_DIV) */
#define WARM_DIV      10
#define FD_SLACK      64 /* descriptors beyond NFDS: stdio, /proc files, the pair */
#define LINE_MAX_LEN  512
#define LIB_NAME      "libsendshim.so"
#define NS_PER_S      1000000000.0
#define RECV_BUF_SIZE 2048 /* more than a datagram of ours */
#define CHUNKS        10   /* timed slices of the N calls */

enum call { C_SEND, C_SENDTO, C_SENDMSG, C_SENDMMSG };

struct bench {
    enum call call;
    int tx, rx;
    const struct sockaddr *to; /* sendto's destination, NULL when connected */
    socklen_t tolen;
    char payload[PAYLOAD];
    char rbuf[BATCH][RECV_BUF_SIZE];
    struct iovec iov;
    struct msghdr msg;
    struct mmsghdr vec[BATCH];
    struct iovec riov[BATCH];
    struct mmsghdr rvec[BATCH];
    long ok, failed;
    int last_errno;
};

static void die(const char *what)
{
    fprintf(stderr, "sendbench: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void usage(void)
{
    fprintf(stderr, "usage: sendbench [-f RULES] send|sendto|sendmsg|sendmmsg unix|udp|conn N\n"
                    "       sendbench fds NFDS [NOFILE]\n");
    exit(2);
}

/* One call and one drain. Always inlined, into both loops below, so the
 * measured and the warm-up code are the same instructions. */
static inline __attribute__((always_inline)) void one(struct bench *b)
{
    long r;
    long want;
    switch (b->call) {
    case C_SEND:
        r = send(b->tx, b->payload, PAYLOAD, 0);
        want = PAYLOAD;
        break;
    case C_SENDTO:
        r = sendto(b->tx, b->payload, PAYLOAD, 0, b->to, b->tolen);
        want = PAYLOAD;
        break;
    case C_SENDMSG:
        r = sendmsg(b->tx, &b->msg, 0);
        want = PAYLOAD;
        break;
    default:
        r = sendmmsg(b->tx, b->vec, BATCH, 0);
        want = BATCH;
        break;
    }
    if (r == want) {
        b->ok++;
    } else if (r < 0) {
        b->failed++;
        b->last_errno = errno;
    }
    if (b->call == C_SENDMMSG)
        (void)recvmmsg(b->rx, b->rvec, BATCH, MSG_DONTWAIT, NULL);
    else
        (void)recv(b->rx, b->rbuf[0], RECV_BUF_SIZE, MSG_DONTWAIT);
}

/* Not static, never inlined nor cloned: callgrind finds it by this name. */
void bench_loop(struct bench *b, long n);
void warm_loop(struct bench *b, long n);

__attribute__((noinline, noclone)) void bench_loop(struct bench *b, long n)
{
    for (long i = 0; i < n; i++)
        one(b);
}

__attribute__((noinline, noclone)) void warm_loop(struct bench *b, long n)
{
    for (long i = 0; i < n; i++)
        one(b);
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl O_NONBLOCK");
}

/* The sender is non-blocking so a full queue shows as EAGAIN, never a hang. */
static void open_sockets(struct bench *b, const char *sock, struct sockaddr_in *dst)
{
    if (strcmp(sock, "unix") == 0) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
            die("socketpair");
        b->tx = sv[0];
        b->rx = sv[1];
        b->to = NULL; /* the pair is connected; its peer has no name */
        b->tolen = 0;
    } else if (strcmp(sock, "udp") == 0 || strcmp(sock, "conn") == 0) {
        int connected = strcmp(sock, "conn") == 0;
        socklen_t len = sizeof *dst;
        memset(dst, 0, sizeof *dst);
        dst->sin_family = AF_INET;
        dst->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        b->rx = socket(AF_INET, SOCK_DGRAM, 0);
        if (b->rx < 0 || bind(b->rx, (struct sockaddr *)dst, sizeof *dst) < 0 ||
            getsockname(b->rx, (struct sockaddr *)dst, &len) < 0)
            die("udp receiver");
        b->tx = socket(AF_INET, SOCK_DGRAM, 0);
        if (b->tx < 0)
            die("udp sender");
        if ((connected || b->call != C_SENDTO) && connect(b->tx, (struct sockaddr *)dst, sizeof *dst) < 0)
            die("connect");
        if (b->call == C_SENDTO) {
            /* sendto names the destination on every call: that is its cost. */
            b->to = (const struct sockaddr *)dst;
            b->tolen = sizeof *dst;
        } else {
            b->to = NULL;
            b->tolen = 0;
        }
    } else {
        usage();
    }
    set_nonblock(b->tx);
}

static void setup_messages(struct bench *b)
{
    memset(b->payload, 'x', PAYLOAD);
    b->iov.iov_base = b->payload;
    b->iov.iov_len = PAYLOAD;
    b->msg.msg_iov = &b->iov;
    b->msg.msg_iovlen = 1;
    for (int i = 0; i < BATCH; i++) {
        b->vec[i].msg_hdr.msg_iov = &b->iov; /* every message has the same bytes */
        b->vec[i].msg_hdr.msg_iovlen = 1;
        b->riov[i].iov_base = b->rbuf[i];
        b->riov[i].iov_len = RECV_BUF_SIZE;
        b->rvec[i].msg_hdr.msg_iov = &b->riov[i];
        b->rvec[i].msg_hdr.msg_iovlen = 1;
    }
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * NS_PER_S + (double)ts.tv_nsec;
}

/* sendshim_set_faults(RULES), looked up as sendshim.h's wrapper does. */
static void set_faults(const char *rules)
{
    int (*fn)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "sendshim_set_faults");
    if (!fn) {
        fprintf(stderr, "sendbench: -f: sendshim_set_faults not found (is the library preloaded?)\n");
        exit(2);
    }
    if (fn(rules) != 0)
        die("sendshim_set_faults");
}

static int run_calls(const char *callname, const char *sock, long n, const char *rules)
{
    static struct bench b; /* large (64 KiB of receive buffers): not on the stack */
    struct sockaddr_in dst;
    static const char *const names[] = {"send", "sendto", "sendmsg", "sendmmsg"};
    int found = 0;
    for (int i = 0; i < 4; i++)
        if (strcmp(callname, names[i]) == 0) {
            b.call = (enum call)i;
            found = 1;
        }
    if (!found || n <= 0)
        usage();
    setup_messages(&b);
    open_sockets(&b, sock, &dst);
    if (rules)
        set_faults(rules);

    long warm = n / WARM_DIV;
    if (warm > WARM_MAX)
        warm = WARM_MAX;
    if (warm < 1)
        warm = 1;
    warm_loop(&b, warm);
    long warm_failed = b.failed;
    b.ok = b.failed = 0;
    b.last_errno = 0;

    /* The N calls run in CHUNKS slices, each timed: the whole gives the mean,
     * the fastest slice the cost with the least interference from other
     * processes (a preempted slice is slower, never faster). */
    double total = 0, best = 0;
    long done = 0;
    for (int c = 0; c < CHUNKS; c++) {
        long k = (n - done) / (CHUNKS - c);
        if (k == 0)
            continue;
        double t0 = now_ns();
        bench_loop(&b, k);
        double t = now_ns() - t0;
        total += t;
        done += k;
        if (best == 0 || t / (double)k < best)
            best = t / (double)k;
    }

    const char *en = b.last_errno ? strerrorname_np(b.last_errno) : "0";
    printf("call=%s sock=%s n=%ld calls=%ld ns_per_call=%.1f ns_best=%.1f ok=%ld failed=%ld errno=%s "
           "warm_failed=%ld\n",
           callname, sock, n, n + warm, total / (double)n, best, b.ok, b.failed, en ? en : "?", warm_failed);
    return 0;
}

/* The value of "Key:   123 kB" lines. */
static long kib_field(const char *line, const char *key)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0)
        return -1;
    return strtol(line + k, NULL, 10);
}

/* A "Key: N kB" line of /proc/self/status. */
static long status_kib(const char *key)
{
    char line[LINE_MAX_LEN];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        die("/proc/self/status");
    while (fgets(line, sizeof line, f))
        if (kib_field(line, key) >= 0)
            v = kib_field(line, key);
    fclose(f);
    return v;
}

/* Rss of the library's mappings in /proc/self/smaps: the ones naming the
 * library, and an anonymous mapping that starts where the library's last one
 * ended (the part of .bss past the file's last page). */
static void lib_rss_kib(long *all, long *ro)
{
    char line[LINE_MAX_LEN];
    unsigned long lib_end = 0;
    int in_lib = 0, writable = 0;
    *all = *ro = 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        die("/proc/self/smaps");
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        int pathpos = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &pathpos) == 3 && pathpos > 0) {
            const char *path = line + pathpos;
            int named = strstr(path, LIB_NAME) != NULL;
            int anon = path[0] == '\n' || path[0] == '\0';
            in_lib = named || (anon && lib_end != 0 && lo == lib_end);
            writable = perms[1] == 'w';
            if (named)
                lib_end = hi;
            else if (!in_lib)
                lib_end = 0;
            continue;
        }
        long v = kib_field(line, "Rss:");
        if (in_lib && v >= 0) {
            *all += v;
            if (!writable)
                *ro += v;
        }
    }
    fclose(f);
}

static int run_fds(long nfds, long nofile)
{
    struct rlimit rl;
    if (nfds < 1)
        usage();
    if (nofile < nfds + FD_SLACK)
        nofile = nfds + FD_SLACK;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit");
    rl.rlim_cur = (rlim_t)nofile;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
        rl.rlim_max = rl.rlim_cur; /* needs CAP_SYS_RESOURCE */
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("setrlimit RLIMIT_NOFILE (raising the hard limit needs root)");

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
        die("socketpair");
    set_nonblock(sv[0]);
    /* Descriptors 0..maxfd are all in use once there are nfds of them. */
    int maxfd = sv[1];
    while (maxfd + 1 < nfds) {
        int d = dup(sv[0]);
        if (d < 0)
            die("dup");
        maxfd = d;
    }
    char c = 'x', r;
    for (int fd = 0; fd <= maxfd; fd++) {
        if (fd == sv[1])
            continue;
        /* stdin/out/err are not sockets: the library sees them, sends fail. */
        if (send(fd, &c, 1, 0) == 1)
            (void)recv(sv[1], &r, 1, MSG_DONTWAIT);
    }
    long all, ro;
    lib_rss_kib(&all, &ro);
    printf("fds=%ld maxfd=%d nofile=%ld vmrss_kib=%ld rssanon_kib=%ld lib_rss_kib=%ld lib_ro_rss_kib=%ld\n",
           nfds, maxfd, nofile, status_kib("VmRSS:"), status_kib("RssAnon:"), all, ro);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "fds") == 0)
        return run_fds(atol(argv[2]), argc > 3 ? atol(argv[3]) : 0);
    const char *rules = NULL;
    if (argc >= 3 && strcmp(argv[1], "-f") == 0) {
        rules = argv[2];
        argc -= 2;
        argv += 2;
    }
    if (argc != 4)
        usage();
    return run_calls(argv[1], argv[2], atol(argv[3]), rules);
}
