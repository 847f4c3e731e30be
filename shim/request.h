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

struct ss_request {
    enum ss_call call;
    int fd;
    int flags_in; /* as the program passed them */
    int flags;    /* what the kernel will get */

    /* send, sendto, write */
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

    int eof; /* MSG_EOF asked for: shut down the write side once all was sent */

    /* Normalization (sendmsg, sendmmsg). The scratch is the wrapper's stack
     * buffer; the mapping exists only in rare large cases and is unmapped
     * when the call is done. */
    struct ss_norm_scratch *norm;
    void *map;
    size_t map_len;
    const struct msghdr *user_msg; /* sendmsg: the program's header while msg is our copy */
    struct mmsghdr *user_vec;      /* sendmmsg: the program's array while vec is our copy */
    unsigned int user_vlen;
    void *batch_map; /* the copy of the array and its scratches */
    size_t batch_map_len;
};

/* Total bytes a request asks to send (sendmmsg: over all messages). Reads the
 * program's iovecs; call only after normalization accepted them. */
size_t ss_request_bytes(const struct ss_request *rq);

#endif
