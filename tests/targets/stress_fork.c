/* stress_fork MODE ... - fork, exec, vfork and posix_spawn under the library.
 *
 *   storm FORKS THREADS   THREADS threads send datagrams without pause and one
 *                         more replaces the fault rules in a loop while the
 *                         main thread forks FORKS children one after another.
 *                         Each child sends on a fresh pair, installs a rule
 *                         with sendshim_set_faults() (so a writer lock held by
 *                         a parent thread at fork would hang it), checks that
 *                         the rule fires, and exits (exit() for even children,
 *                         so the destructor runs, _exit() for odd ones).
 *                         Prints "storm forks=N ok=N sent=N".
 *   chain N               sends "chain N" on a unix dgram pair and prints what
 *                         it received, then execs itself as "chain N-1" until
 *                         N is 0: the configuration must follow every exec.
 *   vfork                 vfork()s and execs "chain 0", waits, prints status.
 *   spawn                 posix_spawn()s "chain 0", waits, prints status.
 *   exec-sh N             execs /bin/sh -c "exec SELF chain N": a program in
 *                         the chain that is not ours keeps the environment too.
 */
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>

#include "../../shim/sendshim.h"
#include "target.h"

#define MAX_THREADS 16

extern char **environ;

static int pair_[2];
static int stop;
static uint64_t thread_sent;

static void *sender(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
        if (send(pair_[0], "s", 1, MSG_DONTWAIT) == 1)
            __atomic_add_fetch(&thread_sent, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void *drainer(void *arg)
{
    (void)arg;
    char c[256];
    long n;
    /* Every datagram here is one byte: 0 means the socket was shut down. */
    while ((n = recv(pair_[1], c, sizeof c, 0)) > 0 || (n < 0 && errno == EINTR))
        ;
    return NULL;
}

static void *replacer(void *arg)
{
    (void)arg;
    static const char *const sets[] = {"send:error=EINTR:fd=9999", "", "sendto:delay=1ns:when=1..+1000"};
    for (unsigned i = 0; !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); i++)
        sendshim_set_faults(sets[i % 3]);
    return NULL;
}

/* What a forked child does; its exit status says what went wrong. */
static int child(void)
{
    int s[2];
    char buf[8];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
        return 10;
    for (int i = 0; i < 3; i++)
        if (send(s[0], "kid", 3, 0) != 3 || recv(s[1], buf, sizeof buf, 0) != 3)
            return 11;
    if (sendshim_set_faults("send:error=EINTR:when=1"))
        return 12;
    errno = 0;
    if (send(s[0], "kid", 3, 0) != -1 || errno != EINTR)
        return 13;
    if (send(s[0], "kid", 3, 0) != 3)
        return 14;
    return 0;
}

static int storm(int forks, int nth)
{
    pthread_t th[MAX_THREADS], dr, rp;
    if (nth > MAX_THREADS)
        nth = MAX_THREADS;
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair_))
        t_die("socketpair");
    pthread_create(&dr, NULL, drainer, NULL);
    pthread_create(&rp, NULL, replacer, NULL);
    for (int i = 0; i < nth; i++)
        pthread_create(&th[i], NULL, sender, NULL);
    int ok = 0;
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid < 0)
            t_die("fork");
        if (pid == 0) {
            int rc = child();
            if (i % 2)
                _exit(rc);
            exit(rc);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid)
            t_die("waitpid");
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            ok++;
        else
            fprintf(stderr, "child %d: status 0x%x\n", i, st);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    pthread_join(rp, NULL);
    shutdown(pair_[1], SHUT_RDWR);
    pthread_join(dr, NULL);
    printf("storm forks=%d ok=%d sent=%s\n", forks, ok, thread_sent ? ">0" : "0");
    return ok == forks ? 0 : 1;
}

static void self_path(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n < 0)
        t_die("readlink");
    buf[n] = '\0';
}

static int chain(int n)
{
    int s[2];
    char msg[32], got[32] = {0};
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
        t_die("socketpair");
    snprintf(msg, sizeof msg, "chain %d", n);
    long r = send(s[0], msg, strlen(msg), 0);
    long g = recv(s[1], got, sizeof got - 1, MSG_DONTWAIT);
    printf("pid %d %s: send %ld received %ld '%s'\n", (int)getpid(), msg, r, g, g > 0 ? got : "");
    fflush(stdout);
    close(s[0]);
    close(s[1]);
    if (n <= 0)
        return 0;
    char self[4096], next[16];
    self_path(self, sizeof self);
    snprintf(next, sizeof next, "%d", n - 1);
    char *const argv[] = {self, "chain", next, NULL};
    execv(self, argv);
    t_die("execv");
    return 1;
}

static int report_child(const char *how, pid_t pid)
{
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        t_die(how);
    printf("%s child exited %d\n", how, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: stress_fork storm FORKS THREADS | chain N | vfork | spawn | exec-sh N\n");
        return 2;
    }
    char self[4096];
    self_path(self, sizeof self);
    if (!strcmp(argv[1], "storm") && argc > 3)
        return storm(atoi(argv[2]), atoi(argv[3]));
    if (!strcmp(argv[1], "chain") && argc > 2)
        return chain(atoi(argv[2]));
    if (!strcmp(argv[1], "vfork")) {
        char *const args[] = {self, "chain", "0", NULL};
        fflush(stdout);
        pid_t pid = vfork();
        if (pid == 0) {
            execv(self, args);
            _exit(127);
        }
        return report_child("vfork", pid);
    }
    if (!strcmp(argv[1], "spawn")) {
        char *const args[] = {self, "chain", "0", NULL};
        pid_t pid;
        fflush(stdout);
        int rc = posix_spawn(&pid, self, NULL, NULL, args, environ);
        if (rc) {
            errno = rc;
            t_die("posix_spawn");
        }
        return report_child("spawn", pid);
    }
    if (!strcmp(argv[1], "exec-sh") && argc > 2) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "exec '%s' chain %d", self, atoi(argv[2]));
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        t_die("execl");
    }
    fprintf(stderr, "stress_fork: bad arguments\n");
    return 2;
}
