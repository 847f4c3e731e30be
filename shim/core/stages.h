/* stages.h - the pipeline's stages. Each takes the request, may rewrite it,
 * and returns 0 to go on or an errno value to fail the call with. */
#ifndef SENDSHIM_STAGES_H
#define SENDSHIM_STAGES_H

#include <sys/types.h>

#include "faults.h"
#include "fdtable.h"
#include "normalize.h"
#include "request.h"
#include "state.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* Prepare the stages' tables once the configuration is known (constructor).
 * Every stage takes the call's descriptor reference (ss_fd_ref), looked up
 * once per call by the descriptor step (path.h). */
void ss_stages_init(void);

/* Whether the normalizer may change what the kernel does with msg: control
 * data to check or translate, more iovecs than the kernel takes (msg_iovlen
 * read whole, so garbage in its upper bits counts), or an iovec array it
 * would report as NULL. Its other repairs - a name/namelen mismatch,
 * zero-length iovecs - give exactly the kernel's own result, so such a message
 * goes out as the program made it, as when nothing is configured
 * (interpose/sendmsg.c); SENDSHIM_STATS counts those repairs once the kernel
 * accepted the message (ss_stage_normalize_count), never reading memory the
 * kernel would refuse. msg_iovlen - 1 wraps for 0: an empty message is looked
 * at too. */
static inline int ss_needs_normalizer(const struct msghdr *m)
{
    return m->msg_controllen || m->msg_iovlen - 1 >= SS_IOV_MAX || !m->msg_iov;
}

/* How many of vec's first n messages, from the start, the normalizer leaves
 * alone (ss_needs_normalizer says no): n when none needs it. */
static inline unsigned ss_batch_plain(const struct mmsghdr *vec, unsigned n)
{
    unsigned k = 0;
    while (k < n && !ss_needs_normalizer(&vec[k].msg_hdr))
        k++;
    return k;
}
/* Whether the normalizer leaves all of vec's first n messages alone: the
 * same test, for the descriptor step, which every batch pays for. Where
 * msg_iovlen is a size_t just after msg_iov (glibc), the two are read as one
 * pair of 64-bit lanes (a GCC vector: SSE2 on x86-64, NEON on arm64), one
 * subtracted, and or-ed into an accumulator with msg_controllen beside it:
 * about 5 instructions a message, no branch. After the loop, every
 * msg_controllen was 0 when their or is; every msg_iovlen - 1 was below
 * SS_IOV_MAX (a power of two) when their or is; and every msg_iov was not
 * NULL when the or of msg_iov - 1 has no bit of the top byte (NULL - 1 has
 * them all; a user address is below 2^56, so a false "needs it" is an
 * address no program can pass, and the normalizer decides it alike). */
typedef uint64_t ss_u64x2 __attribute__((vector_size(16), aligned(8)));
#define SS_IOV_PAIR                                                                                          \
    (sizeof(((struct msghdr *)0)->msg_iovlen) == 8 &&                                                        \
     offsetof(struct msghdr, msg_iovlen) == offsetof(struct msghdr, msg_iov) + 8)
static inline int ss_batch_all_plain(const struct mmsghdr *vec, unsigned n)
{
    _Static_assert((SS_IOV_MAX & (SS_IOV_MAX - 1)) == 0, "SS_IOV_MAX is a power of two");
    if (!SS_IOV_PAIR) /* musl: msg_iovlen is an int beside padding */
        return ss_batch_plain(vec, n) == n;
    ss_u64x2 iov = {0, 0}, one = {1, 1};
    uint64_t control = 0;
#pragma GCC unroll 4
    for (unsigned k = 0; k < n; k++) {
        ss_u64x2 pair;
        __builtin_memcpy(&pair, &vec[k].msg_hdr.msg_iov, sizeof pair);
        iov |= pair - one;
        control |= vec[k].msg_hdr.msg_controllen;
    }
    return !control && !(iov[0] >> 56) && iov[1] < SS_IOV_MAX;
}

/* Bring msghdr and control messages into the shape Linux expects (SPEC 7):
 * sendmsg and sendmmsg only. A sendmsg the normalizer cannot change is
 * decided inline. */
int ss_stage_normalize_full(struct ss_request *rq, struct ss_fd_ref *fd);
static inline int ss_stage_normalize(struct ss_request *rq, struct ss_fd_ref *fd)
{
    if (rq->call == SS_CALL_SENDMSG && (!rq->msg || !ss_needs_normalizer(rq->msg)))
        return 0; /* a NULL msg: the kernel answers EFAULT */
    return ss_stage_normalize_full(rq, fd);
}

/* SENDSHIM_STATS, after a successful call: count the repairs the messages
 * that went out as they were would have had. */
void ss_stage_normalize_count(struct ss_request *rq, ssize_t ret);
/* The same for a sendmsg (msg) or the first ret messages of a sendmmsg
 * (vec) that went out as the program made them, the descriptor step having
 * forwarded the call (path.h). */
void ss_stage_normalize_count_as_sent(const struct msghdr *msg, const struct mmsghdr *vec, ssize_t ret);

/* After the call and every step after it (which all see the normalized
 * request): copy sendmmsg's msg_len values back into the program's array and
 * release what the stage mapped, if it made copies. */
void ss_stage_normalize_done_full(struct ss_request *rq, ssize_t ret);
static inline void ss_stage_normalize_done(struct ss_request *rq, ssize_t ret)
{
    if (rq->norm && (rq->norm->user_vec || rq->norm->map))
        ss_stage_normalize_done_full(rq, ret);
}

/* Give flags their portable meaning (SPEC 5, 6), and add `add`: the flag
 * bits the descriptor step found the call gets (SENDSHIM_NOSIGPIPE's or
 * SO_NOSIGPIPE's MSG_NOSIGNAL; path.h). A flags word of 0 on a send-family
 * call is 0 in every numbering, so all there is to do is add: inline.
 * Anything else (translation, MSG_EOF, MSG_CONFIRM, write/writev, whose
 * flags the SIGPIPE policy gives) is ss_stage_flags_full. */
int ss_stage_flags_full(struct ss_request *rq, struct ss_fd_ref *fd, int add);
static inline int ss_stage_flags(struct ss_request *rq, struct ss_fd_ref *fd, int add)
{
    if (rq->flags || rq->call == SS_CALL_WRITE || rq->call == SS_CALL_WRITEV)
        return ss_stage_flags_full(rq, fd, add);
    rq->flags = add;
    return 0;
}

/* Prepare the fault plan of the constructor's rules (ss_cfg.rules). */
void ss_stage_faults_init(void);

/* Apply the fault of a call that was counted in plan p (held in `slot`,
 * released here) and on which some rule may fire (counts): gather the facts
 * the plan's rules for the call read (f->call), pick the rule, apply it.
 * `chosen` is the rule the descriptor step chose already (ss_faults_choose,
 * for a call whose rules read no facts to decide), else -1.
 * Returns SS_FAULT_FORWARD to forward the (possibly rewritten: short=,
 * batch=) request, else the call's result (-1 with errno for error=, the
 * full length for drop). f->fired says whether a rule fired (SS_FAULT_FORWARD
 * and no rule fired: the call goes on as if none had been pending); when it
 * did, pass the result to ss_stage_faults_done. Leaves errno alone unless it
 * returns -1; f->saved_errno holds it as it was when the rule fired. */
ssize_t ss_stage_faults_fire(struct ss_request *rq, struct ss_fd_ref *fd, struct ss_fault *f,
                             const struct ss_fault_counts *counts, const struct ss_fault_plan *p,
                             struct ss_fault_slot *slot, int chosen);

/* The facts of SS_NEED_SOCK and SS_NEED_SENT, and sendmmsg's batch size
 * (vlen, read for sendmmsg only); c->call and c->fd are set, the rest zero. */
static inline void ss_fault_facts(enum ss_call call, int fdnum, unsigned vlen, struct ss_fd_ref *fd,
                                  unsigned needs, struct ss_fault_call *c)
{
    *c = (struct ss_fault_call){.call = call, .fd = fdnum};
    if (call == SS_CALL_SENDMMSG)
        c->vlen = vlen > SS_MMSG_VLEN_CAP ? SS_MMSG_VLEN_CAP : vlen;
    if (needs & SS_NEED_SOCK) {
        /* The kernel is asked once per descriptor (ss_fd_probe); both stay
         * 0 when fd is not a socket. */
        uint64_t st = ss_fd_ref_probe(fd, fdnum);
        if (ss_fd_is_socket(st)) {
            c->type = (int)((st >> SS_FD_TYPE_SHIFT) & SS_FD_TYPE_MASK);
            c->family = (int)((st >> SS_FD_FAMILY_SHIFT) & SS_FD_FAMILY_MASK);
        }
    }
    if ((needs & SS_NEED_SENT) && fd->e)
        c->sent = __atomic_load_n(&fd->e->bytes, __ATOMIC_RELAXED);
}

/* After the call a rule fired on, with its result (ret, and err when ret <
 * 0): the request as the program made it again, the fault's log line,
 * SIGPIPE, the wakeup after an EAGAIN it made. fd is the call's
 * descriptor reference. errno is left as it comes out (the caller sets it
 * from ret and err). */
void ss_stage_faults_done_full(struct ss_request *rq, struct ss_fd_ref *fd, struct ss_fault *f, ssize_t ret,
                               int err);
static inline void ss_stage_faults_done(struct ss_request *rq, struct ss_fd_ref *fd, struct ss_fault *f,
                                        ssize_t ret, int err)
{
    /* A fault with nothing after the call (error= with the log off, on a
     * descriptor that is not TCP) is done here. */
    if (f->user_vec || f->rewritten || f->log || f->sigpipe || f->wake)
        ss_stage_faults_done_full(rq, fd, f, ret, err);
}

/* The drop action on a datagram or raw socket of that type and family: the
 * full length as the kernel would report it, sending nothing, or -1 with the
 * error the kernel would give for the same call (fault_drop.c). */
ssize_t ss_fault_drop(struct ss_request *rq, int type, int family);

/* The bytes the first n messages of a sendmmsg batch sent (msg_len). */
static inline uint64_t ss_batch_sent(const struct mmsghdr *vec, unsigned n)
{
    uint64_t sent = 0;
#pragma GCC unroll 4 /* a few instructions a message, on every sendmmsg */
    for (unsigned i = 0; i < n; i++)
        sent += vec[i].msg_len;
    return sent;
}

/* The bytes a successful call sent: ret, or for sendmmsg the msg_len of the
 * ret messages sent. */
static inline uint64_t ss_sent_bytes(const struct ss_request *rq, ssize_t ret)
{
    return rq->call == SS_CALL_SENDMMSG ? ss_batch_sent(rq->vec, (unsigned)ret) : (uint64_t)ret;
}

/* What must happen after a successful call: MSG_EOF's shutdown, and the
 * descriptor's byte count while a rule with after= is in force
 * (count_bytes). The common case - no MSG_EOF, nothing to count - is a
 * test, inline. */
void ss_stage_after_success_full(struct ss_request *rq, struct ss_fd_ref *fd, ssize_t ret, int count_bytes);
static inline void ss_stage_after_success(struct ss_request *rq, struct ss_fd_ref *fd, ssize_t ret,
                                          int count_bytes)
{
    if (rq->eof || count_bytes)
        ss_stage_after_success_full(rq, fd, ret, count_bytes);
}

#pragma GCC visibility pop

#endif
