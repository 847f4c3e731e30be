/* ctl_target - a program for the live-control tests (test_control.c).
 *
 *   ctl_target once
 *       send 1 byte on a unix datagram pair; print "send R[ ERRNO]".
 *   ctl_target sends N
 *       send and receive 1 byte N times on a unix datagram pair, quietly.
 *   ctl_target loop OUT STOP
 *       send 1 byte every millisecond on a unix datagram pair (the peer
 *       drains it) until the file STOP exists, appending one line per call
 *       to OUT:  ROLE PID T RESULT  (T: CLOCK_MONOTONIC ns just before the
 *       call; RESULT: ok or the errno's name).
 *   ctl_target tree OUT STOP
 *       as loop (ROLE main), plus a forked child (ROLE fork) and a copy of
 *       this program it execs in another child (ROLE exec), doing the same.
 *   ctl_target threads N STOP
 *       N threads each send numbered 64-byte messages on a unix stream pair
 *       of their own and check that each arrives whole and in order, until
 *       STOP exists; prints "threads ok CALLS" or the first thing wrong
 *       (exit 1).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "target.h"

#define MSG_BYTES 64 /* threads: bytes of one message */

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void pause_ms(long ms)
{
    struct timespec t = {0, ms * 1000000L};
    nanosleep(&t, NULL);
}

static int loop(const char *role, const char *out, const char *stop)
{
    int s[2];
    int fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
        return 1;
    while (access(stop, F_OK) != 0) {
        char line[128], sink[16];
        uint64_t t = now_ns();
        ssize_t r = send(s[0], "x", 1, 0);
        int err = errno;
        int n = snprintf(line, sizeof line, "%s %d %llu %s\n", role, (int)getpid(), (unsigned long long)t,
                         r == 1  ? "ok"
                         : r < 0 ? t_errname(err)
                                 : "short");
        if (write(fd, line, (size_t)n) != n)
            return 1;
        recv(s[1], sink, sizeof sink, MSG_DONTWAIT);
        pause_ms(1);
    }
    return 0;
}

static int tree(const char *self, const char *out, const char *stop)
{
    pid_t forked = fork();
    if (forked == 0)
        _exit(loop("fork", out, stop));
    pid_t execd = fork();
    if (execd == 0) {
        execl(self, self, "leaf", out, stop, (char *)NULL);
        _exit(127);
    }
    int rc = loop("main", out, stop), status;
    if (forked < 0 || execd < 0)
        return 1;
    waitpid(forked, &status, 0);
    rc |= !WIFEXITED(status) || WEXITSTATUS(status);
    waitpid(execd, &status, 0);
    rc |= !WIFEXITED(status) || WEXITSTATUS(status);
    return rc;
}

struct worker {
    pthread_t thread;
    const char *stop;
    unsigned long calls;
    char problem[128];
};

static int read_all(int fd, char *buf, size_t n)
{
    while (n) {
        ssize_t r = read(fd, buf, n);
        if (r <= 0)
            return -1;
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s)) {
        snprintf(w->problem, sizeof w->problem, "socketpair failed");
        return NULL;
    }
    while (access(w->stop, F_OK) != 0) {
        char msg[MSG_BYTES], got[MSG_BYTES];
        memset(msg, (int)(w->calls & 0xff), sizeof msg);
        snprintf(msg, sizeof msg, "%lu", w->calls);
        ssize_t r = send(s[0], msg, sizeof msg, MSG_NOSIGNAL);
        if (r != (ssize_t)sizeof msg) {
            snprintf(w->problem, sizeof w->problem, "send %lu returned %zd (%s)", w->calls, r,
                     t_errname(errno));
            return NULL;
        }
        if (read_all(s[1], got, sizeof got) || memcmp(msg, got, sizeof msg)) {
            snprintf(w->problem, sizeof w->problem, "message %lu arrived wrong", w->calls);
            return NULL;
        }
        w->calls++;
    }
    return NULL;
}

static int threads(int n, const char *stop)
{
    struct worker w[64];
    if (n < 1 || n > 64)
        return 2;
    for (int i = 0; i < n; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].stop = stop;
        if (pthread_create(&w[i].thread, NULL, work, &w[i]))
            return 1;
    }
    unsigned long calls = 0;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].thread, NULL);
        calls += w[i].calls;
        if (w[i].problem[0] && !rc) {
            printf("thread %d: %s\n", i, w[i].problem);
            rc = 1;
        }
    }
    if (!rc)
        printf("threads ok %lu\n", calls);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "once")) {
        int s[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
            return 1;
        long r = send(s[0], "x", 1, 0);
        t_show("send", r, errno);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "sends")) {
        int s[2], n = atoi(argv[2]);
        char c;
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
            return 1;
        for (int i = 0; i < n; i++)
            if (send(s[0], "x", 1, 0) != 1 || recv(s[1], &c, 1, 0) != 1)
                return 1;
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "loop"))
        return loop("main", argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "leaf"))
        return loop("exec", argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "tree"))
        return tree(argv[0], argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "threads"))
        return threads(atoi(argv[2]), argv[3]);
    fprintf(stderr, "usage: ctl_target once | loop OUT STOP | tree OUT STOP | threads N STOP\n");
    return 2;
}
