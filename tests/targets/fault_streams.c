/* fault_streams - which sends a p= rule fails, per rule set and per process.
 *
 *   fault_streams phases N   N times: install "send:error=EAGAIN:p=0.5" with
 *                            sendshim_set_faults() and send once. Prints
 *                            "phases FAILED PATTERN".
 *   fault_streams fork N M   with the rules of the environment: send M times,
 *                            fork N children one after another (each sends M
 *                            times; child 0 first forks a grandchild that
 *                            sends M times), then send M times again. Prints
 *                            one "WHO PATTERN" line per process and round.
 *
 * PATTERN has one character per send: '1' when it failed EAGAIN, '0' when it
 * was sent. Every process sends on a datagram socketpair of its own. */
#include "sendshim.h"
#include "target.h"

#define PATTERN_MAX 4096

static void sends(const char *who, int m)
{
    char pattern[PATTERN_MAX + 1], buf[8];
    int s[2];
    if (m > PATTERN_MAX)
        m = PATTERN_MAX;
    t_pair("unix-dgram", s);
    for (int i = 0; i < m; i++) {
        long r = send(s[0], "x", 1, 0);
        if (r < 0 && errno != EAGAIN)
            t_die("send");
        pattern[i] = r < 0 ? '1' : '0';
        while (recv(s[1], buf, sizeof buf, MSG_DONTWAIT) > 0)
            ;
    }
    pattern[m] = '\0';
    close(s[0]);
    close(s[1]);
    printf("%s %s\n", who, pattern);
    fflush(stdout);
}

static void child_exits(const char *who, int m, int grandchild)
{
    int status;
    if (t_fork_wait(&status) > 0) {
        if (!WIFEXITED(status) || WEXITSTATUS(status))
            t_die("child failed");
        return;
    }
    if (grandchild)
        child_exits("grandchild", m, 0);
    sends(who, m);
    exit(0);
}

static void phases(int n)
{
    char buf[8];
    int s[2], failed = 0;
    char *pattern = calloc((size_t)n + 1, 1);
    if (!pattern)
        t_die("calloc");
    t_pair("unix-dgram", s);
    for (int i = 0; i < n; i++) {
        if (sendshim_set_faults("send:error=EAGAIN:p=0.5"))
            t_die("sendshim_set_faults");
        long r = send(s[0], "x", 1, 0);
        if (r < 0 && errno != EAGAIN)
            t_die("send");
        failed += r < 0;
        pattern[i] = r < 0 ? '1' : '0';
        while (recv(s[1], buf, sizeof buf, MSG_DONTWAIT) > 0)
            ;
    }
    printf("phases %d %s\n", failed, pattern);
    free(pattern);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "phases")) {
        phases(atoi(argv[2]));
        return 0;
    }
    if (argc != 4 || strcmp(argv[1], "fork"))
        return 2;
    int n = atoi(argv[2]), m = atoi(argv[3]);
    sends("parent", m);
    for (int k = 0; k < n; k++) {
        char who[32];
        snprintf(who, sizeof who, "child%d", k);
        child_exits(who, m, k == 0);
    }
    sends("parent-again", m);
    return 0;
}
