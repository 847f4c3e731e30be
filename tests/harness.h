/* harness.h - spawning programs for the integration tests.
 *
 * Every integration test runs its program through run(): the child gets a
 * clean environment (no SENDSHIM_* and no LD_PRELOAD inherited from the
 * runner), the library preloaded only when asked, its own process group, and
 * a timeout. The Criterion runner itself never has the library preloaded: it
 * talks to its workers over sendmsg.
 */
#ifndef SENDSHIM_TESTS_HARNESS_H
#define SENDSHIM_TESTS_HARNESS_H

#include <pthread.h>
#include <stddef.h>

struct run_result {
    int exited;    /* 1 when the child exited normally */
    int status;    /* exit code when exited; 128 + the signal when killed by one */
    int signaled;  /* 1 when killed by a signal */
    int sig;       /* that signal */
    int timed_out; /* 1 when the harness killed it after the timeout */
    char *out;
    size_t out_len; /* captured stdout, NUL-terminated */
    char *err;
    size_t err_len; /* captured stderr, NUL-terminated */
};

/* Run argv (argv[0] is a path or a name looked up in PATH) with the current
 * environment minus every SENDSHIM_* variable and LD_PRELOAD, plus `env`
 * ("K=V" strings, NULL-terminated list or NULL; an entry replaces a variable
 * of the same name). When `preload` is non-zero LD_PRELOAD is set to the
 * library (lib_path()); an LD_PRELOAD in `env` then comes after it. stdin gets
 * stdin_data (NULL = /dev/null). Kills the child (SIGKILL, whole process
 * group) after timeout_s. The child starts with default signal dispositions,
 * an empty signal mask and only descriptors 0, 1 and 2 open.
 * Returns 0, or -1 if it could not run at all (and logs why with cr_log_info: a warning would make Criterion
 * exit 1). */
int run(struct run_result *r, const char *const argv[], const char *const env[], int preload,
        const char *stdin_data, int timeout_s);
void run_free(struct run_result *r);

const char *top_dir(void);                 /* $SENDSHIM_TOP, else the cwd (absolute) */
const char *lib_path(void);                /* <top>/build/libsendshim.so (absolute) */
const char *target_path(const char *name); /* <top>/build/targets/<name>, static rotating buffers */
const char *script_path(void);             /* <top>/scripts/sendshim */

/* run() argv under `strace -f -qq -e trace=<calls>`, strace itself neither
 * preloaded nor configured: the library (when `preload` is non-zero) and each
 * "K=V" of `env` (NULL-terminated list or NULL) reach argv through strace's -E.
 * With -f every trace line starts with the pid. *trace gets strace's output
 * (malloc'd, NUL-terminated; the caller frees it), read back from a temporary
 * file that is gone on return. Returns 0, or -1 when the program could not
 * be run or its trace not read (logged with cr_log_info; *r then needs no
 * run_free). Check have_program("strace") first. */
int run_strace(struct run_result *r, const char *calls, const char *const argv[], const char *const env[],
               int preload, int timeout_s, char **trace);

/* Count the lines of text that contain needle. */
int count_lines(const char *text, const char *needle);

/* Fill the file at path (created 0600, or truncated) with `bytes` bytes of a
 * fixed xorshift sequence: no short count can land on a repeat. 0 or -1. */
int write_pattern_file(const char *path, size_t bytes);

/* The sha256 of a file as 64 hex digits (malloc'd; sha256sum does the work),
 * or NULL when it cannot be computed. */
char *sha256_file(const char *path);

/* A TCP receiver on 127.0.0.1 (an ephemeral port) that accepts one
 * connection in a thread and writes everything it reads to `path`. */
struct tcp_sink {
    int listener;
    int port;
    char path[4096];
    pthread_t thread;
};
/* 0, or -1 when the socket or the thread cannot be set up. */
int tcp_sink_start(struct tcp_sink *s, const char *path);
/* Wait for the transfer's end (unblocking accept if nobody connected). */
void tcp_sink_finish(struct tcp_sink *s);

/* 1 when `prog` is found in PATH (or, when it contains a '/', is executable). */
int have_program(const char *prog);

#endif
