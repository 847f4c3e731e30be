/* init.c - the constructor: resolve libc, read and validate the environment
 * once, open the log; the destructor writes the stats summary. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <string.h>
#include <unistd.h>

#include "export.h"
#include "faults.h"
#include "log.h"
#include "stages.h"
#include "state.h"
#include "stats.h"

#define SS_FAULTS_FILE_MAX (64 * 1024) /* a rules file larger than this is refused */

static const char *env_get(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

/* Configuration errors stop the program before main: exit status 2, one
 * line. It goes to stderr whatever SENDSHIM_LOG says (the log is not open
 * yet, and a program that stops must say why where its starter looks). */
static void config_error(const char *msg)
{
    ss_log_fd = 2;
    ss_log_text(msg);
    _exit(2);
}

static int read_faults_file(const char *path, char *text, size_t cap, char *err, size_t errlen)
{
    struct ss_buf b;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    if (fd >= 0) {
        for (;;) {
            long n = syscall(SYS_read, fd, text + len, cap - 1 - len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) { /* EISDIR for a directory, EIO, ... */
                int e = errno;
                syscall(SYS_close, fd);
                errno = e;
                goto fail;
            }
            if (n == 0)
                break;
            len += (size_t)n;
            if (len == cap - 1)
                break;
        }
        syscall(SYS_close, fd);
        text[len] = '\0';
        if (len < cap - 1)
            return 0;
        errno = EFBIG;
    }
fail:;
    const char *name = ss_errno_name(errno);
    ss_buf_init(&b, err, errlen);
    ss_buf_str(&b, "SENDSHIM_FAULTS_FILE: cannot read '");
    ss_buf_token(&b, path, strlen(path), SS_PATH_SHOWN_MAX);
    ss_buf_str(&b, "' (");
    ss_buf_str(&b, errno == EFBIG ? "larger than 64 KiB" : name ? name : "error");
    ss_buf_str(&b, "); accepted: a readable file of rules, one per line");
    return -1;
}

/* A seed when the user gave none: from the kernel's AT_RANDOM bytes, which
 * costs no system call and leaves libc's random() alone. */
static uint64_t fresh_seed(void)
{
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    uint64_t seed = 0;
    for (int i = 0; r && i < 8; i++)
        seed = seed << 8 | r[i];
    return seed;
}

__attribute__((constructor)) static void ss_init(void)
{
    int saved = errno;
    char err[SS_ERR_MAX];
    ss_real_resolve_all();
    ss_faults_fork_init();

    /* Secure-execution mode (setuid and the like): the environment belongs to
     * someone else, so it is ignored entirely. */
    if (getauxval(AT_SECURE)) {
        errno = saved;
        return;
    }
    if (ss_config_parse(&ss_cfg, env_get, NULL, err, sizeof err))
        config_error(err);
    if (ss_cfg.faults_file) {
        char text[SS_FAULTS_FILE_MAX];
        if (read_faults_file(ss_cfg.faults_file, text, sizeof text, err, sizeof err) ||
            ss_config_add_faults_file(&ss_cfg, text, err, sizeof err))
            config_error(err);
    }
    if (ss_log_open(&ss_cfg, err, sizeof err))
        config_error(err);
    if (!ss_cfg.seed_given)
        ss_cfg.seed = fresh_seed();
    if (ss_cfg.rules.uses_random)
        ss_faults_log_seed();
    ss_stages_init();
    __atomic_store_n(&ss_active, ss_config_any(&ss_cfg), __ATOMIC_RELEASE);
    errno = saved;
}

__attribute__((destructor)) static void ss_fini(void)
{
    if (ss_cfg.stats)
        ss_stats_report();
}
