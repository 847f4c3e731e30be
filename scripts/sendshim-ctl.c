/* sendshim-ctl.c - `sendshim ctl PATH COMMAND` (SPEC 14): the helper the
 * launcher runs for live control. It makes the control file, publishes rule
 * sets into it and reads the counters attached processes keep there
 * (layout and protocol: shim/core/control_layout.h). Rules are validated with the
 * library's own parser (linked from libsendshim_core.a), so a set this
 * accepts is a set every attached process accepts.
 *
 * Exit status: 0; 1 when `wait` times out; 2 for a usage error, a bad rule or
 * a file that is not the caller's control file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control_layout.h"
#include "rules.h"

#define ME              "sendshim: ctl"
#define WAIT_POLL_NS    (5 * 1000 * 1000ull) /* `wait` looks at the counters every 5 ms */
#define NS_PER_S        1000000000ull
#define DURATION_ACCEPT "a number with a unit: ns, us, ms, s, e.g. 500ms or 2.5s"

static const char *path;

static void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(ME ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

static void usage(const char *what)
{
    die(2,
        "%s (usage: sendshim ctl PATH init|set RULE...|clear|show|stats [--json]|wait [--rule K] --fired N "
        "[--timeout DUR])",
        what);
}

/* ---- the file ---------------------------------------------------------------- */

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void cmd_init(void)
{
    /* O_EXCL: never take over an existing file (or a link planted there). */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        die(2, "cannot create '%s': %s", path, strerror(errno));
    struct ss_ctl_file *f = MAP_FAILED;
    if (fchmod(fd, 0600) || ftruncate(fd, (off_t)sizeof *f) ||
        (f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        int e = errno;
        unlink(path);
        die(2, "cannot make '%s' a control file: %s", path, strerror(e));
    }
    close(fd);
    f->layout = SS_CTL_LAYOUT;
    f->procs = SS_CTL_PROCS;
    f->max_rules = SS_MAX_RULES;
    f->ncalls = SS_NCALLS_SEEN;
    f->size = sizeof *f;
    /* The magic last: a half-made file is no control file. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(f->magic, SS_CTL_MAGIC, SS_CTL_MAGIC_LEN);
    munmap(f, sizeof *f);
}

/* Map the caller's control file: a regular file it owns, of this layout. */
static struct ss_ctl_file *open_file(int writable, int *fd_out)
{
    int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        die(2, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st))
        die(2, "cannot examine '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        die(2, "'%s' is not a regular file", path);
    if (st.st_uid != getuid())
        die(2, "'%s' is not owned by you (uid %u); ctl acts only on your own control files", path,
            (unsigned)st.st_uid);
    if ((uint64_t)st.st_size != sizeof(struct ss_ctl_file))
        die(2, "'%s' is not a control file (make one with 'sendshim ctl PATH init')", path);
    struct ss_ctl_file *f = mmap(NULL, sizeof *f, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (f == MAP_FAILED)
        die(2, "cannot map '%s': %s", path, strerror(errno));
    if (!ss_ctl_header_ok(f))
        die(2, "'%s' is not a control file of this version (make one with 'sendshim ctl PATH init')", path);
    if (fd_out)
        *fd_out = fd;
    else
        close(fd);
    return f;
}

/* The rule text of the file's current generation, copied out consistently
 * (seqlock read); *gen gets the generation. */
static void read_rules(const struct ss_ctl_file *f, char *text, uint64_t *gen)
{
    for (;;) {
        uint64_t g = __atomic_load_n(&f->gen, __ATOMIC_ACQUIRE);
        if (g & 1) {
            sched_yield();
            continue;
        }
        uint32_t len = __atomic_load_n(&f->len, __ATOMIC_RELAXED);
        if (len >= SS_CTL_TEXT_MAX)
            len = 0;
        memcpy(text, f->text, len);
        text[len] = '\0';
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&f->gen, __ATOMIC_RELAXED) == g) {
            *gen = g;
            return;
        }
    }
}

/* ---- set, clear --------------------------------------------------------------------- */

static void publish(const char *text)
{
    int fd;
    struct ss_ctl_file *f = open_file(1, &fd);
    size_t len = strlen(text);
    if (len >= SS_CTL_TEXT_MAX)
        die(2, "the rules are %zu bytes; at most %u are accepted", len, SS_CTL_TEXT_MAX - 1);
    if (flock(fd, LOCK_EX))
        die(2, "cannot lock '%s': %s", path, strerror(errno));
    uint64_t g = load(&f->gen);
    g += g & 1; /* a writer that died half-way left it odd */
    __atomic_store_n(&f->gen, g + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(f->text, text, len);
    __atomic_store_n(&f->len, (uint32_t)len, __ATOMIC_RELAXED);
    __atomic_store_n(&f->gen, g + 2, __ATOMIC_RELEASE);
    flock(fd, LOCK_UN);
    close(fd);
}

static void cmd_set(int argc, char **argv)
{
    if (argc < 1)
        usage("set needs at least one RULE");
    size_t total = 0;
    for (int i = 0; i < argc; i++)
        total += strlen(argv[i]) + 1;
    char *text = calloc(1, total + 1);
    if (!text)
        die(2, "out of memory");
    for (int i = 0; i < argc; i++) {
        strcat(text, argv[i]);
        if (i + 1 < argc)
            strcat(text, "\n");
    }
    /* The parser every attached process will use, with the same options
     * (control.c: '#' comments allowed). */
    static struct ss_ruleset set;
    char err[512];
    if (ss_rules_parse(&set, text, 1, err, sizeof err))
        die(2, "set %s", err);
    publish(text);
    free(text);
}

/* ---- reading the counters ---------------------------------------------------------- */

/* Alive: its slot says so and the pid is still a process that is not a zombie
 * (a process killed before its destructor ran never marked itself gone). */
static int proc_alive(const struct ss_ctl_proc *p)
{
    int32_t pid = __atomic_load_n(&p->pid, __ATOMIC_RELAXED);
    if (__atomic_load_n(&p->state, __ATOMIC_ACQUIRE) != SS_CTL_ALIVE || pid <= 0)
        return 0;
    if (kill(pid, 0) && errno == ESRCH)
        return 0;
    char name[64], buf[512];
    snprintf(name, sizeof name, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(name, "re");
    if (!fp)
        return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *close_paren = strrchr(buf, ')'); /* the command may contain anything */
    return !(close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z');
}

/* The bank holding the counters of the rules of generation gen in p, or NULL
 * when p does not run them (not yet, or its own rules). */
static const struct ss_ctl_bank *current_bank(const struct ss_ctl_proc *p, uint64_t gen)
{
    if (!gen || load(&p->gen) != gen)
        return NULL;
    uint32_t b = __atomic_load_n(&p->bank, __ATOMIC_RELAXED);
    if (b < SS_CTL_BANKS && load(&p->banks[b].gen) == gen)
        return &p->banks[b];
    for (b = 0; b < SS_CTL_BANKS; b++)
        if (load(&p->banks[b].gen) == gen)
            return &p->banks[b];
    return NULL;
}

struct rule_count {
    uint64_t matched, fired;
};

/* Rule i's counters in bank bk (a set of n rules). */
static struct rule_count rule_counts(const struct ss_ctl_bank *bk, unsigned i)
{
    struct rule_count c = {0, 0};
    if (!bk || i >= SS_MAX_RULES || i >= __atomic_load_n(&bk->n, __ATOMIC_RELAXED))
        return c;
    unsigned at = bk->matched_at[i] < SS_MAX_RULES ? bk->matched_at[i] : i;
    c.matched = load(&bk->st[at].count);
    c.fired = load(&bk->st[i].fired);
    return c;
}

struct snapshot {
    uint64_t gen;
    char *text;
    struct ss_ruleset rules;
    int rules_ok;
};

static void snap_rules(const struct ss_ctl_file *f, struct snapshot *s)
{
    static char text[SS_CTL_TEXT_MAX];
    char err[512];
    read_rules(f, text, &s->gen);
    s->text = text;
    s->rules.n = 0;
    s->rules_ok = ss_rules_parse(&s->rules, text, 1, err, sizeof err) == 0;
    if (!s->rules_ok)
        s->rules.n = 0;
}

static uint64_t proc_calls(const struct ss_ctl_proc *p)
{
    uint64_t calls = 0;
    for (unsigned c = 0; c < SS_NCALLS_SEEN; c++)
        calls += load(&p->stats.call[c].calls);
    return calls;
}

static int slot_used(const struct ss_ctl_proc *p)
{
    uint32_t state = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&p->pid, __ATOMIC_RELAXED) > 0 && (state == SS_CTL_ALIVE || state == SS_CTL_GONE);
}

static void comm_of(const struct ss_ctl_proc *p, char out[SS_CTL_COMM + 1])
{
    memcpy(out, p->comm, SS_CTL_COMM);
    out[SS_CTL_COMM] = '\0';
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
}

/* ---- show ------------------------------------------------------------------------ */

static void cmd_show(void)
{
    struct ss_ctl_file *f = open_file(0, NULL);
    struct snapshot s;
    snap_rules(f, &s);
    if (!s.gen)
        printf("rules: none set (the processes keep the rules of their environment)\n");
    else if (!s.rules_ok)
        printf("rules: malformed (refused by every process)\n");
    else if (!s.rules.n)
        printf("rules: none\n");
    else
        printf("rules:\n");
    for (unsigned i = 0; s.rules_ok && i < s.rules.n; i++)
        printf("  %u %s\n", i + 1, s.rules.rule[i].text);
    printf("processes:\n");
    for (unsigned i = 0; i < SS_CTL_PROCS; i++) {
        const struct ss_ctl_proc *p = &f->proc[i];
        if (!slot_used(p))
            continue;
        char comm[SS_CTL_COMM + 1];
        comm_of(p, comm);
        uint64_t pg = load(&p->gen);
        printf("  %d %s %s%s\n", (int)p->pid, comm, proc_alive(p) ? "alive" : "gone",
               !s.gen || pg == s.gen ? "" : " (not running these rules: no call since they were set)");
    }
}

/* ---- stats ----------------------------------------------------------------------- */

struct totals {
    struct ss_stats stats;
    struct rule_count rule[SS_MAX_RULES];
    unsigned procs;
};

static void add_proc(struct totals *t, const struct ss_ctl_proc *p, const struct snapshot *s)
{
    for (unsigned c = 0; c < SS_NCALLS_SEEN; c++) {
        t->stats.call[c].calls += load(&p->stats.call[c].calls);
        t->stats.call[c].failed += load(&p->stats.call[c].failed);
        t->stats.call[c].bytes += load(&p->stats.call[c].bytes);
    }
    t->stats.flags_rewritten += load(&p->stats.flags_rewritten);
    t->stats.normalized += load(&p->stats.normalized);
    t->stats.faults += load(&p->stats.faults);
    const struct ss_ctl_bank *bk = current_bank(p, s->gen);
    for (unsigned i = 0; i < s->rules.n; i++) {
        struct rule_count rc = rule_counts(bk, i);
        t->rule[i].matched += rc.matched;
        t->rule[i].fired += rc.fired;
    }
    t->procs++;
}

static void text_block(const char *indent, const char *prefix, const struct totals *t,
                       const struct snapshot *s, int other)
{
    for (unsigned c = 0; c < SS_NCALLS_SEEN; c++)
        printf("%s%s%s calls=%" PRIu64 " failed=%" PRIu64 " bytes=%" PRIu64 "\n", indent, prefix,
               ss_call_name((enum ss_call)c), t->stats.call[c].calls, t->stats.call[c].failed,
               t->stats.call[c].bytes);
    if (other)
        printf("%s%sflags_rewritten=%" PRIu64 " normalized=%" PRIu64 " faults=%" PRIu64 "\n", indent, prefix,
               t->stats.flags_rewritten, t->stats.normalized, t->stats.faults);
    for (unsigned i = 0; i < s->rules.n; i++)
        printf("%s%srule %u (%s) matched=%" PRIu64 " fired=%" PRIu64 "\n", indent, prefix, i + 1,
               s->rules.rule[i].text, t->rule[i].matched, t->rule[i].fired);
}

static void json_str(const char *str)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)str; *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20 || *c >= 0x7f)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    }
    putchar('"');
}

static void json_block(const struct totals *t, const struct snapshot *s)
{
    printf("\"calls\": {");
    for (unsigned c = 0; c < SS_NCALLS_SEEN; c++)
        printf("%s\"%s\": {\"calls\": %" PRIu64 ", \"failed\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
               c ? ", " : "", ss_call_name((enum ss_call)c), t->stats.call[c].calls, t->stats.call[c].failed,
               t->stats.call[c].bytes);
    printf("}, \"faults\": %" PRIu64 ", \"rules\": [", t->stats.faults);
    for (unsigned i = 0; i < s->rules.n; i++) {
        printf("%s{\"rule\": %u, \"text\": ", i ? ", " : "", i + 1);
        json_str(s->rules.rule[i].text);
        printf(", \"matched\": %" PRIu64 ", \"fired\": %" PRIu64 "}", t->rule[i].matched, t->rule[i].fired);
    }
    printf("]");
}

/* `stats`, or with `report` the launcher's --stats lines: the totals of
 * every process that attached, in the library's own "stats:" form. */
static void cmd_stats(int json, int report)
{
    struct ss_ctl_file *f = open_file(0, NULL);
    static struct snapshot s;
    static struct totals all, one;
    unsigned listed = 0;
    snap_rules(f, &s);
    if (json)
        printf("{\"generation\": %" PRIu64 ", \"processes\": [", s.gen);
    for (unsigned i = 0; i < SS_CTL_PROCS; i++) {
        const struct ss_ctl_proc *p = &f->proc[i];
        if (!slot_used(p))
            continue;
        memset(&one, 0, sizeof one);
        add_proc(&one, p, &s);
        add_proc(&all, p, &s);
        int alive = proc_alive(p), current = !s.gen || load(&p->gen) == s.gen;
        /* A process that ended without a call (a shell that ran the
         * program, say) is counted but not listed. */
        if (report || (!alive && !proc_calls(p)))
            continue;
        char comm[SS_CTL_COMM + 1];
        comm_of(p, comm);
        listed++;
        if (json) {
            printf("%s{\"pid\": %d, \"command\": ", listed > 1 ? ", " : "", (int)p->pid);
            json_str(comm);
            printf(", \"alive\": %s, \"current_rules\": %s, ", alive ? "true" : "false",
                   current ? "true" : "false");
            json_block(&one, &s);
            printf("}");
        } else {
            printf("process %d %s %s%s\n", (int)p->pid, comm, alive ? "alive" : "gone",
                   current ? "" : " (not running these rules: no call since they were set)");
            text_block("  ", "", &one, &s, 0);
        }
    }
    if (report) {
        printf("sendshim: stats: processes=%u\n", all.procs);
        text_block("", "sendshim: stats: ", &all, &s, 1);
    } else if (json) {
        printf("], \"total\": {\"processes\": %u, ", all.procs);
        json_block(&all, &s);
        printf("}}\n");
    } else {
        printf("total of %u process%s", all.procs, all.procs == 1 ? "" : "es");
        if (all.procs > listed)
            printf(" (%u that ended without a call not listed)", all.procs - listed);
        printf("\n");
        text_block("  ", "", &all, &s, 0);
    }
}

/* ---- wait ----------------------------------------------------------------------- */

/* DUR: digits [. digits] unit (ns, us, ms, s), as in the rules. */
static int parse_duration(const char *v, uint64_t *ns)
{
    static const struct {
        const char *unit;
        uint64_t ns;
    } units[] = {{"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", NS_PER_S}};
    uint64_t whole = 0, frac = 0, scale = 1;
    const char *p = v;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > UINT64_MAX / 10 - 9)
            return -1;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (scale < NS_PER_S) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].unit))
            continue;
        if (whole > UINT64_MAX / units[i].ns)
            return -1;
        *ns = whole * units[i].ns + frac * units[i].ns / scale;
        return 0;
    }
    return -1;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * NS_PER_S + (uint64_t)t.tv_nsec;
}

/* Times rule k (0-based; -1: any rule) of generation gen fired, summed over
 * every process that runs that generation's rules, gone ones included. */
static uint64_t fired_total(const struct ss_ctl_file *f, uint64_t gen, int k, unsigned n)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < SS_CTL_PROCS; i++) {
        const struct ss_ctl_proc *p = &f->proc[i];
        if (!slot_used(p))
            continue;
        const struct ss_ctl_bank *bk = current_bank(p, gen);
        for (unsigned r = 0; r < n; r++)
            if (k < 0 || (unsigned)k == r)
                sum += rule_counts(bk, r).fired;
    }
    return sum;
}

static int cmd_wait(int argc, char **argv)
{
    uint64_t fired = 0, rule = 0, timeout = 0;
    int have_fired = 0, have_rule = 0, have_timeout = 0;
    for (int i = 0; i < argc; i++) {
        const char *opt = argv[i];
        if (i + 1 >= argc)
            usage("wait: an option needs a value");
        const char *v = argv[++i];
        if (!strcmp(opt, "--fired")) {
            if (ss_parse_u64(v, &fired))
                die(2, "wait --fired: '%s' is not a count (accepted: a decimal number)", v);
            have_fired = 1;
        } else if (!strcmp(opt, "--rule")) {
            if (ss_parse_u64(v, &rule) || rule < 1 || rule > SS_MAX_RULES)
                die(2, "wait --rule: '%s' is not a rule number (accepted: 1 to %u)", v, SS_MAX_RULES);
            have_rule = 1;
        } else if (!strcmp(opt, "--timeout")) {
            if (parse_duration(v, &timeout))
                die(2, "wait --timeout: '%s' is not a duration (accepted: %s)", v, DURATION_ACCEPT);
            have_timeout = 1;
        } else {
            die(2, "wait: unknown option '%s' (accepted: --rule K, --fired N, --timeout DUR)", opt);
        }
    }
    if (!have_fired)
        usage("wait needs --fired N");
    struct ss_ctl_file *f = open_file(0, NULL);
    static struct snapshot s;
    snap_rules(f, &s);
    if (!s.gen || !s.rules_ok || !s.rules.n)
        die(2, "wait: no rules are set in '%s' (set some with 'sendshim ctl PATH set RULE...')", path);
    if (have_rule && rule > s.rules.n)
        die(2, "wait --rule: '%" PRIu64 "' names no rule in force (accepted: 1 to %u)", rule, s.rules.n);
    uint64_t deadline = now_ns() + timeout;
    for (;;) {
        /* A new set starts the counts afresh: follow it. */
        uint64_t gen = __atomic_load_n(&f->gen, __ATOMIC_ACQUIRE);
        if (gen != s.gen)
            snap_rules(f, &s);
        if (fired_total(f, s.gen, have_rule ? (int)rule - 1 : -1, s.rules.n) >= fired)
            return 0;
        if (have_timeout && now_ns() >= deadline)
            return 1;
        struct timespec pause = {0, (long)WAIT_POLL_NS};
        nanosleep(&pause, NULL);
    }
}

/* ---- run: the launcher's --stats ------------------------------------------------ */

static volatile sig_atomic_t child_pid;

/* A signal sent to the launcher with kill (SI_USER, SI_QUEUE) is passed on
 * to PROGRAM; one the terminal sent (SI_KERNEL) reached PROGRAM already, as
 * it is in the same foreground process group. */
static void forward(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (child_pid > 0 && si->si_code != SI_KERNEL)
        kill(child_pid, sig);
}

/* The totals in the library's "stats:" lines, each "sendshim: " first, to
 * the log: stderr, none, or appended to a file. */
static void report_to(const char *log)
{
    if (!strcmp(log, "none"))
        return;
    int fd = 2;
    if (strcmp(log, "stderr")) {
        fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            fprintf(stderr, ME ": cannot open the log '%s': %s\n", log, strerror(errno));
            return;
        }
    }
    fflush(stdout);
    int saved = dup(1);
    if (saved < 0 || dup2(fd, 1) < 0)
        return;
    cmd_stats(0, 1);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    if (fd != 2)
        close(fd);
}

/* run [--log DEST] [--argv0 NAME] [--remove DIR] -- PROGRAM ARG...: run
 * PROGRAM as a child, wait for its end however it ends, report the totals,
 * remove a temporary control file and its directory, and exit with
 * PROGRAM's status (128 + the signal that killed it). */
static int cmd_run(int argc, char **argv)
{
    const char *log = "stderr", *argv0 = NULL, *remove_dir = NULL;
    int i = 0;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--remove") && i + 1 < argc)
            remove_dir = argv[++i];
        else if (!strcmp(argv[i], "--log") && i + 1 < argc)
            log = argv[++i];
        else if (!strcmp(argv[i], "--argv0") && i + 1 < argc)
            argv0 = argv[++i];
        else
            usage("run: unknown option");
    }
    if (i + 1 >= argc)
        usage("run needs -- PROGRAM");
    char **prog = argv + i + 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    pid_t pid = fork();
    if (pid < 0)
        die(2, "cannot fork: %s", strerror(errno));
    if (pid == 0) {
        const char *file = prog[0];
        if (argv0)
            prog[0] = (char *)argv0;
        execv(file, prog);
        fprintf(stderr, ME ": cannot run '%s': %s\n", file, strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    child_pid = pid;
    for (size_t k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++)
        sigaction(forwarded[k], &sa, NULL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    child_pid = 0;
    report_to(log);
    if (remove_dir) { /* a temporary control file, in a directory of its own */
        unlink(path);
        rmdir(remove_dir);
    }
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage("missing PATH or COMMAND");
    path = argv[1];
    const char *cmd = argv[2];
    int rest = argc - 3;
    char **args = argv + 3;
    if (!strcmp(cmd, "init") && !rest) {
        cmd_init();
    } else if (!strcmp(cmd, "set")) {
        cmd_set(rest, args);
    } else if (!strcmp(cmd, "clear") && !rest) {
        publish("");
    } else if (!strcmp(cmd, "show") && !rest) {
        cmd_show();
    } else if (!strcmp(cmd, "stats") && (!rest || (rest == 1 && !strcmp(args[0], "--json")))) {
        cmd_stats(rest == 1, 0);
    } else if (!strcmp(cmd, "run")) {
        return cmd_run(rest, args); /* the launcher's --stats */
    } else if (!strcmp(cmd, "wait")) {
        return cmd_wait(rest, args);
    } else {
        char what[256];
        snprintf(what, sizeof what, "'%s' is not a command, or has the wrong arguments", cmd);
        usage(what);
    }
    if (fflush(stdout) || ferror(stdout))
        die(2, "cannot write the output");
    return 0;
}
