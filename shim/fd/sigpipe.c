/* sigpipe.c - SIGPIPE policy for write, writev, sendfile and splice. */
#include "sigpipe.h"

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "control.h"
#include "faults.h"
#include "fdtable.h"
#include "real.h"
#include "state.h"

#define SS_IOV_LIMIT 1024 /* kernel UIO_MAXIOV: writev fails with EINVAL above */

int ss_sigpipe_suppressed(int fd)
{
    if (ss_fd_state(fd) & SS_FD_NOSIGPIPE)
        return 1;
    return ss_cfg.nosigpipe && ss_fd_is_socket(ss_fd_probe(fd));
}

/* Whether the rules in force (from the environment or sendshim_set_faults)
 * name this call. */
static int rules_mention(enum ss_call call)
{
    return (ss_faults_calls() & SS_CALL_BIT(call)) != 0;
}

int ss_write_takes_pipeline(int fd, enum ss_call call)
{
    ss_control_poll(); /* a rule set from the control file may name write */
    /* SO_NOSIGPIPE is only ever recorded on sockets: no probe needed. */
    if (ss_fd_state(fd) & SS_FD_NOSIGPIPE)
        return 1;
    if (!ss_cfg.nosigpipe && !rules_mention(call))
        return 0;
    /* Once per descriptor: a pipe, file or terminal is then known for good. */
    return ss_fd_is_socket(ss_fd_probe(fd));
}

int ss_write_flags(int fd)
{
    uint64_t st = ss_fd_state(fd);
    if (!(st & SS_FD_NOSIGPIPE) && !ss_cfg.nosigpipe)
        return 0;
    st = ss_fd_probe(fd);
    if (!ss_fd_is_socket(st))
        return 0;
    /* sock_write_iter() adds MSG_EOR on SOCK_SEQPACKET: keep that. */
    return MSG_NOSIGNAL | (ss_fd_type(st) == SOCK_SEQPACKET ? MSG_EOR : 0);
}

/* Whether a write/writev sent as send/sendmsg with MSG_NOSIGNAL, which
 * failed with err, must be made again as the plain call: ENOTSOCK (the table
 * said socket, stale: a pipe or file is there now), or EPIPE when the
 * MSG_NOSIGNAL came from the descriptor's SO_NOSIGPIPE and the descriptor is
 * another socket now (re-identified: one getsockopt, on this path only).
 * EPIPE means nothing was sent, so the plain call gives exactly the kernel's
 * own result, SIGPIPE included. Under SENDSHIM_NOSIGPIPE=1 every socket gets
 * MSG_NOSIGNAL, so which socket it is does not matter. */
static int redo_plain(int fd, int err)
{
    if (err == ENOTSOCK) {
        ss_fd_not_socket(fd);
        return 1;
    }
    if (err != EPIPE || ss_cfg.nosigpipe)
        return 0;
    struct ss_fd_ref r;
    ss_fd_ref_init(&r, fd);
    return !ss_fd_confirm(fd, &r) && !(r.st & SS_FD_NOSIGPIPE);
}

ssize_t ss_forward_write(const struct ss_request *rq)
{
    ssize_t r;
    if (rq->call == SS_CALL_WRITE) {
        if (rq->flags & MSG_NOSIGNAL) {
            /* write(2) and send(2) of 0 bytes do the same on a socket (an empty
             * datagram; EPIPE on a closed stream). */
            r = SS_REAL(send)(rq->fd, rq->buf, rq->len, rq->flags);
            if (r >= 0 || !redo_plain(rq->fd, errno))
                return r;
        }
        return SS_REAL(write)(rq->fd, rq->buf, rq->len);
    }
    if ((rq->flags & MSG_NOSIGNAL) && rq->iov && rq->iovcnt > 0 && rq->iovcnt <= SS_IOV_LIMIT) {
        /* writev of 0 bytes returns 0 without touching the socket (no empty
         * datagram, no EPIPE), so only a non-empty writev becomes sendmsg.
         * An out-of-range iovcnt stays a writev: EINVAL, where sendmsg would
         * say EMSGSIZE. */
        size_t any = 0;
        for (int i = 0; i < rq->iovcnt; i++)
            any |= rq->iov[i].iov_len;
        if (any) {
            struct msghdr m = {.msg_iov = (struct iovec *)rq->iov, .msg_iovlen = (size_t)rq->iovcnt};
            r = SS_REAL(sendmsg)(rq->fd, &m, rq->flags);
            if (r >= 0 || !redo_plain(rq->fd, errno))
                return r;
        }
    }
    return SS_REAL(writev)(rq->fd, rq->iov, rq->iovcnt);
}

void ss_sigpipe_block(struct ss_sigpipe_guard *g)
{
    sigset_t pipe_only;
    int saved = errno;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &g->old);
    g->was_blocked = sigismember(&g->old, SIGPIPE) == 1;
    /* Blocked by the program already: a SIGPIPE may be pending, which is
     * not ours to consume afterwards (a second would merge with it). Not
     * blocked: none is, since it would have been delivered. */
    g->pending_before = 0;
    if (g->was_blocked) {
        sigset_t pending;
        g->pending_before = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    }
    errno = saved;
}

/* Whether the call may have raised SIGPIPE. The kernel raises it only with
 * an EPIPE (sk_stream_error, unix_stream_sendmsg), but sendfile and splice
 * send in rounds and report the bytes of the rounds before the one that
 * failed: a short count may hide an EPIPE and its SIGPIPE (shutdown(SHUT_WR)
 * from another thread during a blocking 16 MiB sendfile: 3.9 MB sent,
 * SIGPIPE pending). A full count had no failed round. */
static int may_have_raised(ssize_t ret, int err, size_t asked)
{
    return ret < 0 ? err == EPIPE : (size_t)ret < asked;
}

void ss_sigpipe_restore(struct ss_sigpipe_guard *g, int fd, ssize_t ret, size_t asked)
{
    int saved = errno, consumed = 0;
    if (!g->pending_before && may_have_raised(ret, saved, asked)) {
        sigset_t pipe_only;
        struct timespec zero = {0, 0};
        int r;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        /* The kernel sends SIGPIPE to the writing thread (send_sig on
         * current), so it is pending here now if the call raised one. */
        while ((r = sigtimedwait(&pipe_only, NULL, &zero)) < 0 && errno == EINTR)
            ;
        consumed = r == SIGPIPE;
    }
    /* The table said "socket" (with SO_NOSIGPIPE, or under
     * SENDSHIM_NOSIGPIPE=1), but it may be stale (the number reused behind
     * libc's back): a SIGPIPE from a pipe, or from another socket without the
     * option, must stay. The descriptor is re-identified only on this rare
     * path (one getsockopt), and the policy decided again for what it is. */
    int reraise = 0;
    if (consumed) {
        struct ss_fd_ref r;
        ss_fd_ref_init(&r, fd);
        reraise = !ss_fd_confirm(fd, &r) && !(r.st & SS_FD_NOSIGPIPE) &&
                  !(ss_cfg.nosigpipe && ss_fd_is_socket(r.st));
    }
    if (!g->was_blocked) /* else the mask never changed */
        pthread_sigmask(SIG_SETMASK, &g->old, NULL);
    if (reraise)
        raise(SIGPIPE);
    errno = saved;
}
