/* sigpipe_transfer - sendfile or splice into a unix stream socket with
 * SIGPIPE set up one way or another, then once more after the peer closed:
 * for the tests of the SIGPIPE guard's cost and effect (SPEC 6).
 *
 *   sigpipe_transfer HOW CALL N
 *
 * HOW sets SIGPIPE before the transfers:
 *   default              nothing: SIG_DFL
 *   handler              signal(SIGPIPE, a handler that counts)
 *   ignore               signal(SIGPIPE, SIG_IGN)
 *   sigaction-ignore     sigaction, SA_SIGINFO, sa_sigaction = SIG_IGN
 *   bsd-ignore           bsd_signal(SIGPIPE, SIG_IGN)
 *   sysv-ignore          sysv_signal (glibc; musl: __sysv_signal)
 *   sigset-ignore        sigset(SIGPIPE, SIG_IGN)
 *   inherited            ignored before exec: the program re-executes
 *                        itself with SIGPIPE ignored and sets nothing
 *   ignore-then-default  signal(SIG_IGN), then sigaction(SIG_DFL)
 *   ignore-then-handler  sigaction(SIG_IGN), then bsd_signal(handler)
 *   blocked              SIG_DFL, SIGPIPE blocked in the mask; unblocked
 *                        again at the end (a SIGPIPE left pending kills)
 * CALL: sendfile, splice (each moves 4 bytes, which the peer reads), or
 * sendfile-cut: one blocking sendfile of 16 MiB into a TCP socket whose
 * peer does not read, while another thread shuts the socket's write side
 * down: the kernel returns the bytes sent so far, with SIGPIPE raised.
 * Prints "transfers N" (N successful), "after close -1 EPIPE" (or the
 * result), "handler K" (the handler's calls) and "alive".
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>

#include "target.h"

#define PIECE   4
#define CUT_LEN (16 << 20) /* far more than loopback TCP buffers hold */

#ifdef __GLIBC__
void (*bsd_signal(int, void (*)(int)))(int); /* declared only for old X/Open */
#else
void (*__sysv_signal(int, void (*)(int)))(int); /* musl exports it undeclared */
#define sysv_signal __sysv_signal
#endif

static volatile sig_atomic_t handled;

static void on_sigpipe(int sig)
{
    (void)sig;
    handled++;
}

static void set_action(void (*h)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h; /* with SA_SIGINFO: the same storage as sa_sigaction */
    sa.sa_flags = flags;
    if (sigaction(SIGPIPE, &sa, NULL))
        t_die("sigaction");
}

static void pipe_mask(int how)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    if (sigprocmask(how, &s, NULL))
        t_die("sigprocmask");
}

/* Set SIGPIPE up as HOW says; 0 when HOW is unknown. */
static int set_up(const char *how, char **argv)
{
    if (!strcmp(how, "default"))
        return 1;
    if (!strcmp(how, "handler"))
        return signal(SIGPIPE, on_sigpipe) != SIG_ERR;
    if (!strcmp(how, "ignore"))
        return signal(SIGPIPE, SIG_IGN) != SIG_ERR;
    if (!strcmp(how, "sigaction-ignore")) {
        set_action(SIG_IGN, SA_SIGINFO);
        return 1;
    }
    if (!strcmp(how, "bsd-ignore"))
        return bsd_signal(SIGPIPE, SIG_IGN) != SIG_ERR;
    if (!strcmp(how, "sysv-ignore"))
        return sysv_signal(SIGPIPE, SIG_IGN) != SIG_ERR;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* glibc marks sigset so */
    if (!strcmp(how, "sigset-ignore"))
        return sigset(SIGPIPE, SIG_IGN) != SIG_ERR;
#pragma GCC diagnostic pop
    if (!strcmp(how, "inherited")) {
        signal(SIGPIPE, SIG_IGN);
        argv[1] = "inherited-child";
        execv("/proc/self/exe", argv);
        t_die("execv");
    }
    if (!strcmp(how, "inherited-child"))
        return 1;
    if (!strcmp(how, "ignore-then-default")) {
        signal(SIGPIPE, SIG_IGN);
        set_action(SIG_DFL, 0);
        return 1;
    }
    if (!strcmp(how, "ignore-then-handler")) {
        set_action(SIG_IGN, 0);
        return bsd_signal(SIGPIPE, on_sigpipe) != SIG_ERR;
    }
    if (!strcmp(how, "blocked")) {
        pipe_mask(SIG_BLOCK);
        return 1;
    }
    return 0;
}

/* One transfer of PIECE bytes into out, by sendfile from file or splice
 * from a pipe filled with write (so that only transfers into the socket are
 * sendfile or splice calls). */
static long transfer(const char *call, int out, int file)
{
    if (!strcmp(call, "sendfile")) {
        off_t off = 0;
        return sendfile(out, file, &off, PIECE);
    }
    int p[2];
    if (pipe(p) || write(p[1], "data", PIECE) != PIECE)
        t_die("pipe");
    long r = splice(p[0], NULL, out, NULL, PIECE, 0);
    int e = errno;
    close(p[0]);
    close(p[1]);
    errno = e;
    return r;
}

static int cut_sock;

static void *shut_down_later(void *arg)
{
    (void)arg;
    usleep(200 * 1000);
    shutdown(cut_sock, SHUT_WR);
    return NULL;
}

/* sendfile-cut: returns sendfile's result. */
static long sendfile_cut(void)
{
    char path[] = "/tmp/sigpipe_transfer.XXXXXX";
    int f = mkstemp(path), s[2];
    if (f < 0 || ftruncate(f, CUT_LEN))
        t_die("source file");
    unlink(path);
    t_pair("tcp", s);
    cut_sock = s[0];
    pthread_t t;
    if (pthread_create(&t, NULL, shut_down_later, NULL))
        t_die("pthread_create");
    off_t off = 0;
    long r = sendfile(s[0], f, &off, CUT_LEN);
    int e = errno;
    pthread_join(t, NULL);
    errno = e;
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 4 || !set_up(argv[1], argv)) {
        fprintf(stderr, "usage: sigpipe_transfer HOW CALL N\n");
        return 2;
    }
    const char *call = argv[2];
    if (!strcmp(call, "sendfile-cut")) {
        long r = sendfile_cut();
        printf("cut %s\n", r > 0 && r < CUT_LEN ? "short" : "whole or failed");
    } else {
        int n = atoi(argv[3]), ok = 0, sv[2];
        char path[] = "/tmp/sigpipe_transfer.XXXXXX";
        int file = mkstemp(path);
        if (file < 0 || write(file, "data", PIECE) != PIECE)
            t_die("source file");
        unlink(path);
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
            t_die("socketpair");
        char buf[PIECE];
        for (int i = 0; i < n; i++)
            if (transfer(call, sv[0], file) == PIECE && read(sv[1], buf, PIECE) == PIECE)
                ok++;
        printf("transfers %d\n", ok);
        close(sv[1]); /* nothing unread: the next write gets EPIPE */
        long r = transfer(call, sv[0], file);
        t_show("after close", r, errno);
    }
    if (!strcmp(argv[1], "blocked"))
        pipe_mask(SIG_UNBLOCK); /* a SIGPIPE left pending is delivered here */
    printf("handler %d\nalive\n", (int)handled);
    return 0;
}
