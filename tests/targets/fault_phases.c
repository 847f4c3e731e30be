/* fault_phases - switches fault rules on and off at run time with the public
 * header's sendshim_set_faults(), between phases of sending; then flips rules
 * while threads send. Works without the library too (the header's wrappers
 * find nothing: sendshim_active() is 0 and sendshim_set_faults() ENOSYS).
 *
 *   fault_phases [STRESS_FLIPS]
 *
 * Prints one line per step: "active N", "set RC [ERRNO]", "send RESULT". */
#include <pthread.h>

#include "sendshim.h"
#include "target.h"

#define STRESS_THREADS 4

static int s[2];
static volatile int stop;
static long stress_sends[STRESS_THREADS];

static void do_set(const char *rules)
{
    errno = 0;
    int rc = sendshim_set_faults(rules);
    if (rc < 0)
        printf("set -1 %s\n", t_errname(errno));
    else
        printf("set %d\n", rc);
    fflush(stdout);
}

static void do_send(void)
{
    char buf[8];
    long r = send(s[0], "ping", 4, 0);
    t_show("send", r, errno);
    while (recv(s[1], buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

static void *stress_sender(void *arg)
{
    long *count = arg;
    int d[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, d))
        t_die("socketpair");
    char buf[8];
    while (!stop) {
        long r = send(d[0], "s", 1, MSG_DONTWAIT);
        if (r != 1 && !(r < 0 && (errno == EAGAIN || errno == EINTR)))
            t_die("stress send");
        (*count)++;
        while (recv(d[1], buf, sizeof buf, MSG_DONTWAIT) > 0)
            ;
    }
    close(d[0]);
    close(d[1]);
    return NULL;
}

int main(int argc, char **argv)
{
    long flips = argc > 1 ? atol(argv[1]) : 0;
    t_pair("unix-stream", s);
    printf("active %d\n", sendshim_active());
    do_send();
    do_set("send:error=EAGAIN");
    do_send();
    do_set("send:error=EBOGUS"); /* refused: the rules in force stay */
    do_send();
    do_set("");
    do_send();
    do_set("send:error=EINTR:when=2"); /* a new set: counters start again */
    do_send();
    do_send();
    do_send();
    do_set(NULL);
    do_send();

    if (flips > 0) {
        static const char *const sets[] = {"send:drop", "send:error=EAGAIN:p=0.5", "",
                                           "send:delay=1us;*:error=EINTR:when=3+3", "send:drop:type=dgram"};
        pthread_t t[STRESS_THREADS];
        for (int i = 0; i < STRESS_THREADS; i++)
            if (pthread_create(&t[i], NULL, stress_sender, &stress_sends[i]))
                t_die("pthread_create");
        int failed = 0;
        for (long i = 0; i < flips; i++)
            failed += sendshim_set_faults(sets[i % (long)(sizeof sets / sizeof sets[0])]) != 0;
        stop = 1;
        long total = 0;
        for (int i = 0; i < STRESS_THREADS; i++) {
            pthread_join(t[i], NULL);
            total += stress_sends[i];
        }
        sendshim_set_faults(NULL);
        printf("stress flips %ld failed %d sends>0 %d\n", flips, failed, total > 0);
    }
    return 0;
}
