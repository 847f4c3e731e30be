/* stage_normalize.c - the normalize stage: runs the pure normalizer
 * (normalize.c) on sendmsg and sendmmsg messages, finds it memory in the rare
 * cases its bounded scratch is not enough, and logs its diagnostics. */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fdtable.h"
#include "log.h"
#include "normalize.h"
#include "readable.h"
#include "stages.h"
#include "state.h"
#include "stats.h"

static void current_creds(void *arg, struct ss_creds *out)
{
    (void)arg;
    out->pid = getpid();
    out->uid = getuid();
    out->gid = getgid();
}

static enum ss_sock_kind sock_kind(struct ss_fd_ref *fd, int fdnum)
{
    uint64_t st = ss_fd_ref_probe(fd, fdnum);
    if (!ss_fd_is_socket(st))
        return SS_SOCK_UNKNOWN;
    return ss_fd_type(st) == SOCK_STREAM ? SS_SOCK_STREAM : SS_SOCK_DGRAM;
}

static void log_diag(const struct ss_request *rq, const char *diag)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, ss_call_name(rq->call));
    ss_buf_str(&b, "(fd=");
    ss_buf_i64(&b, rq->fd);
    ss_buf_str(&b, "): ");
    ss_buf_str(&b, diag);
    ss_log_end(&b);
}

/* Anonymous memory for the rare large cases; MAP_FAILED -> NULL. */
static void *map_bytes(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void count_normalized(unsigned applied)
{
    if (applied)
        __atomic_fetch_add(&ss_stats_home->normalized, 1, __ATOMIC_RELAXED);
}

/* One message: the scratch first, a mapping when it asks for more. */
static enum ss_norm_status normalize_one(struct ss_request *rq, const struct msghdr *msg,
                                         struct ss_norm_ctx *ctx, struct ss_norm_scratch *scratch,
                                         struct ss_norm_result *res)
{
    enum ss_norm_status st = ss_normalize(msg, ctx, scratch, NULL, 0, res);
    /* The program may change the message between two passes (another
     * thread), so the size asked for can grow: a few tries, then ENOBUFS. */
    for (int tries = 0; st == SS_NORM_NEED_BUF && tries < 3; tries++) {
        if (rq->norm->map)
            munmap(rq->norm->map, rq->norm->map_len);
        rq->norm->map_len = res->need;
        rq->norm->map = map_bytes(rq->norm->map_len);
        if (!rq->norm->map) {
            res->err = ENOBUFS;
            return SS_NORM_ERROR;
        }
        st = ss_normalize(msg, ctx, scratch, rq->norm->map, rq->norm->map_len, res);
    }
    if (st == SS_NORM_NEED_BUF) {
        res->err = ENOBUFS;
        st = SS_NORM_ERROR;
    }
    return st;
}

static int normalize_msg(struct ss_request *rq, struct ss_norm_ctx *ctx)
{
    struct ss_norm_result res;
    if (!rq->msg)
        return 0; /* the kernel answers EFAULT */
    switch (normalize_one(rq, rq->msg, ctx, &rq->norm->scratch, &res)) {
    case SS_NORM_UNCHANGED:
        return 0;
    case SS_NORM_REWRITTEN:
        /* From here on every step (flags, faults, forward, stats, trace)
         * sees the normalized header: the program's may hold what the
         * normalizer masked off. */
        count_normalized(res.applied);
        rq->norm->cut = (res.applied & SS_NORM_F_IOV_CAP) != 0;
        rq->msg = res.msg;
        return 0;
    default:
        if (ctx->diag[0])
            log_diag(rq, ctx->diag);
        return res.err;
    }
}

/* A batch in which message k needs a rewritten copy: build a copy of the
 * array (and a scratch per message from k on) in one mapping, so the batch
 * still goes out as one sendmmsg. A message that fails ends the batch there
 * (SPEC 7); one that needs more memory than its scratch ends it too, unless it
 * is the first, and the caller's retry of the rest starts with it. */
static int copy_batch(struct ss_request *rq, struct ss_norm_ctx *ctx, unsigned k)
{
    unsigned n = rq->vlen > SS_MMSG_VLEN_MAX ? SS_MMSG_VLEN_MAX : rq->vlen;
    size_t len = n * sizeof(struct mmsghdr) + (n - k) * sizeof(struct ss_norm_scratch);
    char *base = map_bytes(len);
    if (!base)
        return ENOBUFS;
    struct mmsghdr *copy = (struct mmsghdr *)(void *)base;
    struct ss_norm_scratch *scratch = (struct ss_norm_scratch *)(void *)(base + n * sizeof(struct mmsghdr));
    unsigned sent = 0;
    for (unsigned i = 0; i < n; i++, sent++) {
        copy[i].msg_len = 0;
        if (i < k) {
            copy[i].msg_hdr = rq->vec[i].msg_hdr;
            continue;
        }
        struct ss_norm_result res;
        ctx->index = i;
        enum ss_norm_status st = ss_normalize(&rq->vec[i].msg_hdr, ctx, &scratch[i - k], NULL, 0, &res);
        if (st == SS_NORM_NEED_BUF && i == 0) /* the first: a mapping of its own (rq->norm->map) */
            st = normalize_one(rq, &rq->vec[0].msg_hdr, ctx, &scratch[0], &res);
        if (st == SS_NORM_NEED_BUF || st == SS_NORM_ERROR) {
            if (st == SS_NORM_ERROR && ctx->diag[0])
                log_diag(rq, ctx->diag);
            if (i == 0 && st == SS_NORM_ERROR) {
                munmap(base, len);
                return res.err;
            }
            break;
        }
        count_normalized(res.applied);
        rq->norm->cut |= (res.applied & SS_NORM_F_IOV_CAP) != 0;
        copy[i].msg_hdr = *res.msg;
    }
    /* The copy replaces the program's array until the call is done (the
     * mapping of message 0's large case, if any, lives in rq->norm->map). */
    rq->norm->user_vec = rq->vec;
    rq->norm->user_vlen = rq->vlen;
    rq->norm->cut |= sent < rq->vlen;
    rq->vec = copy;
    rq->vlen = sent;
    rq->norm->batch_map = base;
    rq->norm->batch_map_len = len;
    return 0;
}

static void init_ctx(struct ss_norm_ctx *ctx, struct ss_request *rq, struct ss_fd_ref *fd, char *diag,
                     size_t cap)
{
    diag[0] = '\0';
    *ctx = (struct ss_norm_ctx){
        .kind = sock_kind(fd, rq->fd),
        .style = ss_cfg.style,
        .get_creds = current_creds,
        .readable = ss_readable_iov,
        .diag = diag,
        .diag_cap = cap,
    };
}

/* sendmmsg: messages before the first that needs the normalizer go out
 * untouched and cost a few loads each (SPEC 7's cases per message: see
 * normalize.h's ss_normalize_batch, whose protocol this follows). */
static int normalize_batch(struct ss_request *rq, struct ss_fd_ref *fd)
{
    unsigned n = rq->vlen > SS_MMSG_VLEN_MAX ? SS_MMSG_VLEN_MAX : rq->vlen, k = 0;
    if (!rq->vec)
        return 0; /* the kernel answers EFAULT, or 0 */
    k = ss_batch_plain(rq->vec, n);
    if (k == n)
        return 0;

    char diag[SS_NORM_DIAG_MAX];
    struct ss_norm_ctx ctx;
    struct ss_norm_result res;
    enum ss_norm_status st = SS_NORM_UNCHANGED;
    init_ctx(&ctx, rq, fd, diag, sizeof diag);
    for (; k < n; k++) {
        if (!ss_needs_normalizer(&rq->vec[k].msg_hdr))
            continue;
        ctx.index = k;
        st = ss_normalize(&rq->vec[k].msg_hdr, &ctx, &rq->norm->scratch, NULL, 0, &res);
        if (st != SS_NORM_UNCHANGED)
            break;
    }
    switch (st) {
    case SS_NORM_UNCHANGED:
        return 0;
    case SS_NORM_ERROR:
        if (ctx.diag[0])
            log_diag(rq, ctx.diag);
        if (k == 0)
            return res.err;
        rq->vlen = k; /* the messages before the bad one go out */
        rq->norm->cut = 1;
        return 0;
    default:
        return copy_batch(rq, &ctx, k);
    }
}

int ss_stage_normalize_full(struct ss_request *rq, struct ss_fd_ref *fd)
{
    if (rq->call == SS_CALL_SENDMMSG)
        return normalize_batch(rq, fd);
    if (rq->call != SS_CALL_SENDMSG || !rq->msg || !ss_needs_normalizer(rq->msg))
        return 0; /* a NULL msg: the kernel answers EFAULT */
    char diag[SS_NORM_DIAG_MAX];
    struct ss_norm_ctx ctx;
    init_ctx(&ctx, rq, fd, diag, sizeof diag);
    return normalize_msg(rq, &ctx);
}

/* SENDSHIM_STATS: a message the library sent as it was may still have had
 * a repair the kernel makes itself (zero-length iovecs, a name/namelen
 * mismatch). Counted once the kernel accepted it: it read the iovecs, so
 * they can be read. A rewritten message was counted when it was rewritten. */
/* A rewritten header differs from the program's in some field. */
static int same_header(const struct msghdr *a, const struct msghdr *b)
{
    return a->msg_name == b->msg_name && a->msg_namelen == b->msg_namelen && a->msg_iov == b->msg_iov &&
           a->msg_iovlen == b->msg_iovlen && a->msg_control == b->msg_control &&
           a->msg_controllen == b->msg_controllen;
}

void ss_stage_normalize_count_as_sent(const struct msghdr *msg, const struct mmsghdr *vec, ssize_t ret)
{
    if (ret < 0)
        return;
    if (msg)
        count_normalized(ss_norm_kernel_repairs(msg));
    for (ssize_t i = 0; vec && i < ret; i++)
        count_normalized(ss_norm_kernel_repairs(&vec[i].msg_hdr));
}

void ss_stage_normalize_count(struct ss_request *rq, ssize_t ret)
{
    if (ret < 0 || !rq->norm)
        return;
    if (rq->call == SS_CALL_SENDMSG && rq->msg && rq->msg != &rq->norm->scratch.msg)
        count_normalized(ss_norm_kernel_repairs(rq->msg));
    for (ssize_t i = 0; rq->call == SS_CALL_SENDMMSG && i < ret; i++) {
        const struct msghdr *m = &rq->vec[i].msg_hdr;
        if (!rq->norm->user_vec || same_header(m, &rq->norm->user_vec[i].msg_hdr))
            count_normalized(ss_norm_kernel_repairs(m));
    }
}

void ss_stage_normalize_done_full(struct ss_request *rq, ssize_t ret)
{
    if (rq->norm->user_vec) {
        for (ssize_t i = 0; i < ret && (size_t)i < rq->vlen; i++)
            rq->norm->user_vec[i].msg_len = rq->vec[i].msg_len;
        rq->vec = rq->norm->user_vec;
        rq->vlen = rq->norm->user_vlen;
        rq->norm->user_vec = NULL;
        munmap(rq->norm->batch_map, rq->norm->batch_map_len);
    }
    if (rq->norm->map) {
        munmap(rq->norm->map, rq->norm->map_len);
        rq->norm->map = NULL;
    }
}
