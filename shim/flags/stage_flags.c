/* stage_flags.c - flag semantics (SPEC sections 5 and 6): the program's flag
 * numbering translated, unknown bits handled, MSG_EOF and MSG_CONFIRM given
 * their portable meaning, MSG_NOSIGNAL added by SENDSHIM_NOSIGPIPE or
 * SO_NOSIGPIPE; after a complete send with MSG_EOF, the write side is shut
 * down. */
#include <errno.h>
#include <sys/socket.h>

#include "fdtable.h"
#include "flags.h"
#include "sigpipe.h"
#include "stages.h"
#include "state.h"

void ss_stages_init(void)
{
    (void)ss_flags_style_known(ss_cfg.style); /* builds the flag maps now, not on a first call */
    ss_stage_faults_init();
}

int ss_stage_flags_full(struct ss_request *rq, struct ss_fd_ref *fd, int add)
{
    if (rq->call == SS_CALL_WRITE || rq->call == SS_CALL_WRITEV) {
        rq->flags = ss_write_flags(rq->fd);
        return 0;
    }
    int flags = rq->flags;
    if (flags) { /* 0 is 0 in every numbering and mode */
        int err = ss_flags_translate(ss_cfg.style, ss_cfg.unknown, flags, &flags);
        if (err)
            return err;
        if (flags & (SS_MSG_EOF | MSG_CONFIRM)) {
            /* Only these two need to know what the socket is. A descriptor
             * that is no socket (or not open) gets the bits removed; the
             * kernel then says ENOTSOCK or EBADF itself. MSG_EOF shuts the
             * socket down: it is re-identified first (fdtable.h), as the
             * number may hold another socket than the table believes. */
            if (flags & SS_MSG_EOF)
                (void)ss_fd_confirm(rq->fd, fd);
            uint64_t st = ss_fd_ref_probe(fd, rq->fd);
            flags = ss_flags_for_socket(flags, ss_fd_family(st), ss_fd_type(st), &rq->eof);
        }
    }
    rq->flags = flags | add;
    return 0;
}

/* Whether the call sent everything it was asked to (MSG_EOF's condition). */
static int complete(const struct ss_request *rq, ssize_t ret)
{
    if (rq->norm && rq->norm->cut)
        return 0; /* the normalized request is a part of the program's */
    size_t want = ss_request_bytes(rq);
    if (rq->call != SS_CALL_SENDMMSG)
        return (size_t)ret == want;
    if (ret < 0 || (unsigned)ret != rq->vlen)
        return 0;
    size_t sent = 0;
    for (unsigned i = 0; i < rq->vlen; i++)
        sent += rq->vec[i].msg_len;
    return sent == want;
}

void ss_stage_after_success_full(struct ss_request *rq, struct ss_fd_ref *fd, ssize_t ret, int count_bytes)
{
    if (rq->eof && complete(rq, ret)) {
        /* Every byte was accepted (a 0-byte send included): FIN now. A short
         * count leaves the socket open, so the caller's retry with MSG_EOF
         * finishes the job, as on FreeBSD. The call's result stands whatever
         * shutdown says, and errno is the caller's. */
        int saved = errno;
        (void)shutdown(rq->fd, SHUT_WR);
        errno = saved;
    }
    /* For fault rules' after=BYTES. */
    if (count_bytes)
        ss_fd_add_bytes(rq->fd, fd->e, ss_sent_bytes(rq, ret));
}
