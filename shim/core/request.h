/* request.h - one intercepted call, as it flows through the pipeline
 * normalize -> flags -> faults -> forward (SPEC section 4). Lives on the
 * caller's stack. */
#ifndef SENDSHIM_REQUEST_H
#define SENDSHIM_REQUEST_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "calls.h"
#include "normalize.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

struct ss_request {
    enum ss_call call;
    int fd;
    int flags_in; /* as the program passed them */
    int flags;    /* what the kernel will get */

    /* send, sendto, write (sendfile, splice: len only, the count asked for) */
    const void *buf;
    size_t len;
    /* sendto */
    const struct sockaddr *addr;
    socklen_t addrlen;
    /* sendmsg */
    const struct msghdr *msg;
    /* sendmmsg */
    struct mmsghdr *vec;
    unsigned int vlen;
    /* writev */
    const struct iovec *iov;
    int iovcnt;
    /* sendfile, splice: the descriptor read from (fd is the one written to;
     * splice's flags are in flags_in and flags) */
    int in_fd;

    int eof; /* MSG_EOF asked for: shut down the write side once all was sent */

    /* sendmsg, sendmmsg: the normalize stage's frame on the wrapper's stack
     * (NULL for the other calls, which then carry nothing of it). */
    struct ss_norm_frame *norm;
};

/* Start a request: the fields every stage reads. The wrapper then sets only
 * those of its own kind (send: buf, len; sendto: also addr, addrlen;
 * sendmsg: msg; sendmmsg: vec, vlen; write: buf, len; writev: iov, iovcnt;
 * sendmsg and sendmmsg: norm; sendfile, splice: len, in_fd); the stages read no other, so the rest stays
 * unset rather than zeroed on every call. */
static inline void ss_request_start(struct ss_request *rq, enum ss_call call, int fd, int flags)
{
    rq->call = call;
    rq->fd = fd;
    rq->flags_in = flags;
    rq->eof = 0;
    rq->norm = NULL;
}

/* What the normalize stage needs for one sendmsg/sendmmsg: a bounded scratch,
 * and the bookkeeping of the rare cases that need more (a mapping) or a copy
 * of the program's header or array. Only the bookkeeping is initialized
 * (ss_norm_frame_init): the 5 KiB scratch is written only when used. */
struct ss_norm_frame {
    void *map; /* for the rare large cases; unmapped when the call is done */
    size_t map_len;
    struct mmsghdr *user_vec; /* sendmmsg: the program's array while vec is our copy */
    unsigned int user_vlen;
    void *batch_map; /* the copy of the array and its scratches */
    size_t batch_map_len;
    /* The normalized request asks for less than the program's (its first
     * 1024 iovecs of a stream write, a batch ended at a bad message): the
     * call cannot send all the program asked for (MSG_EOF's condition). */
    int cut;
    struct ss_norm_scratch scratch;
};

static inline void ss_norm_frame_init(struct ss_norm_frame *f)
{
    f->map = NULL;
    f->user_vec = NULL;
    f->cut = 0;
}

/* Total bytes a request asks to send (sendmmsg: over all messages). Reads the
 * program's iovec arrays (and sendmmsg's vector): call only where they are
 * known to be readable (ss_request_readable). */
size_t ss_request_bytes(const struct ss_request *rq);

/* Whether the arrays ss_request_bytes reads, and sendmsg's control buffer,
 * can be read without a fault, asked of the kernel (a system call: for rare
 * paths only, such as a failed call under SENDSHIM_TRACE or a fault about to
 * fire). sendmmsg's vector itself is read by the library before this (as a
 * bad msghdr pointer is: README Limits). */
int ss_request_readable(const struct ss_request *rq);

#pragma GCC visibility pop

#endif
