/* fault_sigpipe - error=EPIPE and SIGPIPE, in the ways a program can meet it.
 *
 *   fault_sigpipe MODE     (run with SENDSHIM_FAULTS='send:error=EPIPE')
 *
 * MODE: ignore   SIGPIPE is SIG_IGN: send fails with EPIPE, nothing else
 *       handler  a handler counts SIGPIPE (and clobbers errno): prints the count
 *                and the errno send left
 *       thread   a second thread, with SIGPIPE blocked, sends; the main thread
 *                has it unblocked. The signal must be pending in the sending
 *                thread (as the kernel's is), not delivered to the process.
 * It prints "send -1 EPIPE" and a line per check.
 */
#include <pthread.h>
#include <signal.h>

#include "target.h"

static volatile sig_atomic_t caught;

static void on_sigpipe(int sig)
{
    (void)sig;
    caught++;
    errno = EBADF; /* a handler may change errno; the call's must survive */
}

static void *sender(void *arg)
{
    int fd = *(int *)arg;
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    long r = send(fd, "x", 1, 0);
    t_show("send", r, errno);
    sigpending(&pending);
    printf("pending-in-thread %d\n", sigismember(&pending, SIGPIPE));
    struct timespec zero = {0, 0};
    printf("consumed %d\n", sigtimedwait(&set, NULL, &zero) == SIGPIPE);
    fflush(stdout);
    return NULL;
}

int main(int argc, char **argv)
{
    int s[2];
    if (argc != 2)
        return 2;
    t_pair("unix-stream", s);
    if (!strcmp(argv[1], "ignore")) {
        signal(SIGPIPE, SIG_IGN);
        long r = send(s[0], "x", 1, 0);
        t_show("send", r, errno);
    } else if (!strcmp(argv[1], "handler")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigpipe;
        sigaction(SIGPIPE, &sa, NULL);
        long r = send(s[0], "x", 1, 0);
        t_show("send", r, errno);
        printf("caught %d\n", (int)caught);
    } else if (!strcmp(argv[1], "thread")) {
        pthread_t t;
        if (pthread_create(&t, NULL, sender, &s[0]))
            t_die("pthread_create");
        pthread_join(t, NULL);
        printf("main alive\n");
    } else {
        return 2;
    }
    return 0;
}
