/* harness.c - spawning programs for the integration tests (see harness.h).
 *
 * Test code: it may allocate and use stdio freely. What it must get right is
 * isolation: the child's environment, descriptors, signal state and process
 * group are set explicitly, so a test's result never depends on how the
 * runner itself was started.
 */
#include "harness.h"

#include <criterion/logging.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* How often the collecting loop looks at the child while its pipes stay open
 * (e.g. a grandchild holds them after the child exited). */
#define POLL_SLICE_MS 50
/* How long output may keep coming after the child exited, or after the kill
 * at the timeout, before the rest of the process group is killed too. */
#define DRAIN_GRACE_MS 1000
/* Bytes read from a pipe at a time. */
#define READ_CHUNK 65536
/* Number of target_path() results that stay valid at the same time. */
#define TARGET_PATH_SLOTS 8

static char top_buf[PATH_MAX];
static char lib_buf[PATH_MAX];
static char script_buf[PATH_MAX];
static char target_bufs[TARGET_PATH_SLOTS][PATH_MAX];
static unsigned target_next;

const char *top_dir(void)
{
    if (top_buf[0])
        return top_buf;
    const char *top = getenv("SENDSHIM_TOP");
    if (top && *top) {
        /* Absolute, so the paths derived from it survive a chdir. */
        if (!realpath(top, top_buf))
            snprintf(top_buf, sizeof top_buf, "%s", top);
    } else if (!getcwd(top_buf, sizeof top_buf)) {
        snprintf(top_buf, sizeof top_buf, ".");
    }
    return top_buf;
}

const char *lib_path(void)
{
    if (!lib_buf[0])
        snprintf(lib_buf, sizeof lib_buf, "%s/build/libsendshim.so", top_dir());
    return lib_buf;
}

const char *script_path(void)
{
    if (!script_buf[0])
        snprintf(script_buf, sizeof script_buf, "%s/scripts/sendshim", top_dir());
    return script_buf;
}

const char *target_path(const char *name)
{
    char *buf = target_bufs[target_next++ % TARGET_PATH_SLOTS];
    snprintf(buf, PATH_MAX, "%s/build/targets/%s", top_dir(), name);
    return buf;
}

int count_lines(const char *text, const char *needle)
{
    int n = 0;
    if (!text || !needle)
        return 0;
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        const char *hit = memmem(text, len, needle, strlen(needle));
        if (hit)
            n++;
        if (!nl)
            break;
        text = nl + 1;
    }
    return n;
}

static int is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int have_program(const char *prog)
{
    if (!prog || !*prog)
        return 0;
    if (strchr(prog, '/'))
        return is_executable_file(prog);
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    while (1) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        char cand[PATH_MAX];
        /* An empty PATH entry means the current directory. */
        if (len == 0)
            snprintf(cand, sizeof cand, "./%s", prog);
        else
            snprintf(cand, sizeof cand, "%.*s/%s", (int)len, path, prog);
        if (is_executable_file(cand))
            return 1;
        if (!colon)
            return 0;
        path = colon + 1;
    }
}

/* --- environment ---------------------------------------------------------- */

static size_t name_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

static int same_name(const char *a, const char *b)
{
    size_t la = name_len(a);
    return la == name_len(b) && memcmp(a, b, la) == 0;
}

static int inherited_ok(const char *kv)
{
    if (strncmp(kv, "SENDSHIM_", 9) == 0)
        return 0;
    if (same_name(kv, "LD_PRELOAD"))
        return 0;
    return 1;
}

/* The child's environment: a malloc'd NULL-terminated array; the strings are
 * either borrowed (environ, env) or the one malloc'd LD_PRELOAD in *owned. */
static char **build_env(const char *const env[], int preload, char **owned)
{
    size_t n_env = 0, n_cur = 0;
    while (env && env[n_env])
        n_env++;
    while (environ && environ[n_cur])
        n_cur++;
    char **out = calloc(n_cur + n_env + 2, sizeof *out);
    if (!out)
        return NULL;
    size_t k = 0;
    const char *user_preload = NULL;
    for (size_t i = 0; i < n_cur; i++) {
        if (!inherited_ok(environ[i]))
            continue;
        int overridden = 0;
        for (size_t j = 0; j < n_env && !overridden; j++)
            overridden = same_name(environ[i], env[j]);
        if (!overridden)
            out[k++] = environ[i];
    }
    for (size_t j = 0; j < n_env; j++) {
        /* A later entry of the same name wins, as with env(1). */
        int later = 0;
        for (size_t m = j + 1; m < n_env && !later; m++)
            later = same_name(env[j], env[m]);
        if (later)
            continue;
        if (preload && same_name(env[j], "LD_PRELOAD")) {
            user_preload = env[j] + sizeof "LD_PRELOAD";
            continue;
        }
        out[k++] = (char *)env[j];
    }
    *owned = NULL;
    if (preload) {
        if (user_preload && *user_preload) {
            if (asprintf(owned, "LD_PRELOAD=%s:%s", lib_path(), user_preload) < 0)
                *owned = NULL;
        } else if (asprintf(owned, "LD_PRELOAD=%s", lib_path()) < 0) {
            *owned = NULL;
        }
        if (!*owned) {
            free(out);
            return NULL;
        }
        out[k++] = *owned;
    }
    out[k] = NULL;
    return out;
}

/* --- buffers and time ------------------------------------------------------- */

struct buf {
    char *data;
    size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Move a descriptor to 3 or above (so dup2 onto 0..2 in the child never
 * clobbers another pipe end) and make it close-on-exec. */
static int high_cloexec(int fd)
{
    if (fd >= 3)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    p[0] = high_cloexec(p[0]);
    p[1] = high_cloexec(p[1]);
    return p[0] < 0 || p[1] < 0 ? -1 : 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Write to the stdin pipe without letting a reader that went away kill the
 * runner: SIGPIPE is blocked for the write and a pending one is consumed (the
 * signal is thread-directed, so it stays pending on this thread). */
static ssize_t write_nosigpipe(int fd, const char *p, size_t n)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t w = write(fd, p, n);
    int saved = errno;
    if (w < 0 && errno == EPIPE) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
            ;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return w;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_setup(int in_fd, int out_fd, int err_fd, int report_fd, char *const argv[],
                        char *const envp[])
{
    setpgid(0, 0);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL); /* fails harmlessly for SIGKILL, SIGSTOP and unused numbers */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        goto fail;
    /* Whatever else the runner has open (Criterion's own channels) must not
     * leak into the program: its descriptor numbers are part of some tests. */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = 3; fd < max && fd < 65536; fd++)
            if (fd != report_fd)
                fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    }
    execvpe(argv[0], argv, envp);
fail:;
    int e = errno;
    ssize_t ignored = write(report_fd, &e, sizeof e);
    (void)ignored;
    _exit(127);
}

static void fill_status(struct run_result *r, int wstatus)
{
    if (WIFEXITED(wstatus)) {
        r->exited = 1;
        r->status = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
        r->signaled = 1;
        r->sig = WTERMSIG(wstatus);
        r->status = 128 + r->sig; /* as a shell says it: never 0, so "status is 0" means it exited 0 */
    } else {
        r->status = -1;
    }
}

int run(struct run_result *r, const char *const argv[], const char *const env[], int preload,
        const char *stdin_data, int timeout_s)
{
    memset(r, 0, sizeof *r);
    if (!argv || !argv[0]) {
        cr_log_info("run: no program given");
        return -1;
    }
    int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, rep_p[2] = {-1, -1};
    char *owned = NULL;
    char **envp = build_env(env, preload, &owned);
    struct buf out = {0}, err = {0};
    int ret = -1;
    if (!envp) {
        cr_log_info("run: out of memory building the environment");
        return -1;
    }
    if (stdin_data) {
        if (make_pipe(in_p) < 0)
            goto sys_fail;
    } else {
        in_p[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in_p[0] < 0 || (in_p[0] = high_cloexec(in_p[0])) < 0)
            goto sys_fail;
    }
    if (make_pipe(out_p) < 0 || make_pipe(err_p) < 0 || make_pipe(rep_p) < 0)
        goto sys_fail;

    pid_t pid = fork();
    if (pid < 0)
        goto sys_fail;
    if (pid == 0)
        child_setup(in_p[0], out_p[1], err_p[1], rep_p[1], (char *const *)argv, envp);
    /* Also here, so the group exists before any kill below (no race with the
     * child's own setpgid). EACCES after the child's exec is harmless. */
    setpgid(pid, pid);
    close_fd(&in_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[1]);
    close_fd(&rep_p[1]);

    int exec_errno = 0;
    ssize_t got = read(rep_p[0], &exec_errno, sizeof exec_errno);
    close_fd(&rep_p[0]);
    if (got == (ssize_t)sizeof exec_errno) {
        int ws;
        waitpid(pid, &ws, 0);
        cr_log_info("run: cannot execute %s: %s", argv[0], strerror(exec_errno));
        goto out;
    }

    if (in_p[1] >= 0)
        fcntl(in_p[1], F_SETFL, O_NONBLOCK);
    size_t in_off = 0, in_len = stdin_data ? strlen(stdin_data) : 0;
    if (in_p[1] >= 0 && in_len == 0)
        close_fd(&in_p[1]);

    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    int64_t grace_end = -1; /* set once the child is reaped or killed */
    int reaped = 0, wstatus = 0, killed = 0;
    while (out_p[0] >= 0 || err_p[0] >= 0 || in_p[1] >= 0) {
        struct pollfd pf[3];
        int n = 0, i_out = -1, i_err = -1, i_in = -1;
        if (out_p[0] >= 0) {
            i_out = n;
            pf[n++] = (struct pollfd){.fd = out_p[0], .events = POLLIN};
        }
        if (err_p[0] >= 0) {
            i_err = n;
            pf[n++] = (struct pollfd){.fd = err_p[0], .events = POLLIN};
        }
        if (in_p[1] >= 0) {
            i_in = n;
            pf[n++] = (struct pollfd){.fd = in_p[1], .events = POLLOUT};
        }
        int64_t now = now_ms();
        int64_t until = grace_end >= 0 ? grace_end : deadline;
        int64_t wait = until - now;
        if (wait > POLL_SLICE_MS)
            wait = POLL_SLICE_MS;
        if (wait < 0)
            wait = 0;
        int pr = poll(pf, (nfds_t)n, (int)wait);
        if (pr < 0 && errno != EINTR) {
            cr_log_info("run: poll: %s", strerror(errno));
            break;
        }
        for (int k = 0; pr > 0 && k < 2; k++) {
            int idx = k == 0 ? i_out : i_err;
            int *fd = k == 0 ? &out_p[0] : &err_p[0];
            struct buf *b = k == 0 ? &out : &err;
            if (idx < 0 || !(pf[idx].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (buf_reserve(b, READ_CHUNK) < 0) {
                close_fd(fd);
                continue;
            }
            ssize_t rd = read(*fd, b->data + b->len, READ_CHUNK);
            if (rd > 0)
                b->len += (size_t)rd;
            else if (rd == 0 || (errno != EINTR && errno != EAGAIN))
                close_fd(fd);
        }
        if (pr > 0 && i_in >= 0 && (pf[i_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write_nosigpipe(in_p[1], stdin_data + in_off, in_len - in_off);
            if (w > 0)
                in_off += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                close_fd(&in_p[1]); /* the child stopped reading: fine */
            if (in_off == in_len)
                close_fd(&in_p[1]);
        }
        if (!reaped && waitpid(pid, &wstatus, WNOHANG) == pid) {
            reaped = 1;
            if (grace_end < 0)
                grace_end = now_ms() + DRAIN_GRACE_MS;
        }
        now = now_ms();
        if (!killed && !reaped && now >= deadline) {
            kill(-pid, SIGKILL);
            killed = 1;
            r->timed_out = 1;
            grace_end = now + DRAIN_GRACE_MS;
        } else if (grace_end >= 0 && now >= grace_end) {
            /* Someone still holds the pipes: a member of the child's group
             * (the group id stays reserved while it has members). */
            kill(-pid, SIGKILL);
            break;
        }
    }
    close_fd(&in_p[1]);
    close_fd(&out_p[0]);
    close_fd(&err_p[0]);

    /* The pipes are closed, but the child may still run (it closed its
     * stdout and stderr itself): the timeout still applies. */
    while (!reaped) {
        pid_t w = waitpid(pid, &wstatus, WNOHANG);
        if (w == pid) {
            reaped = 1;
            break;
        }
        if (w < 0 && errno != EINTR) {
            cr_log_info("run: waitpid: %s", strerror(errno));
            goto out;
        }
        if (!killed && now_ms() >= deadline) {
            kill(-pid, SIGKILL);
            killed = 1;
            r->timed_out = 1;
        }
        struct timespec slice = {0, 5 * 1000000};
        nanosleep(&slice, NULL);
    }
    fill_status(r, wstatus);
    ret = 0;
    goto out;

sys_fail:
    cr_log_info("run: cannot start %s: %s", argv[0], strerror(errno));
out:
    close_fd(&in_p[0]);
    close_fd(&in_p[1]);
    close_fd(&out_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[0]);
    close_fd(&err_p[1]);
    close_fd(&rep_p[0]);
    close_fd(&rep_p[1]);
    free(envp);
    free(owned);
    if (ret == 0) {
        /* Always NUL-terminated, even when nothing was written. */
        if (buf_reserve(&out, 0) < 0 || buf_reserve(&err, 0) < 0) {
            cr_log_info("run: out of memory");
            free(out.data);
            free(err.data);
            return -1;
        }
        out.data[out.len] = '\0';
        err.data[err.len] = '\0';
        r->out = out.data;
        r->out_len = out.len;
        r->err = err.data;
        r->err_len = err.len;
    } else {
        free(out.data);
        free(err.data);
    }
    return ret;
}

void run_free(struct run_result *r)
{
    if (!r)
        return;
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
    r->out_len = r->err_len = 0;
}

/* The whole content of the file at path (malloc'd, NUL-terminated), or NULL. */
static char *read_whole_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    struct buf b = {0};
    size_t n;
    do {
        if (buf_reserve(&b, READ_CHUNK) < 0) {
            free(b.data);
            fclose(f);
            return NULL;
        }
        n = fread(b.data + b.len, 1, READ_CHUNK, f);
        b.len += n;
    } while (n > 0);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(b.data);
        return NULL;
    }
    b.data[b.len] = '\0';
    return b.data;
}

int run_strace(struct run_result *r, const char *calls, const char *const argv[], const char *const env[],
               int preload, int timeout_s, char **trace)
{
    memset(r, 0, sizeof *r);
    *trace = NULL;
    size_t nargs = 0, nenv = 0;
    while (argv && argv[nargs])
        nargs++;
    while (env && env[nenv])
        nenv++;
    char path[] = "/tmp/sendshim-strace-XXXXXX";
    char trace_opt[256], preload_env[PATH_MAX + 16];
    snprintf(trace_opt, sizeof trace_opt, "trace=%s", calls);
    snprintf(preload_env, sizeof preload_env, "LD_PRELOAD=%s", lib_path());
    /* strace -f -qq -e TRACE -o PATH [-E LD_PRELOAD=..] [-E K=V].. ARGV.. NULL */
    const char **sargv = calloc(9 + 2 * nenv + nargs + 1, sizeof *sargv);
    if (!sargv) {
        cr_log_info("run_strace: out of memory");
        return -1;
    }
    int fd = mkstemp(path);
    if (fd < 0) {
        cr_log_info("run_strace: mkstemp: %s", strerror(errno));
        free(sargv);
        return -1;
    }
    close(fd);
    size_t n = 0;
    sargv[n++] = "strace";
    sargv[n++] = "-f";
    sargv[n++] = "-qq";
    sargv[n++] = "-e";
    sargv[n++] = trace_opt;
    sargv[n++] = "-o";
    sargv[n++] = path;
    if (preload) {
        sargv[n++] = "-E";
        sargv[n++] = preload_env;
    }
    for (size_t i = 0; i < nenv; i++) {
        sargv[n++] = "-E";
        sargv[n++] = env[i];
    }
    for (size_t i = 0; i < nargs; i++)
        sargv[n++] = argv[i];
    sargv[n] = NULL;
    int ret = run(r, sargv, NULL, 0, NULL, timeout_s);
    free(sargv);
    if (ret == 0) {
        *trace = read_whole_file(path);
        if (!*trace) {
            cr_log_info("run_strace: cannot read the trace %s: %s", path, strerror(errno));
            run_free(r);
            ret = -1;
        }
    }
    unlink(path);
    return ret;
}

int write_pattern_file(const char *path, size_t bytes)
{
    static uint64_t block[1 << 17]; /* 1 MiB at a time */
    uint64_t x = 88172645463325252ull;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    while (bytes) {
        for (size_t i = 0; i < sizeof block / sizeof block[0]; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            block[i] = x;
        }
        size_t n = bytes < sizeof block ? bytes : sizeof block;
        if (write(fd, block, n) != (ssize_t)n) {
            close(fd);
            return -1;
        }
        bytes -= n;
    }
    return close(fd);
}

char *sha256_file(const char *path)
{
    const char *argv[] = {"sha256sum", path, NULL};
    struct run_result r;
    char *hash = NULL;
    if (run(&r, argv, NULL, 0, NULL, 60) == 0 && r.exited && r.status == 0 && r.out_len >= 64)
        hash = strndup(r.out, 64);
    run_free(&r);
    return hash;
}

static void *tcp_sink_run(void *arg)
{
    struct tcp_sink *s = arg;
    static __thread char buf[1 << 16];
    int c = accept(s->listener, NULL, NULL);
    int out = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t n;
    while (c >= 0 && out >= 0 && (n = read(c, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            break;
    if (out >= 0)
        close(out);
    if (c >= 0)
        close(c);
    return NULL;
}

int tcp_sink_start(struct tcp_sink *s, const char *path)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    snprintf(s->path, sizeof s->path, "%s", path);
    s->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listener < 0 || bind(s->listener, (struct sockaddr *)&a, sizeof a) ||
        getsockname(s->listener, (struct sockaddr *)&a, &len) || listen(s->listener, 1) ||
        pthread_create(&s->thread, NULL, tcp_sink_run, s)) {
        if (s->listener >= 0)
            close(s->listener);
        return -1;
    }
    s->port = ntohs(a.sin_port);
    return 0;
}

void tcp_sink_finish(struct tcp_sink *s)
{
    shutdown(s->listener, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->listener);
}
