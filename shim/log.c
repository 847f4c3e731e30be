/* log.c - the diagnostic channel. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <string.h>
#include <unistd.h>

int ss_log_fd = 2;

/* Where the log file's descriptor goes: high, yet below the usual soft
 * RLIMIT_NOFILE of 1024. */
#define SS_LOG_FD_FLOOR 700

void ss_write_all(int fd, const char *p, size_t n)
{
    int saved = errno;
    while (n) {
        /* syscall(): our own `write` wrapper must not see our lines. */
        long w = syscall(SYS_write, fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        n -= (size_t)w;
    }
    errno = saved;
}

int ss_log_open(const struct ss_config *c, char *err, size_t errlen)
{
    switch (c->log_kind) {
    case SS_LOG_NONE:
        ss_log_fd = -1;
        return 0;
    case SS_LOG_STDERR:
        ss_log_fd = 2;
        return 0;
    case SS_LOG_FILE:
        break;
    }
    int saved = errno;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, c->log_path,
                          O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        struct ss_buf b;
        const char *name = ss_errno_name(errno);
        ss_buf_init(&b, err, errlen);
        ss_buf_str(&b, "SENDSHIM_LOG: cannot open '");
        ss_buf_token(&b, c->log_path, strlen(c->log_path), SS_PATH_SHOWN_MAX);
        ss_buf_str(&b, "' (");
        ss_buf_str(&b, name ? name : "error");
        ss_buf_str(&b, errno == ELOOP ? ": a symbolic link is refused" : "");
        ss_buf_str(&b, "); accepted: a writable file path, stderr, none");
        errno = saved;
        return -1;
    }
    /* Move out of the program's way: programs (and tests) expect the lowest
     * free descriptors to be theirs. F_DUPFD_CLOEXEC picks the lowest free
     * one at or above the floor; if that fails the original stays. */
    int high = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, SS_LOG_FD_FLOOR);
    if (high >= 0) {
        syscall(SYS_close, fd);
        fd = high;
    }
    errno = saved;
    ss_log_fd = fd;
    return 0;
}

void ss_log_begin(struct ss_buf *b, char *storage, size_t cap)
{
    ss_buf_init(b, storage, cap);
    if (__atomic_load_n(&ss_log_fd, __ATOMIC_RELAXED) < 0)
        return; /* the line goes nowhere: no getpid() for its prefix */
    ss_buf_str(b, "sendshim[");
    /* getpid() each time rather than a cached value: right after fork and vfork. */
    ss_buf_i64(b, (int64_t)syscall(SYS_getpid));
    ss_buf_str(b, "]: ");
}

void ss_log_end(struct ss_buf *b)
{
    int fd = __atomic_load_n(&ss_log_fd, __ATOMIC_RELAXED);
    if (fd < 0)
        return;
    if (b->len + 1 >= b->cap) { /* keep room for the newline even when cut */
        b->len = b->cap - 2;
    }
    b->p[b->len++] = '\n';
    ss_write_all(fd, b->p, b->len);
}

void ss_log_text(const char *text)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, text);
    ss_log_end(&b);
}

void ss_log_fd_lost(int fd)
{
    if (fd > 2 && fd == __atomic_load_n(&ss_log_fd, __ATOMIC_RELAXED))
        __atomic_store_n(&ss_log_fd, -1, __ATOMIC_RELAXED);
}
