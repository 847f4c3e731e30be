/* control.c - live control (SPEC 14): the process's side of the control file
 * (layout and protocol: control_layout.h).
 *
 * The library holds no descriptor and no thread for it: the file is mapped
 * once by the constructor and the descriptor closed. Each send-family call
 * polls the file's generation (control.h); a change is applied by the call
 * that sees it, through the rule-set replacement every other change takes
 * (fault_store.c), so the rules a call is decided by are always a whole set
 * this process validated. One thread applies at a time; a thread (or a
 * signal handler) that finds an application under way goes on with the rules
 * in force, and a later call picks the change up.
 *
 * Fork: the child claims a slot of its own and its counters start from 0
 * (fault_store.c's fork handler calls ss_control_atfork_child first).
 * Exec: the new image attaches again through the inherited SENDSHIM_CONTROL,
 * and the old image's slot (same pid) is taken over or marked gone. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "control_layout.h"
#include "log.h"
#include "state.h"
#include "stats.h"

const uint64_t *ss_control_gen SS_HOT;
uint64_t ss_control_applied SS_HOT;

static struct ss_ctl_file *file; /* the mapping, while attached */
static struct ss_ctl_proc *me;   /* this process's slot */
static const char *file_path;    /* for log lines (points into the environment) */
static int applying;             /* a thread is applying a change */

/* "SENDSHIM_CONTROL: 'PATH' WHAT" as one log line. */
static void log_control(const char *what, const char *detail)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "SENDSHIM_CONTROL: '");
    ss_buf_token(&b, file_path, strlen(file_path), SS_PATH_SHOWN_MAX);
    ss_buf_str(&b, "' ");
    ss_buf_str(&b, what);
    if (detail)
        ss_buf_str(&b, detail);
    ss_log_end(&b);
}

static void refuse(const char *why)
{
    log_control(why, "; running without live control");
}

/* ---- the process's slot ------------------------------------------------------ */

/* Start slot p's counters from 0 under its new owner. */
static void reset_slot(struct ss_ctl_proc *p)
{
    /* The file is created zeroed, but anyone may have written into it. */
    memset(&p->stats, 0, sizeof p->stats);
    __atomic_store_n(&p->gen, 0, __ATOMIC_RELAXED);
    char comm[SS_CTL_COMM + 1] = {0}; /* PR_GET_NAME writes up to 16 bytes */
    prctl(PR_GET_NAME, comm);
    memcpy(p->comm, comm, SS_CTL_COMM);
    __atomic_store_n(&p->state, SS_CTL_ALIVE, __ATOMIC_RELEASE);
}

static int slot_quiet(const struct ss_ctl_proc *p);

/* Claim a slot for pid, or NULL when the table is full: a slot whose process
 * ended without making a call (a shell's subshell, say) is reused first, so
 * such processes do not fill the table; else a free one. */
static struct ss_ctl_proc *claim_slot(int32_t pid)
{
    for (unsigned i = 0; i < SS_CTL_PROCS; i++) {
        struct ss_ctl_proc *p = &file->proc[i];
        uint32_t gone = SS_CTL_GONE;
        if (!slot_quiet(p) || !__atomic_compare_exchange_n(&p->state, &gone, SS_CTL_CLAIMING, 0,
                                                           __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            continue;
        __atomic_store_n(&p->pid, pid, __ATOMIC_RELAXED);
        reset_slot(p);
        return p;
    }
    for (unsigned i = 0; i < SS_CTL_PROCS; i++) {
        struct ss_ctl_proc *p = &file->proc[i];
        int32_t free_pid = 0;
        if (__atomic_compare_exchange_n(&p->pid, &free_pid, pid, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            reset_slot(p);
            return p;
        }
    }
    return NULL;
}

static int slot_quiet(const struct ss_ctl_proc *p)
{
    uint64_t any = 0;
    for (unsigned c = 0; c < SS_NCALLS_SEEN; c++)
        any |= __atomic_load_n(&p->stats.call[c].calls, __ATOMIC_RELAXED);
    return !any;
}

/* A slot still marked alive under our pid belongs to the image this one
 * replaced by exec: that program is gone. One that never made a call (a
 * shell or wrapper script that exec'd the real program) is taken over, so a
 * chain of execs takes one slot; the others are marked gone and keep their
 * counters. Returns the slot taken over, or NULL. */
static struct ss_ctl_proc *take_over_old_image(int32_t pid)
{
    struct ss_ctl_proc *taken = NULL;
    for (unsigned i = 0; i < SS_CTL_PROCS; i++) {
        struct ss_ctl_proc *p = &file->proc[i];
        if (__atomic_load_n(&p->pid, __ATOMIC_RELAXED) != pid ||
            __atomic_load_n(&p->state, __ATOMIC_RELAXED) != SS_CTL_ALIVE)
            continue;
        if (!taken && slot_quiet(p))
            taken = p;
        else
            __atomic_store_n(&p->state, SS_CTL_GONE, __ATOMIC_RELEASE);
    }
    if (taken)
        reset_slot(taken);
    return taken;
}

/* Stop using the file (a forked child that found no slot): counters go back
 * to the process's own memory, the rules in force stay. */
static void detach(void)
{
    __atomic_store_n(&ss_control_gen, NULL, __ATOMIC_RELAXED);
    me = NULL;
    memset(&ss_stats_own, 0, sizeof ss_stats_own);
    ss_stats_home = &ss_stats_own;
}

void ss_control_atfork_child(void)
{
    /* Only the forking thread exists in the child: an application another
     * thread had under way is not (and never ends) here. */
    __atomic_store_n(&applying, 0, __ATOMIC_RELAXED);
    if (!me)
        return;
    me = claim_slot((int32_t)syscall(SYS_getpid));
    if (me) {
        ss_stats_home = &me->stats;
    } else {
        detach();
        refuse("has no free process slot for this child");
    }
}

/* ---- attaching ---------------------------------------------------------------------- */

/* The file must be ours alone: a regular file owned by our real uid that
 * neither group nor others can write, of the size of this layout. */
static const char *file_problem(const struct stat *st)
{
    if (!S_ISREG(st->st_mode))
        return "is not a regular file";
    if (st->st_uid != getuid())
        return "is not owned by this user";
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return "is writable by group or others";
    if ((uint64_t)st->st_size != sizeof(struct ss_ctl_file))
        return "is not a control file (wrong size; make one with 'sendshim ctl PATH init')";
    return NULL;
}

int ss_control_attach(const char *path)
{
    file_path = path;
    /* O_NONBLOCK: a FIFO put there must not hang the program; O_NOFOLLOW: no
     * symbolic link to someone else's file. */
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        const char *name = ss_errno_name(errno);
        char why[64];
        struct ss_buf b;
        ss_buf_init(&b, why, sizeof why);
        ss_buf_str(&b, "cannot be opened (");
        ss_buf_str(&b, name ? name : "error");
        ss_buf_str(&b, errno == ELOOP ? ": a symbolic link is refused)" : ")");
        refuse(why);
        return 0;
    }
    struct stat st;
    const char *problem = fstat(fd, &st) ? "cannot be examined" : file_problem(&st);
    void *map = MAP_FAILED;
    if (!problem) {
        map = mmap(NULL, sizeof(struct ss_ctl_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
            problem = "cannot be mapped";
    }
    syscall(SYS_close, fd);
    if (!problem && !ss_ctl_header_ok(map))
        problem = "is not a control file of this version (make one with 'sendshim ctl PATH init')";
    if (problem) {
        if (map != MAP_FAILED)
            munmap(map, sizeof(struct ss_ctl_file));
        refuse(problem);
        return 0;
    }
    file = map;
    int32_t pid = (int32_t)syscall(SYS_getpid);
    me = take_over_old_image(pid);
    if (!me)
        me = claim_slot(pid);
    if (!me) {
        munmap(map, sizeof(struct ss_ctl_file));
        file = NULL;
        refuse("has no free process slot");
        return 0;
    }
    ss_stats_home = &me->stats;
    ss_cfg.count = 1;
    /* Every call must take the pipeline: it polls the file and counts. */
    ss_activate(SS_ACTIVE_CONTROL);
    /* Generation 0 is "never set": the rules of the environment stay until
     * the first `ctl set` or `ctl clear`. */
    __atomic_store_n(&ss_control_applied, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ss_control_gen, &file->gen, __ATOMIC_RELEASE);
    return 1;
}

void ss_control_exit(void)
{
    if (me)
        __atomic_store_n(&me->state, SS_CTL_GONE, __ATOMIC_RELEASE);
}

/* ---- rule counters -------------------------------------------------------------- */

struct ss_rule_state *ss_control_bank(unsigned bank)
{
    if (!me || bank >= SS_CTL_BANKS)
        return NULL;
    struct ss_ctl_bank *b = &me->banks[bank];
    __atomic_store_n(&b->gen, 0, __ATOMIC_RELAXED);
    memset(b->st, 0, sizeof b->st);
    return b->st;
}

void ss_control_rules_counted(unsigned bank, uint64_t gen, const struct ss_fault_plan *p)
{
    if (!me)
        return;
    if (p && bank < SS_CTL_BANKS) {
        struct ss_ctl_bank *b = &me->banks[bank];
        b->n = p->n;
        /* A group's counter is its first rule's (ss_faults_plan). */
        unsigned char first[SS_MAX_RULES];
        uint64_t seen = 0;
        for (unsigned i = 0; i < p->n; i++) {
            unsigned g = p->group_of[i];
            if (!(seen & (1ull << g)))
                first[g] = (unsigned char)i;
            seen |= 1ull << g;
            b->matched_at[i] = first[g];
        }
        __atomic_store_n(&b->gen, gen, __ATOMIC_RELEASE);
        __atomic_store_n(&me->bank, bank, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&me->gen, p ? gen : 0, __ATOMIC_RELEASE);
}

/* ---- applying a change ------------------------------------------------------------ */

/* Copy the text of generation g out of the file and install it. Returns 0
 * when done with g (installed, or refused for good), -1 to try again on a
 * later call (torn read, replacement busy, no memory). */
static int apply(uint64_t g)
{
    uint32_t len = __atomic_load_n(&file->len, __ATOMIC_RELAXED);
    if (len >= SS_CTL_TEXT_MAX) {
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&file->gen, __ATOMIC_RELAXED) != g)
            return -1;
        log_control("holds a malformed rule set (text length out of range)", "; the rules in force stay");
        return 0;
    }
    /* A private copy: the parser must not read bytes that change under it.
     * Mapped for this rare path only (64 KiB are too many for a caller's
     * stack). */
    char *text = mmap(NULL, SS_CTL_TEXT_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (text == MAP_FAILED)
        return -1;
    memcpy(text, file->text, len);
    text[len] = '\0';
    /* The seqlock's second read: the copy is the text of generation g only
     * if g is still the generation after it. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    int rc = -1;
    if (__atomic_load_n(&file->gen, __ATOMIC_RELAXED) == g) {
        char err[SS_ERR_MAX];
        if (memchr(text, '\0', len)) {
            log_control("holds a malformed rule set (a NUL byte in the text)", "; the rules in force stay");
            rc = 0;
        } else {
            int r = ss_faults_replace_control(text, g, err, sizeof err);
            if (r == 0 || r == -EINVAL)
                rc = 0;
            if (r == -EINVAL)
                log_control("rules refused, the rules in force stay: ", err);
        }
    }
    munmap(text, SS_CTL_TEXT_MAX);
    return rc;
}

void ss_control_update(void)
{
    if (__atomic_exchange_n(&applying, 1, __ATOMIC_ACQUIRE))
        return; /* another thread, or the call this signal handler interrupted */
    int saved = errno;
    const uint64_t *genp = __atomic_load_n(&ss_control_gen, __ATOMIC_RELAXED);
    uint64_t g = genp ? __atomic_load_n(genp, __ATOMIC_ACQUIRE) : 0;
    if (genp && g != __atomic_load_n(&ss_control_applied, __ATOMIC_RELAXED) && !(g & 1) && apply(g) == 0)
        __atomic_store_n(&ss_control_applied, g, __ATOMIC_RELAXED);
    errno = saved;
    __atomic_store_n(&applying, 0, __ATOMIC_RELEASE);
}
