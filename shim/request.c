/* request.c - facts about a request. */
#include "request.h"

static size_t iov_bytes(const struct iovec *iov, size_t n)
{
    size_t total = 0;
    if (!iov)
        return 0;
    for (size_t i = 0; i < n; i++)
        total += iov[i].iov_len;
    return total;
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
        for (unsigned i = 0; rq->vec && i < rq->vlen; i++)
            total += iov_bytes(rq->vec[i].msg_hdr.msg_iov, (unsigned)rq->vec[i].msg_hdr.msg_iovlen);
        return total;
    case SS_NCALLS_SEEN:
        break;
    }
    return 0;
}
