/* fault_delay - a send under delay= while a timer interrupts it with signals.
 *
 *   fault_delay MS         (run with SENDSHIM_FAULTS='send:delay=MSms')
 *
 * A SIGALRM handler (installed without SA_RESTART) fires every 10 ms during
 * the send. The delay must still last MS in total (a signal resumes the
 * sleep for the time left) and the send must then succeed. Prints
 * "send 1", "slept-enough 1" and "interrupted 1". */
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include "target.h"

#define TICK_US 10000

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
    (void)sig;
    ticks++;
}

int main(int argc, char **argv)
{
    int s[2];
    if (argc != 2)
        return 2;
    long ms = atol(argv[1]);
    t_pair("unix-stream", s);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, TICK_US}, {0, TICK_US}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long r = send(s[0], "x", 1, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    t_show("send", r, errno);
    long elapsed = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("slept-enough %d\ninterrupted %d\n", elapsed >= ms, ticks > 1);
    return 0;
}
