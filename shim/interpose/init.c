/* init.c - the constructor: resolve libc, read and validate the environment
 * once, open the log; the destructor writes the stats summary. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "export.h"
#include "faults.h"
#include "log.h"
#include "sigdisp.h"
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
    ss_log_config_error(msg);
    _exit(2);
}

static void faults_file_error(const char *path, const char *why, char *err, size_t errlen)
{
    struct ss_buf b;
    ss_buf_init(&b, err, errlen);
    ss_buf_str(&b, "SENDSHIM_FAULTS_FILE: cannot read '");
    ss_buf_token(&b, path, strlen(path), SS_PATH_SHOWN_MAX);
    ss_buf_str(&b, "' (");
    ss_buf_str(&b, why);
    ss_buf_str(&b, "); accepted: a readable regular file of rules, one per line");
}

/* The rules are text: a NUL byte would end them early and silently drop
 * every rule after it, so it is refused, with where it is. */
static int refuse_nul(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
    const char *nul = memchr(text, '\0', len);
    if (!nul)
        return 0;
    uint64_t line = 1;
    for (const char *p = text; p < nul; p++)
        line += *p == '\n';
    struct ss_buf b;
    ss_buf_init(&b, err, errlen);
    ss_buf_str(&b, "SENDSHIM_FAULTS_FILE: '");
    ss_buf_token(&b, path, strlen(path), SS_PATH_SHOWN_MAX);
    ss_buf_str(&b, "' has a NUL byte at offset ");
    ss_buf_u64(&b, (uint64_t)(nul - text));
    ss_buf_str(&b, " (line ");
    ss_buf_u64(&b, line);
    ss_buf_str(&b, "); accepted: a text file of rules, one per line");
    return -1;
}

/* Read a whole regular file into text. A FIFO, a device or a directory is
 * refused without being read: asked with stat before the open (so a device
 * is never opened), and with fstat after it (the path may have changed);
 * the open is O_NONBLOCK, so a FIFO put there meanwhile cannot make it wait
 * for a writer before main. */
static int read_faults_file(const char *path, char *text, size_t cap, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        faults_file_error(path, ss_file_type_name(st.st_mode), err, errlen);
        return -1;
    }
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    size_t len = 0;
    if (fd < 0)
        goto fail;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        syscall(SYS_close, fd);
        faults_file_error(path, ss_file_type_name(st.st_mode), err, errlen);
        return -1;
    }
    for (;;) {
        long n = syscall(SYS_read, fd, text + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) { /* EIO, ... */
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
        return refuse_nul(path, text, len, err, errlen);
    errno = EFBIG;
fail:;
    const char *name = ss_errno_name(errno);
    faults_file_error(path, errno == EFBIG ? "larger than 64 KiB" : name ? name : "error", err, errlen);
    return -1;
}

/* Another copy of the library, from a different file (the loader maps one
 * file once), may be loaded too: LD_PRELOAD=/a/libsendshim.so:/b/libsendshim.so,
 * or the launcher run with LD_PRELOAD already holding an installed copy.
 * The program's calls reach the copy first in the lookup order, whose
 * "real" functions (dlsym RTLD_NEXT) are then the next copy's wrappers; if
 * both acted, every rule would act twice. The first copy is the one
 * dlsym(RTLD_DEFAULT) answers with, as it does for the program's own
 * sendshim_active(), so the runtime API and the wrappers agree on it; any
 * other copy stays a pass-through. A copy dlopen()ed with RTLD_LOCAL and no
 * other copy loaded finds nothing there and acts. Returns the first copy's
 * file name, or NULL when this copy is the first (or the only one). */
static const char *first_copy_elsewhere(void)
{
    void *first = dlsym(RTLD_DEFAULT, "sendshim_active");
    Dl_info info;
    if (!first || ss_is_our_own(first))
        return NULL;
    return dladdr(first, &info) && info.dli_fname ? info.dli_fname : "?";
}

static void log_second_copy(const char *first)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    Dl_info mine;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "another copy of the library is loaded first (");
    ss_buf_str(&b, first);
    ss_buf_str(&b, "): this copy (");
    ss_buf_str(&b, dladdr((void *)log_second_copy, &mine) && mine.dli_fname ? mine.dli_fname : "?");
    ss_buf_str(&b, ") passes every call through");
    ss_log_end(&b);
}

static int second_copy; /* this copy stays a pass-through */

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
    /* Before anything may return: SO_NOSIGPIPE works in secure mode too. */
    ss_sigpipe_disp_init();
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
    const char *first = first_copy_elsewhere();
    if (first) {
        log_second_copy(first);
        second_copy = 1;
        errno = saved;
        return;
    }
    if (!ss_cfg.seed_given)
        ss_cfg.seed = fresh_seed();
    if (ss_cfg.rules.uses_random)
        ss_faults_log_seed();
    /* Before the stages: attached, the process counts its calls. */
    if (ss_cfg.control)
        ss_control_attach(ss_cfg.control);
    ss_stages_init();
    /* OR-ed in, never stored: an SO_NOSIGPIPE or a rule set installed before
     * this constructor ran (from another library's) keeps its reason. */
    if (ss_config_any(&ss_cfg))
        ss_activate(SS_ACTIVE_ENV);
    else
        ss_policy_refresh(); /* the environment is known now: compile it */
    errno = saved;
}

__attribute__((destructor)) static void ss_fini(void)
{
    if (ss_cfg.stats && !second_copy)
        ss_stats_report();
    ss_control_exit();
}
