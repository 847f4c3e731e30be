/* request.c - facts about a request. */
#include "request.h"

#include <stdint.h>

#include "readable.h"

static size_t iov_bytes(const struct iovec *iov, size_t n)
{
    size_t total = 0;
    if (!iov)
        return 0;
    for (size_t i = 0; i < n; i++)
        total += iov[i].iov_len;
    return total;
}

/* sendmmsg's vlen as the kernel caps it. */
static unsigned capped_vlen(const struct ss_request *rq)
{
    return rq->vlen > SS_MMSG_VLEN_MAX ? SS_MMSG_VLEN_MAX : rq->vlen;
}

size_t ss_request_bytes(const struct ss_request *rq)
{
    size_t total = 0;
    switch (rq->call) {
    case SS_CALL_SEND:
    case SS_CALL_SENDTO:
    case SS_CALL_WRITE:
    case SS_CALL_SENDFILE:
    case SS_CALL_SPLICE:
        return rq->len;
    case SS_CALL_WRITEV:
        return rq->iovcnt > 0 ? iov_bytes(rq->iov, (size_t)rq->iovcnt) : 0;
    case SS_CALL_SENDMSG:
        return rq->msg ? iov_bytes(rq->msg->msg_iov, (unsigned)rq->msg->msg_iovlen) : 0;
    case SS_CALL_SENDMMSG:
        for (unsigned i = 0; rq->vec && i < capped_vlen(rq); i++)
            total += iov_bytes(rq->vec[i].msg_hdr.msg_iov, (unsigned)rq->vec[i].msg_hdr.msg_iovlen);
        return total;
    case SS_NCALLS_SEEN:
        break;
    }
    return 0;
}

/* A message's iovec array and control buffer, as regions to ask about. */
static size_t msg_regions(const struct msghdr *m, struct iovec r[2])
{
    size_t n = 0;
    if (m->msg_iov && (unsigned)m->msg_iovlen)
        r[n++] = (struct iovec){m->msg_iov, (unsigned)m->msg_iovlen * sizeof *m->msg_iov};
    if (m->msg_control && (uint32_t)m->msg_controllen)
        r[n++] = (struct iovec){m->msg_control, (uint32_t)m->msg_controllen};
    return n;
}

int ss_request_readable(const struct ss_request *rq)
{
    struct iovec r[2];
    switch (rq->call) {
    case SS_CALL_WRITEV:
        return rq->iovcnt <= 0 || !rq->iov || ss_readable(rq->iov, (size_t)rq->iovcnt * sizeof *rq->iov);
    case SS_CALL_SENDMSG:
        if (!rq->msg)
            return 1;
        return ss_readable_iov(r, msg_regions(rq->msg, r));
    case SS_CALL_SENDMMSG:
        for (unsigned i = 0; rq->vec && i < capped_vlen(rq); i++)
            if (!ss_readable_iov(r, msg_regions(&rq->vec[i].msg_hdr, r)))
                return 0;
        return 1;
    default:
        return 1;
    }
}
