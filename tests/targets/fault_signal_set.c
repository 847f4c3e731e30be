/* fault_signal_set - sendshim_set_faults() from a signal handler while the
 * main thread replaces the rules in a loop: a SIGALRM handler (an interval
 * timer) calls it too. The handler often interrupts the main thread inside
 * sendshim_set_faults(), holding the writers' lock; it must not wait for
 * it. Stops after SIGNALS handler calls; prints "handler CALLS ok OK edeadlk
 * EDEADLK other OTHER" and "loop N". */
#include <signal.h>
#include <sys/time.h>

#include "sendshim.h"
#include "target.h"

#define SIGNALS     2000
#define INTERVAL_US 200

static volatile sig_atomic_t calls, ok, deadlk, other;

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    if (sendshim_set_faults("sendto:error=EINTR:when=5") == 0)
        ok++;
    else if (errno == EDEADLK)
        deadlk++;
    else
        other++;
    calls++;
    errno = saved;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGALRM, &sa, NULL))
        t_die("sigaction");
    /* Resolve the API once outside the handler (dlsym is not
     * async-signal-safe). */
    if (sendshim_set_faults(NULL))
        t_die("sendshim_set_faults");
    struct itimerval it = {{0, INTERVAL_US}, {0, INTERVAL_US}};
    if (setitimer(ITIMER_REAL, &it, NULL))
        t_die("setitimer");
    long loop = 0;
    while (calls < SIGNALS) {
        if (sendshim_set_faults(loop % 2 ? "send:error=EAGAIN:p=0.5" : "") && errno != EAGAIN)
            t_die("sendshim_set_faults in the loop");
        loop++;
    }
    struct itimerval stop = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &stop, NULL);
    printf("handler %d ok %d edeadlk %d other %d\n", (int)calls, (int)ok, (int)deadlk, (int)other);
    printf("loop %ld\n", loop);
    return 0;
}
