/* log.c - the diagnostic channel.
 *
 * No line may reach a descriptor the program owns (SPEC 9), and the library
 * holds no descriptor of its own: a program may list, close or reuse every
 * number (closefrom, close_range, pass_fds checks) without telling us.
 * - A log file is opened for each line and closed after it. Log lines are
 *   never on the plain path (faults, normalization diagnostics, trace, stats),
 *   so two system calls more per line buy a descriptor that is ours for
 *   exactly as long as the write.
 * - stderr is descriptor 2, which belongs to the program: a line is written
 *   only while it is still the file it was when the library started (device
 *   and inode, one fstat per line), and never when that is a socket (an
 *   inetd-style service has its client there; our lines would be data). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Where lines go: an enum ss_log_kind; stderr until the constructor says. */
static int log_kind = SS_LOG_STDERR;

/* SS_LOG_FILE: the path, made absolute at start so a chdir() of the
 * program's does not move the log. */
static char log_path[PATH_MAX];

/* SS_LOG_STDERR: what descriptor 2 was when the library started. */
enum { STDERR_UNSEEN, STDERR_USABLE, STDERR_OFF };
static int stderr_state; /* STDERR_UNSEEN until the constructor (or an earlier line) looks */
static dev_t stderr_dev;
static ino_t stderr_ino;

/* Every open of the log: O_NONBLOCK so that no open can wait (a FIFO would
 * wait for a reader), O_NOCTTY so that none makes a terminal ours. */
#define SS_LOG_OPEN_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)

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

const char *ss_file_type_name(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFIFO:
        return "a FIFO";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFSOCK:
        return "a socket";
    case S_IFDIR:
        return "a directory";
    case S_IFLNK:
        return "a symbolic link";
    default:
        return "not a regular file";
    }
}

/* Take what descriptor 2 is now as the stderr lines may go to. */
static int look_at_stderr(void)
{
    struct stat st;
    int state = STDERR_OFF;
    if (fstat(2, &st) == 0 && !S_ISSOCK(st.st_mode)) {
        stderr_dev = st.st_dev;
        stderr_ino = st.st_ino;
        state = STDERR_USABLE;
    }
    __atomic_store_n(&stderr_state, state, __ATOMIC_RELEASE);
    return state;
}

/* Whether descriptor 2 is still the stderr the library started with. Before
 * the constructor (a line from another library's constructor) the first line
 * takes the look; two threads doing so at once store the same answer. */
static int stderr_is_ours(void)
{
    int state = __atomic_load_n(&stderr_state, __ATOMIC_ACQUIRE);
    if (state == STDERR_UNSEEN)
        state = look_at_stderr();
    if (state != STDERR_USABLE)
        return 0;
    struct stat st;
    return fstat(2, &st) == 0 && st.st_dev == stderr_dev && st.st_ino == stderr_ino;
}

static void open_error(struct ss_buf *b, const char *path, const char *why)
{
    ss_buf_str(b, "SENDSHIM_LOG: cannot open '");
    ss_buf_token(b, path, strlen(path), SS_PATH_SHOWN_MAX);
    ss_buf_str(b, "' (");
    ss_buf_str(b, why);
    ss_buf_str(b, "); accepted: a regular file (created if missing), stderr, none");
}

/* log_path from path: as it is when absolute, else under the working
 * directory. -1 when it does not fit. */
static int set_path(const char *path)
{
    size_t n = strlen(path), dir = 0;
    if (path[0] != '/') {
        if (!getcwd(log_path, sizeof log_path))
            return -1;
        dir = strlen(log_path);
        if (dir + 1 >= sizeof log_path)
            return -1;
        log_path[dir++] = '/';
    }
    if (dir + n >= sizeof log_path)
        return -1;
    memcpy(log_path + dir, path, n + 1);
    return 0;
}

/* The file must be a regular file (or not exist yet: it is created). Asked
 * before the open with lstat, so a device is never opened (opening one can
 * act: a tape rewinds, a watchdog arms), and again after it with fstat (the
 * path may have changed between the two). */
static int check_file(const char *path, char *err, size_t errlen)
{
    struct ss_buf b;
    struct stat st;
    ss_buf_init(&b, err, errlen);
    if (lstat(log_path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
        open_error(&b, path, ss_file_type_name(st.st_mode));
        return -1;
    }
    int fd = (int)syscall(SYS_openat, AT_FDCWD, log_path, SS_LOG_OPEN_FLAGS, 0600);
    if (fd < 0) {
        const char *name = ss_errno_name(errno);
        if (errno == ELOOP)
            open_error(&b, path, "ELOOP: a symbolic link is refused");
        else
            open_error(&b, path, name ? name : "error");
        return -1;
    }
    int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    syscall(SYS_close, fd);
    if (!regular) {
        open_error(&b, path, ss_file_type_name(st.st_mode));
        return -1;
    }
    return 0;
}

int ss_log_open(const struct ss_config *c, char *err, size_t errlen)
{
    int saved = errno, rc = 0;
    switch (c->log_kind) {
    case SS_LOG_NONE:
        break;
    case SS_LOG_STDERR:
        look_at_stderr();
        break;
    case SS_LOG_FILE:
        if (set_path(c->log_path)) {
            struct ss_buf b;
            ss_buf_init(&b, err, errlen);
            open_error(&b, c->log_path, "too long with the working directory");
            rc = -1;
        } else {
            rc = check_file(c->log_path, err, errlen);
        }
        break;
    }
    if (!rc)
        __atomic_store_n(&log_kind, (int)c->log_kind, __ATOMIC_RELEASE);
    errno = saved;
    return rc;
}

int ss_log_enabled(void)
{
    return __atomic_load_n(&log_kind, __ATOMIC_ACQUIRE) != SS_LOG_NONE;
}

void ss_log_begin(struct ss_buf *b, char *storage, size_t cap)
{
    ss_buf_init(b, storage, cap);
    if (!ss_log_enabled())
        return; /* the line goes nowhere: no getpid() for its prefix */
    ss_buf_str(b, "sendshim[");
    /* getpid() each time rather than a cached value: right after fork and vfork. */
    ss_buf_i64(b, (int64_t)syscall(SYS_getpid));
    ss_buf_str(b, "]: ");
}

/* Newline (kept even when the line was cut), then the line. */
static void finish_line(struct ss_buf *b)
{
    if (b->len + 1 >= b->cap)
        b->len = b->cap - 2;
    b->p[b->len++] = '\n';
}

void ss_log_end(struct ss_buf *b)
{
    int kind = __atomic_load_n(&log_kind, __ATOMIC_ACQUIRE);
    if (kind == SS_LOG_NONE)
        return;
    int saved = errno;
    finish_line(b);
    if (kind == SS_LOG_STDERR) {
        if (stderr_is_ours())
            ss_write_all(2, b->p, b->len);
    } else {
        int fd = (int)syscall(SYS_openat, AT_FDCWD, log_path, SS_LOG_OPEN_FLAGS, 0600);
        if (fd >= 0) {
            ss_write_all(fd, b->p, b->len);
            syscall(SYS_close, fd);
        }
    }
    errno = saved;
}

void ss_log_text(const char *text)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, text);
    ss_log_end(&b);
}

void ss_log_config_error(const char *text)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    ss_buf_init(&b, line, sizeof line);
    ss_buf_str(&b, "sendshim[");
    ss_buf_i64(&b, (int64_t)syscall(SYS_getpid));
    ss_buf_str(&b, "]: ");
    ss_buf_str(&b, text);
    finish_line(&b);
    ss_write_all(2, b.p, b.len);
}
