/* test_compat.c - the compatibility matrix (issue 8): real programs run with
 * the library preloaded. For each program three cells:
 *
 *   pass_through  the same output and the same bytes on the wire without the
 *                 library, with it and nothing configured, and with it
 *                 tracing (which proves the calls did go through it);
 *   nosigpipe     SENDSHIM_NOSIGPIPE=1 keeps it alive writing to a closed
 *                 peer where it would die of SIGPIPE; for programs that
 *                 ignore SIGPIPE themselves (python3, socat, nc, curl) the
 *                 EPIPE behaviour must be the same with and without it;
 *   fault         a fault rule visibly changes what the program does.
 *
 * Programs: python3, perl, socat, curl (against a local python3 http.server
 * started and stopped here), nc (netcat-openbsd) and one C program built
 * with musl-gcc. A program that is not installed skips its cells. Every
 * spawned program is bounded by T seconds; the whole matrix takes a few.
 *
 * A closed peer is a unix stream socket whose other end has done
 * shutdown(SHUT_RD) (a "shutter"): the kernel then fails every write with
 * EPIPE and raises SIGPIPE, deterministically. A TCP peer that closes would
 * answer with a reset instead, and the first failed write would report
 * ECONNRESET without any SIGPIPE.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define T            20           /* seconds a spawned program may take */
#define BUILD_T      120          /* seconds the musl build may take */
#define STREAM_BYTES (256 * 1024) /* pass-through payload for socat and nc */
#define HTTP_BYTES   (64 * 1024)  /* the file the http server serves */
/* What a program tries to write to a closed peer: more than a unix stream
 * socket can hold (its send buffer, about 208 KiB by default, is all there
 * is), so the program must meet the closed peer whatever the timing. */
#define FLOOD_BYTES (1024 * 1024)
/* A shutter keeps the connection open this long after shutting down its
 * reading side, unless the program hangs up first (nc waits for the peer's
 * close before it exits). */
#define HOLD_MS        1000
#define SERVER_WAIT_MS 10000             /* for the http server to print its port */
#define STOP_WAIT_MS   2000              /* for the http server to exit after SIGTERM */
#define SINK_MAX       (4 * 1024 * 1024) /* bytes a sink keeps */

/* Every program in C messages, so error texts can be compared. */
#define LOCALE "LC_ALL=C"

/* --- small helpers ----------------------------------------------------------- */

static void need(const char *prog)
{
    if (!have_program(prog))
        cr_skip_test("%s is not installed", prog);
}

static void run_ok(struct run_result *r, const char *const argv[], const char *const env[], int preload,
                   const char *in)
{
    cr_assert_eq(run(r, argv, env, preload, in, T), 0, "could not run %s", argv[0]);
    cr_assert(!r->timed_out, "%s timed out; stderr:\n%s", argv[0], r->err);
}

static void expect_exit(const struct run_result *r, int status, const char *what)
{
    cr_expect(r->exited && r->status == status, "%s: expected exit status %d, got %s %d; stderr:\n%s", what,
              status,
              r->exited     ? "exit"
              : r->signaled ? "signal"
                            : "?",
              r->exited ? r->status : r->sig, r->err);
}

/* A program run three ways: without the library, with it and nothing
 * configured, and traced (SENDSHIM_TRACE=1). All three must exit 0 and print
 * the same bytes, and the library with nothing configured must write
 * nothing. preload: LD_PRELOAD the library for the last two (else env_with
 * and env_traced name the library themselves). */
struct three_ways {
    struct run_result without, with, traced;
};

static void run_three_ways(struct three_ways *t, const char *what, const char *const argv[],
                           const char *const env_without[], const char *const env_with[],
                           const char *const env_traced[], int preload)
{
    run_ok(&t->without, argv, env_without, 0, NULL);
    run_ok(&t->with, argv, env_with, preload, NULL);
    run_ok(&t->traced, argv, env_traced, preload, NULL);
    expect_exit(&t->without, 0, what);
    expect_exit(&t->with, 0, what);
    expect_exit(&t->traced, 0, what);
    cr_expect(t->with.out_len == t->without.out_len && !memcmp(t->with.out, t->without.out, t->with.out_len),
              "%s: the output differs with the library:\n%s", what, t->with.out);
    cr_expect(t->traced.out_len == t->without.out_len &&
                  !memcmp(t->traced.out, t->without.out, t->traced.out_len),
              "%s: the output differs when traced:\n%s", what, t->traced.out);
    cr_expect_str_eq(t->with.err, "", "%s: nothing configured, yet the library wrote: %s", what, t->with.err);
}

/* run_three_ways for a program found in PATH (the test is skipped when it
 * is not installed), in the C locale, the library preloaded. */
static void run_three_ways_preloaded(struct three_ways *t, const char *what, const char *const argv[])
{
    need(argv[0]);
    const char *plain[] = {LOCALE, NULL};
    const char *traced[] = {LOCALE, "SENDSHIM_TRACE=1", NULL};
    run_three_ways(t, what, argv, plain, plain, traced, 1);
}

/* argv (in PATH, C locale, the library preloaded) prints want_plain, and
 * under SENDSHIM_FAULTS=send:error=ECONNRESET prints want_fault, exits 0 and
 * the fault is logged once. */
static void expect_econnreset_handled(const char *what, const char *const argv[], const char *want_plain,
                                      const char *want_fault)
{
    const char *plain[] = {LOCALE, NULL};
    const char *fault[] = {LOCALE, "SENDSHIM_FAULTS=send:error=ECONNRESET", NULL};
    struct run_result r;
    run_ok(&r, argv, plain, 1, NULL);
    cr_expect_str_eq(r.out, want_plain, "%s", what);
    run_free(&r);
    run_ok(&r, argv, fault, 1, NULL);
    expect_exit(&r, 0, what);
    cr_expect_str_eq(r.out, want_fault, "%s with a fault", what);
    cr_expect_eq(count_lines(r.err, "fault rule 1"), 1, "the fault is not logged once:\n%s", r.err);
    run_free(&r);
}

/* The traced run's log has a line with each of the NULL-terminated needles
 * (which call was traced, with which flag or control message). */
static void expect_traced(const struct three_ways *t, const char *const needles[])
{
    for (size_t i = 0; needles[i]; i++)
        cr_expect_gt(count_lines(t->traced.err, needles[i]), 0, "no trace line with \"%s\":\n%s", needles[i],
                     t->traced.err);
}

static void free_three_ways(struct three_ways *t)
{
    run_free(&t->without);
    run_free(&t->with);
    run_free(&t->traced);
}

/* Without the library argv dies of SIGPIPE; with NOSIGPIPE (env_nosig, the
 * library preloaded when `preload`) it sees EPIPE, prints `want` and exits 0. */
static void expect_nosigpipe_saves(const char *what, const char *const argv[],
                                   const char *const env_without[], const char *const env_nosig[],
                                   int preload, const char *want)
{
    struct run_result r;
    run_ok(&r, argv, env_without, 0, NULL);
    cr_expect(r.signaled && r.sig == SIGPIPE, "%s without the library should die of SIGPIPE", what);
    run_free(&r);
    run_ok(&r, argv, env_nosig, preload, NULL);
    expect_exit(&r, 0, what);
    cr_expect_str_eq(r.out, want, "%s with NOSIGPIPE", what);
    run_free(&r);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Printable bytes (never NUL: stdin is passed as a C string), not periodic
 * with any small period, in lines of 64. */
static char *payload(size_t n)
{
    char *p = malloc(n + 1);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (i % 64 == 63) ? '\n' : (char)('!' + (i * 7 + i / 101) % 90);
    p[n] = '\0';
    return p;
}

static char tmp_dir[64];

static void make_tmp_dir(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/sendshim-compat-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp: %s", strerror(errno));
}

static void remove_tmp_dir(void)
{
    if (!tmp_dir[0])
        return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", tmp_dir);
    tmp_dir[0] = '\0';
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* --- peers: a sink that keeps what it reads, a shutter that refuses it ------- */

enum peer_kind { SINK, SHUTTER };

struct peer {
    enum peer_kind kind;
    int lfd;     /* listening socket */
    int stop[2]; /* written by the test when the program has ended */
    pthread_t thread;
    int accepted;
    char *data; /* SINK: what it read */
    size_t len;
    int port;       /* TCP */
    char path[108]; /* unix */
};

/* Wait for fd to have `events` (or for the stop pipe); 1 ready, 0 stopped or
 * timed out. */
static int wait_fd(struct peer *p, int fd, short events, int timeout_ms)
{
    struct pollfd pf[2] = {{.fd = fd, .events = events}, {.fd = p->stop[0], .events = POLLIN}};
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int64_t left = end - now_ms();
        if (left < 0)
            return 0;
        int n = poll(pf, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 0;
        /* The program's connection first: it may have connected and ended
         * before this thread got to accept. */
        if (pf[0].revents)
            return 1;
        if (pf[1].revents)
            return 0;
    }
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    if (!wait_fd(p, p->lfd, POLLIN, T * 1000))
        return NULL;
    int c = accept(p->lfd, NULL, NULL);
    if (c < 0)
        return NULL;
    p->accepted = 1;
    if (p->kind == SINK) {
        /* Until EOF: the program closes its end when it exits. */
        size_t cap = 65536;
        p->data = malloc(cap);
        while (p->data && wait_fd(p, c, POLLIN, T * 1000)) {
            if (p->len == cap && cap < SINK_MAX) {
                char *d = realloc(p->data, cap * 2);
                if (!d)
                    break;
                p->data = d;
                cap *= 2;
            }
            if (p->len == cap)
                break;
            ssize_t n = read(c, p->data + p->len, cap - p->len);
            if (n <= 0)
                break;
            p->len += (size_t)n;
        }
    } else {
        /* Every write the program makes from now on fails with EPIPE. */
        shutdown(c, SHUT_RD);
        /* What it wrote before that is still queued here, charged to its
         * send buffer. Consume it: a program that filled the buffer and
         * waits in poll() for room would otherwise never wake (a unix socket
         * reports no POLLOUT or POLLHUP for a peer's SHUT_RD) until our
         * close, which then reads as ECONNRESET instead of EPIPE. */
        char discard[65536];
        while (recv(c, discard, sizeof discard, MSG_DONTWAIT) > 0)
            ;
        struct pollfd pf = {.fd = c, .events = 0};
        int64_t end = now_ms() + HOLD_MS;
        while (now_ms() < end && !(pf.revents & (POLLHUP | POLLERR)))
            if (poll(&pf, 1, 20) < 0 && errno != EINTR)
                break;
    }
    close(c);
    return NULL;
}

static void peer_start(struct peer *p)
{
    cr_assert_eq(pipe2(p->stop, O_CLOEXEC), 0);
    cr_assert_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

/* A TCP listener on 127.0.0.1, on a port the kernel picks. */
static void peer_tcp(struct peer *p, enum peer_kind kind)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(p->lfd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    cr_assert_eq(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", strerror(errno));
    cr_assert_eq(listen(p->lfd, 4), 0);
    cr_assert_eq(getsockname(p->lfd, (struct sockaddr *)&a, &alen), 0);
    p->port = ntohs(a.sin_port);
    peer_start(p);
}

/* A unix stream listener at tmp_dir/NAME. */
static void peer_unix(struct peer *p, enum peer_kind kind, const char *name)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(p->lfd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(p->path, sizeof p->path, "%s/%s", tmp_dir, name);
    snprintf(a.sun_path, sizeof a.sun_path, "%s", p->path);
    cr_assert_eq(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0, "bind %s: %s", p->path, strerror(errno));
    cr_assert_eq(listen(p->lfd, 4), 0);
    peer_start(p);
}

/* After the program ended: stop waiting, join, close. */
static void peer_finish(struct peer *p)
{
    char x = 1;
    ssize_t w = write(p->stop[1], &x, 1);
    (void)w;
    pthread_join(p->thread, NULL);
    close(p->stop[0]);
    close(p->stop[1]);
    close(p->lfd);
    if (p->path[0])
        unlink(p->path);
}

static void peer_free(struct peer *p)
{
    free(p->data);
    p->data = NULL;
}

/* --- python3 ------------------------------------------------------------------ */

/* Every send-family call python has (send, sendall, sendto, sendmsg with
 * SCM_RIGHTS) on a socketpair, TCP and UDP over loopback; prints what each
 * returned and what arrived. */
static const char py_pass[] = "import socket, os, hashlib\n"
                              "a, b = socket.socketpair()\n"
                              "print('send', a.send(b'hello'))\n"
                              "a.sendall(b'x' * 50000)\n"
                              "print('sendmsg', a.sendmsg([b'ab', b'cd']))\n"
                              "got = b''\n"
                              "while len(got) < 5 + 50000 + 4:\n"
                              "    got += b.recv(65536)\n"
                              "print('stream', len(got), hashlib.sha256(got).hexdigest())\n"
                              "c, d = socket.socketpair()\n"
                              "r, w = os.pipe()\n"
                              "print('send_fds', socket.send_fds(c, [b'F'], [w]))\n"
                              "msg, fds, _, _ = socket.recv_fds(d, 16, 4)\n"
                              "os.write(fds[0], b'via passed fd')\n"
                              "print('passed fd', msg, os.read(r, 64))\n"
                              "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                              "u.bind(('127.0.0.1', 0))\n"
                              "v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                              "print('sendto', v.sendto(b'datagram', u.getsockname()))\n"
                              "print('udp', u.recv(64))\n"
                              "l = socket.socket()\n"
                              "l.bind(('127.0.0.1', 0))\n"
                              "l.listen(1)\n"
                              "t = socket.create_connection(l.getsockname())\n"
                              "s, _ = l.accept()\n"
                              "t.sendall(b'tcp ' * 1000)\n"
                              "t.close()\n"
                              "got = b''\n"
                              "while True:\n"
                              "    k = s.recv(65536)\n"
                              "    if not k: break\n"
                              "    got += k\n"
                              "print('tcp', len(got), got[:8])\n";

/* send to a closed peer; with argument "dfl" SIGPIPE is first given back its
 * default action (python ignores it at startup). */
static const char py_epipe[] = "import socket, signal, sys, errno\n"
                               "if sys.argv[1:] == ['dfl']:\n"
                               "    signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
                               "a, b = socket.socketpair()\n"
                               "b.close()\n"
                               "try:\n"
                               "    print('sent', a.send(b'x'))\n"
                               "except OSError as e:\n"
                               "    print(type(e).__name__, errno.errorcode[e.errno])\n"
                               "print('alive')\n";

static const char py_send_one[] = "import socket, errno\n"
                                  "a, b = socket.socketpair()\n"
                                  "try:\n"
                                  "    print('sent', a.send(b'x'))\n"
                                  "except OSError as e:\n"
                                  "    print(type(e).__name__, errno.errorcode[e.errno])\n";

Test(compat_python3, pass_through)
{
    const char *argv[] = {"python3", "-c", py_pass, NULL};
    struct three_ways t;
    run_three_ways_preloaded(&t, "python3", argv);
    /* send_fds is a sendmsg with SCM_RIGHTS. */
    expect_traced(&t, (const char *const[]){"trace: send(", "trace: sendto(", "cmsg=SCM_RIGHTS", NULL});
    cr_expect_neq(strstr(t.without.out, "passed fd b'F' b'via passed fd'"), NULL, "%s", t.without.out);
    free_three_ways(&t);
}

/* python3 ignores SIGPIPE: a closed peer is a BrokenPipeError with or without
 * the library. With SIGPIPE given back its default, python dies of it and
 * NOSIGPIPE keeps it alive. */
Test(compat_python3, nosigpipe)
{
    need("python3");
    const char *ign[] = {"python3", "-c", py_epipe, NULL};
    const char *dfl[] = {"python3", "-c", py_epipe, "dfl", NULL};
    const char *plain[] = {LOCALE, NULL};
    const char *nosig[] = {LOCALE, "SENDSHIM_NOSIGPIPE=1", NULL};
    struct run_result r;

    run_ok(&r, ign, plain, 0, NULL);
    expect_exit(&r, 0, "python3 (SIGPIPE ignored) without the library");
    cr_expect_str_eq(r.out, "BrokenPipeError EPIPE\nalive\n");
    run_free(&r);
    run_ok(&r, ign, nosig, 1, NULL);
    expect_exit(&r, 0, "python3 (SIGPIPE ignored) with NOSIGPIPE");
    cr_expect_str_eq(r.out, "BrokenPipeError EPIPE\nalive\n", "EPIPE behaviour changed");
    run_free(&r);

    expect_nosigpipe_saves("python3 (SIGPIPE default)", dfl, plain, nosig, 1,
                           "BrokenPipeError EPIPE\nalive\n");
}

Test(compat_python3, fault)
{
    need("python3");
    const char *argv[] = {"python3", "-c", py_send_one, NULL};
    expect_econnreset_handled("python3", argv, "sent 1\n", "ConnectionResetError ECONNRESET\n");
}

/* --- perl --------------------------------------------------------------------- */

static const char pl_pass[] =
    "use strict; use warnings; use Socket qw(:all);\n"
    "socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die \"socketpair: $!\";\n"
    "print 'send ', send($a, 'hello', 0), \"\\n\";\n"
    "print 'send-dontwait ', send($a, 'nowait', MSG_DONTWAIT), \"\\n\";\n"
    "print 'syswrite ', syswrite($a, 'written'), \"\\n\";\n"
    "my $buf; sysread($b, $buf, 1000); print \"stream $buf\\n\";\n"
    "socket(my $u, PF_INET, SOCK_DGRAM, 0) or die; bind($u, pack_sockaddr_in(0, inet_aton('127.0.0.1'))) or "
    "die;\n"
    "socket(my $v, PF_INET, SOCK_DGRAM, 0) or die;\n"
    "print 'sendto ', send($v, 'datagram', 0, getsockname($u)), \"\\n\";\n"
    "recv($u, $buf, 1000, 0); print \"udp $buf\\n\";\n";

/* ARGV[0]: send or syswrite; ARGV[1]: close (the peer first) or open. */
static const char pl_one[] = "use strict; use warnings; use Socket;\n"
                             "my ($call, $peer) = @ARGV;\n"
                             "socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die;\n"
                             "close($b) if $peer eq 'close';\n"
                             "my $r = $call eq 'send' ? send($a, 'x', 0) : syswrite($a, 'x');\n"
                             "print defined $r ? \"$call $r\\n\" : \"$call failed: $!\\n\";\n"
                             "print \"alive\\n\";\n";

Test(compat_perl, pass_through)
{
    const char *argv[] = {"perl", "-e", pl_pass, NULL};
    struct three_ways t;
    run_three_ways_preloaded(&t, "perl", argv);
    cr_expect_str_eq(t.without.out, "send 5\nsend-dontwait 6\nsyswrite 7\nstream hellonowaitwritten\n"
                                    "sendto 8\nudp datagram\n");
    expect_traced(&t, (const char *const[]){"trace: send(", "MSG_DONTWAIT", "trace: sendto(", NULL});
    free_three_ways(&t);
}

/* perl leaves SIGPIPE at its default: send and syswrite (write) to a closed
 * peer kill it; with NOSIGPIPE it sees EPIPE and carries on. */
Test(compat_perl, nosigpipe)
{
    need("perl");
    static const char *const calls[] = {"send", "syswrite"};
    const char *plain[] = {LOCALE, NULL};
    const char *nosig[] = {LOCALE, "SENDSHIM_NOSIGPIPE=1", NULL};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        const char *argv[] = {"perl", "-e", pl_one, calls[i], "close", NULL};
        char want[64];
        snprintf(want, sizeof want, "%s failed: Broken pipe\nalive\n", calls[i]);
        expect_nosigpipe_saves(calls[i], argv, plain, nosig, 1, want);
    }
}

Test(compat_perl, fault)
{
    need("perl");
    const char *argv[] = {"perl", "-e", pl_one, "send", "open", NULL};
    expect_econnreset_handled("perl", argv, "send 1\nalive\n",
                              "send failed: Connection reset by peer\nalive\n");
}

/* --- socat and nc: stdin to a socket ------------------------------------------ */

/* Run argv (whose last argument is filled in with the peer's address by the
 * caller) feeding it `in`, with a sink peer; returns what the sink read. */
static void stream_to_sink(struct run_result *r, struct peer *p, const char *const argv[],
                           const char *const env[], int preload, const char *in)
{
    run_ok(r, argv, env, preload, in);
    peer_finish(p);
}

static void check_pass_through(const char *prog, const char *const argv_fmt[], int nargs)
{
    char *in = payload(STREAM_BYTES);
    const char *plain[] = {LOCALE, NULL};
    const char *traced[] = {LOCALE, "SENDSHIM_TRACE=1", NULL};
    const char *const *envs[3] = {plain, plain, traced};
    static const int preload[3] = {0, 1, 1};
    static const char *const what[3] = {"without the library", "with the library", "traced"};
    for (int k = 0; k < 3; k++) {
        struct peer p;
        peer_tcp(&p, SINK);
        char addr[64];
        const char *argv[16];
        for (int i = 0; i < nargs; i++)
            argv[i] = argv_fmt[i];
        /* The address argument is the one with a %d. */
        for (int i = 0; i < nargs; i++)
            if (strstr(argv_fmt[i], "%d")) {
                snprintf(addr, sizeof addr, argv_fmt[i], p.port);
                argv[i] = addr;
            }
        argv[nargs] = NULL;
        struct run_result r;
        stream_to_sink(&r, &p, argv, envs[k], preload[k], in);
        expect_exit(&r, 0, what[k]);
        cr_expect(p.accepted, "%s %s never connected", prog, what[k]);
        cr_expect_eq(p.len, (size_t)STREAM_BYTES, "%s %s: the peer got %zu of %d bytes", prog, what[k], p.len,
                     STREAM_BYTES);
        cr_expect(p.len == STREAM_BYTES && p.data && memcmp(p.data, in, STREAM_BYTES) == 0,
                  "%s %s: the bytes differ", prog, what[k]);
        if (k == 1)
            cr_expect_str_eq(r.err, "", "%s: nothing configured, yet: %s", prog, r.err);
        peer_free(&p);
        run_free(&r);
    }
    free(in);
}

/* A program that ignores SIGPIPE writing FLOOD_BYTES to a shutter: the same
 * exit status and the same error text with and without NOSIGPIPE. `expect`
 * is a piece of its stderr that shows it met EPIPE (NULL: it reports
 * nothing). argv's last argument is the shutter's path. */
static void check_epipe_unchanged(const char *prog, const char *const argv_fmt[], int nargs,
                                  const char *expect)
{
    make_tmp_dir();
    char *in = payload(FLOOD_BYTES);
    const char *plain[] = {LOCALE, NULL};
    const char *nosig[] = {LOCALE, "SENDSHIM_NOSIGPIPE=1", NULL};
    struct run_result r[2];
    for (int k = 0; k < 2; k++) {
        struct peer p;
        peer_unix(&p, SHUTTER, "shutter");
        const char *argv[16];
        for (int i = 0; i < nargs; i++)
            argv[i] = strcmp(argv_fmt[i], "PATH") ? argv_fmt[i] : p.path;
        argv[nargs] = NULL;
        run_ok(&r[k], argv, k ? nosig : plain, k, in);
        peer_finish(&p);
        cr_expect(p.accepted, "%s never connected", prog);
        cr_expect(r[k].exited, "%s %s: killed by signal %d", prog,
                  k ? "with NOSIGPIPE" : "without the library", r[k].sig);
        if (expect)
            cr_expect_neq(strstr(r[k].err, expect), NULL, "%s %s: no '%s' in:\n%s", prog,
                          k ? "with NOSIGPIPE" : "without the library", expect, r[k].err);
    }
    cr_expect_eq(r[1].status, r[0].status, "%s: exit status %d with NOSIGPIPE, %d without", prog, r[1].status,
                 r[0].status);
    run_free(&r[0]);
    run_free(&r[1]);
    free(in);
    remove_tmp_dir();
}

/* A fault on every socket write: the peer gets nothing, the program exits
 * `status` and its stderr has `expect` (NULL: nothing of its own). */
static void check_write_fault(const char *prog, const char *const argv_fmt[], int nargs, int status,
                              const char *expect)
{
    char *in = payload(STREAM_BYTES);
    const char *fault[] = {LOCALE, "SENDSHIM_FAULTS=*:error=ECONNRESET", NULL};
    struct peer p;
    peer_tcp(&p, SINK);
    char addr[64];
    const char *argv[16];
    for (int i = 0; i < nargs; i++) {
        argv[i] = argv_fmt[i];
        if (strstr(argv_fmt[i], "%d")) {
            snprintf(addr, sizeof addr, argv_fmt[i], p.port);
            argv[i] = addr;
        }
    }
    argv[nargs] = NULL;
    struct run_result r;
    stream_to_sink(&r, &p, argv, fault, 1, in);
    expect_exit(&r, status, prog);
    cr_expect_eq(p.len, 0, "%s: the peer still got %zu bytes", prog, p.len);
    cr_expect_gt(count_lines(r.err, "fault rule 1"), 0, "%s: no fault logged:\n%s", prog, r.err);
    if (expect)
        cr_expect_neq(strstr(r.err, expect), NULL, "%s: no '%s' in:\n%s", prog, expect, r.err);
    peer_free(&p);
    run_free(&r);
    free(in);
}

/* socat writes to sockets with write(2). */
static const char *const socat_tcp[] = {"socat", "-u", "STDIN", "TCP:127.0.0.1:%d"};
static const char *const socat_unix[] = {"socat", "-u", "STDIN", "UNIX-CONNECT:PATH"};

Test(compat_socat, pass_through)
{
    need("socat");
    check_pass_through("socat", socat_tcp, 4);
}

/* socat ignores SIGPIPE: it reports "Broken pipe" and exits 1 either way. */
Test(compat_socat, nosigpipe)
{
    need("socat");
    /* The shutter's path is only known once it exists: UNIX-CONNECT:PATH is
     * built here. */
    make_tmp_dir();
    char *in = payload(FLOOD_BYTES);
    const char *plain[] = {LOCALE, NULL};
    const char *nosig[] = {LOCALE, "SENDSHIM_NOSIGPIPE=1", NULL};
    struct run_result r[2];
    for (int k = 0; k < 2; k++) {
        struct peer p;
        peer_unix(&p, SHUTTER, "shutter");
        char addr[160];
        snprintf(addr, sizeof addr, "UNIX-CONNECT:%s", p.path);
        const char *argv[] = {socat_unix[0], socat_unix[1], socat_unix[2], addr, NULL};
        run_ok(&r[k], argv, k ? nosig : plain, k, in);
        peer_finish(&p);
        cr_expect(p.accepted, "socat never connected");
        cr_expect(r[k].exited, "socat %s: killed by signal %d", k ? "with NOSIGPIPE" : "without", r[k].sig);
        cr_expect_neq(strstr(r[k].err, "Broken pipe"), NULL, "socat %s:\n%s",
                      k ? "with NOSIGPIPE" : "without", r[k].err);
    }
    expect_exit(&r[0], 1, "socat without the library");
    expect_exit(&r[1], 1, "socat with NOSIGPIPE");
    run_free(&r[0]);
    run_free(&r[1]);
    free(in);
    remove_tmp_dir();
}

Test(compat_socat, fault)
{
    need("socat");
    check_write_fault("socat", socat_tcp, 4, 1, "Connection reset by peer");
}

/* netcat-openbsd: -N shuts the socket down at the end of stdin, so the sink
 * sees EOF and closes, and nc exits. It writes with write(2). */
static const char *const nc_tcp[] = {"nc", "-N", "127.0.0.1", "%d"};
static const char *const nc_unix[] = {"nc", "-U", "PATH"};

Test(compat_nc, pass_through)
{
    need("nc");
    check_pass_through("nc", nc_tcp, 4);
}

/* nc ignores SIGPIPE: on EPIPE it stops sending, waits for the peer to close
 * and exits 0, silently, with or without the library. */
Test(compat_nc, nosigpipe)
{
    need("nc");
    check_epipe_unchanged("nc", nc_unix, 3, NULL);
}

/* nc stops sending at the first failed write, without a message, and waits
 * for the peer to close (-w 1 bounds that wait): what shows is that nothing
 * arrives, and the library's log line. */
Test(compat_nc, fault)
{
    need("nc");
    static const char *const nc_tcp_w[] = {"nc", "-N", "-w", "1", "127.0.0.1", "%d"};
    check_write_fault("nc", nc_tcp_w, 6, 0, NULL);
}

/* --- curl against a local python3 http.server ------------------------------------ */

static pid_t http_pid = -1;
static int http_port;
static char *http_body;

/* A ThreadingHTTPServer on 127.0.0.1 port 0 (the kernel picks a free one,
 * so no race with other tests), serving tmp_dir quietly; it prints its port. */
static const char py_http[] = "import functools, http.server, sys\n"
                              "class Quiet(http.server.SimpleHTTPRequestHandler):\n"
                              "    def log_message(self, *args): pass\n"
                              "h = functools.partial(Quiet, directory=sys.argv[1])\n"
                              "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)\n"
                              "print(s.server_address[1], flush=True)\n"
                              "s.serve_forever()\n";

static void http_start(void)
{
    if (!have_program("python3") || !have_program("curl"))
        return;
    make_tmp_dir();
    http_body = payload(HTTP_BYTES);
    char path[160];
    snprintf(path, sizeof path, "%s/data.txt", tmp_dir);
    write_file(path, http_body, HTTP_BYTES);

    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t parent = getpid();
    http_pid = fork();
    cr_assert_geq(http_pid, 0);
    if (http_pid == 0) {
        /* Dies with the test's process whatever happens to it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(p[1], 1);
        dup2(null, 2);
        execlp("python3", "python3", "-c", py_http, tmp_dir, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char line[32] = "";
    size_t len = 0;
    int64_t end = now_ms() + SERVER_WAIT_MS;
    while (len < sizeof line - 1 && !memchr(line, '\n', len)) {
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        int64_t left = end - now_ms();
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
            break;
        ssize_t n = read(p[0], line + len, sizeof line - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        line[len] = '\0';
    }
    close(p[0]);
    http_port = atoi(line);
    cr_assert_gt(http_port, 0, "the http server did not start (printed '%s')", line);
}

static void http_stop(void)
{
    if (http_pid > 0) {
        kill(http_pid, SIGTERM);
        int64_t end = now_ms() + STOP_WAIT_MS;
        while (waitpid(http_pid, NULL, WNOHANG) == 0) {
            if (now_ms() > end) {
                kill(http_pid, SIGKILL);
                waitpid(http_pid, NULL, 0);
                break;
            }
            struct timespec slice = {0, 10 * 1000000};
            nanosleep(&slice, NULL);
        }
        http_pid = -1;
    }
    free(http_body);
    http_body = NULL;
    remove_tmp_dir();
}

TestSuite(compat_curl, .init = http_start, .fini = http_stop);

static void http_url(char *buf, size_t n)
{
    snprintf(buf, n, "http://127.0.0.1:%d/data.txt", http_port);
}

Test(compat_curl, pass_through)
{
    need("python3");
    need("curl");
    char url[96];
    http_url(url, sizeof url);
    const char *argv[] = {"curl", "-sS", "--max-time", "10", url, NULL};
    struct three_ways t;
    run_three_ways_preloaded(&t, "curl", argv);
    cr_expect(t.without.out_len == HTTP_BYTES && memcmp(t.without.out, http_body, HTTP_BYTES) == 0,
              "curl without the library: wrong body (%zu bytes)", t.without.out_len);
    /* curl sends its request with send(..., MSG_NOSIGNAL). */
    expect_traced(&t, (const char *const[]){"trace: send(", "MSG_NOSIGNAL", NULL});
    free_three_ways(&t);
}

/* curl ignores SIGPIPE and passes MSG_NOSIGNAL itself: an upload to a peer
 * that stopped reading ends in "(55) Send failure: Broken pipe" with or
 * without NOSIGPIPE. ("Expect:" off, so it sends the body at once.) */
Test(compat_curl, nosigpipe)
{
    need("curl");
    make_tmp_dir();
    char upload[160];
    snprintf(upload, sizeof upload, "%s/upload.txt", tmp_dir);
    char *in = payload(FLOOD_BYTES);
    write_file(upload, in, FLOOD_BYTES);
    const char *plain[] = {LOCALE, NULL};
    const char *nosig[] = {LOCALE, "SENDSHIM_NOSIGPIPE=1", NULL};
    for (int k = 0; k < 2; k++) {
        struct peer p;
        peer_unix(&p, SHUTTER, "shutter");
        const char *argv[] = {"curl", "-sS",     "--max-time", "10",   "--unix-socket",       p.path,
                              "-H",   "Expect:", "-T",         upload, "http://localhost/up", NULL};
        struct run_result r;
        run_ok(&r, argv, k ? nosig : plain, k, NULL);
        peer_finish(&p);
        expect_exit(&r, 55, k ? "curl with NOSIGPIPE" : "curl without the library");
        cr_expect_neq(strstr(r.err, "Send failure: Broken pipe"), NULL, "%s", r.err);
        run_free(&r);
    }
    free(in);
    /* The suite's .fini removes tmp_dir only when it made one. */
    remove_tmp_dir();
}

Test(compat_curl, fault)
{
    need("python3");
    need("curl");
    char url[96];
    http_url(url, sizeof url);
    const char *argv[] = {"curl", "-sS", "--max-time", "10", url, NULL};
    const char *fault[] = {LOCALE, "SENDSHIM_FAULTS=send:error=ECONNRESET", NULL};
    struct run_result r;
    run_ok(&r, argv, fault, 1, NULL);
    expect_exit(&r, 55, "curl with a fault");
    cr_expect_neq(strstr(r.err, "Send failure: Connection reset by peer"), NULL, "%s", r.err);
    cr_expect_gt(count_lines(r.err, "fault rule 1"), 0, "%s", r.err);
    cr_expect_eq(r.out_len, 0);
    run_free(&r);
}

/* --- a C program built with musl ------------------------------------------------- */

/* A glibc-built libsendshim.so cannot be preloaded into a musl program (it
 * needs glibc-only symbols such as __register_atfork), so the library is
 * built with musl-gcc too, by the Makefile's own rules, into build/musl.
 * Several tests may want it at once: a lock file serializes the builds
 * (make then finds it up to date). */
#define MUSL_BUILD "build/musl"

static char musl_lib[4096];
static char musl_prog[4096];

static void musl_build(void)
{
    need("musl-gcc");
    need("make");
    char lock[4096];
    snprintf(lock, sizeof lock, "%s/build/.musl.lock", top_dir());
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "%s: %s", lock, strerror(errno));
    cr_assert_eq(flock(fd, LOCK_EX), 0);
    const char *argv[] = {"make",
                          "-s",
                          "--no-print-directory",
                          "-C",
                          top_dir(),
                          "-j4",
                          "BUILD=" MUSL_BUILD,
                          "CC=musl-gcc",
                          MUSL_BUILD "/libsendshim.so",
                          MUSL_BUILD "/targets/compat_sender",
                          NULL};
    /* Not the outer make's jobserver: its descriptors are not inherited. */
    const char *env[] = {"MAKEFLAGS=", "MAKELEVEL=", "MFLAGS=", NULL};
    struct run_result r;
    int ran = run(&r, argv, env, 0, NULL, BUILD_T);
    flock(fd, LOCK_UN);
    close(fd);
    cr_assert_eq(ran, 0);
    cr_assert(r.exited && r.status == 0,
              "the musl build failed (SPEC 1: it must build with CC=musl-gcc):\n%s", r.err);
    run_free(&r);
    snprintf(musl_lib, sizeof musl_lib, "LD_PRELOAD=%s/" MUSL_BUILD "/libsendshim.so", top_dir());
    snprintf(musl_prog, sizeof musl_prog, "%s/" MUSL_BUILD "/targets/compat_sender", top_dir());

    /* Make sure it really is a musl program: its interpreter is ld-musl. */
    FILE *f = fopen(musl_prog, "rb");
    cr_assert_not_null(f);
    static char image[1 << 20];
    size_t n = fread(image, 1, sizeof image, f);
    fclose(f);
    cr_assert_not_null(memmem(image, n, "ld-musl", 7), "%s is not linked against musl", musl_prog);
}

Test(compat_musl, pass_through)
{
    musl_build();
    const char *argv[] = {musl_prog, "pass", NULL};
    const char *with_env[] = {musl_lib, NULL};
    const char *traced[] = {musl_lib, "SENDSHIM_TRACE=1", NULL};
    struct three_ways t;
    run_three_ways(&t, "musl program", argv, NULL, with_env, traced, 0);
    cr_expect_str_eq(t.without.out, "send 5\nsendto 2\nsendmsg 4\nwrite 2\nwritev 4\nsendmmsg 3\n"
                                    "msg_len[0] 2\nmsg_len[1] 3\nmsg_len[2] 4\n"
                                    "stream-recv 17 hellotoabcdwrabcd\n"
                                    "dgram-recv 2 d1\ndgram-recv 3 d22\ndgram-recv 4 d333\n");
    /* musl ignores an LD_PRELOAD it cannot load, silently: the trace shows
     * the library was there. */
    expect_traced(&t, (const char *const[]){"trace: send(", "trace: sendmmsg(", NULL});
    free_three_ways(&t);
}

Test(compat_musl, nosigpipe)
{
    musl_build();
    static const char *const calls[] = {"send", "write"};
    const char *nosig[] = {musl_lib, "SENDSHIM_NOSIGPIPE=1", NULL};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        const char *argv[] = {musl_prog, "epipe", calls[i], NULL};
        char want[64];
        snprintf(want, sizeof want, "%s -1 EPIPE\nalive\n", calls[i]);
        expect_nosigpipe_saves(calls[i], argv, NULL, nosig, 0, want);
    }
}

Test(compat_musl, fault)
{
    musl_build();
    const char *argv[] = {musl_prog, "pass", NULL};
    const char *fault[] = {musl_lib, "SENDSHIM_FAULTS=send:error=ECONNRESET", NULL};
    struct run_result r;
    run_ok(&r, argv, fault, 0, NULL);
    expect_exit(&r, 0, "musl program with a fault");
    cr_expect_neq(strstr(r.out, "send -1 ECONNRESET\nsendto 2\n"), NULL, "%s", r.out);
    cr_expect_neq(strstr(r.out, "stream-recv 12 toabcdwrabcd\n"), NULL, "%s", r.out);
    cr_expect_eq(count_lines(r.err, "fault rule 1"), 1, "%s", r.err);
    run_free(&r);
}
