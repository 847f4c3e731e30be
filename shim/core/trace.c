/* trace.c - the SENDSHIM_TRACE line: function, fd, sizes, flags by name,
 * control messages by name, result or errno name. */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "normalize.h"
#include "stats.h"

#define SS_TRACE_CMSGS_MAX 8 /* control messages named on one line */

struct flag_name {
    int bit;
    const char *name;
};

static const struct flag_name msg_flag_names[] = {
    {MSG_OOB, "MSG_OOB"},
    {MSG_PEEK, "MSG_PEEK"},
    {MSG_DONTROUTE, "MSG_DONTROUTE"},
    {MSG_CTRUNC, "MSG_CTRUNC"},
    {MSG_PROXY, "MSG_PROBE"},
    {MSG_TRUNC, "MSG_TRUNC"},
    {MSG_DONTWAIT, "MSG_DONTWAIT"},
    {MSG_EOR, "MSG_EOR"},
    {MSG_WAITALL, "MSG_WAITALL"},
    {MSG_FIN, "MSG_EOF"},
    {MSG_SYN, "MSG_SYN"},
    {MSG_CONFIRM, "MSG_CONFIRM"},
    {MSG_RST, "MSG_RST"},
    {MSG_ERRQUEUE, "MSG_ERRQUEUE"},
    {MSG_NOSIGNAL, "MSG_NOSIGNAL"},
    {MSG_MORE, "MSG_MORE"},
    {MSG_WAITFORONE, "MSG_WAITFORONE"},
    {MSG_BATCH, "MSG_BATCH"},
    {MSG_ZEROCOPY, "MSG_ZEROCOPY"},
    {MSG_FASTOPEN, "MSG_FASTOPEN"},
    {MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"},
};

static const struct flag_name splice_flag_names[] = {
    {SPLICE_F_MOVE, "SPLICE_F_MOVE"},
    {SPLICE_F_NONBLOCK, "SPLICE_F_NONBLOCK"},
    {SPLICE_F_MORE, "SPLICE_F_MORE"},
    {SPLICE_F_GIFT, "SPLICE_F_GIFT"},
};

/* flags as NAME|NAME, "0", bits the table lacks in hex. */
static void buf_flag_names(struct ss_buf *b, const struct flag_name *names, size_t n, int flags)
{
    unsigned rest = (unsigned)flags;
    int first = 1;
    if (!rest) {
        ss_buf_char(b, '0');
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(rest & (unsigned)names[i].bit))
            continue;
        if (!first)
            ss_buf_char(b, '|');
        ss_buf_str(b, names[i].name);
        rest &= ~(unsigned)names[i].bit;
        first = 0;
    }
    if (rest) {
        if (!first)
            ss_buf_char(b, '|');
        ss_buf_hex(b, rest);
    }
}

void ss_buf_flags(struct ss_buf *b, int flags)
{
    buf_flag_names(b, msg_flag_names, sizeof msg_flag_names / sizeof msg_flag_names[0], flags);
}

static const char *cmsg_name(int level, int type)
{
    if (level == SOL_SOCKET && type == SCM_RIGHTS)
        return "SCM_RIGHTS";
    if (level == SOL_SOCKET && type == SCM_CREDENTIALS)
        return "SCM_CREDENTIALS";
    if (level == IPPROTO_IP && type == IP_PKTINFO)
        return "IP_PKTINFO";
    if (level == IPPROTO_IPV6 && type == IPV6_PKTINFO)
        return "IPV6_PKTINFO";
    return NULL;
}

/* Names of the control messages of msg, walked as the kernel walks them
 * (a header at each CMSG_ALIGN(cmsg_len), none once fewer bytes than a
 * header remain), by offsets bounded by msg_controllen's low 32 bits (SPEC 7
 * masks the rest), stopping at the first invalid length: glibc's CMSG_NXTHDR
 * trusts cmsg_len and would step anywhere on a header normalization
 * refused. */
static void buf_cmsgs(struct ss_buf *b, const struct msghdr *msg)
{
    const unsigned char *ctl = msg->msg_control;
    size_t len = (uint32_t)msg->msg_controllen, off = 0;
    if (!ctl || len < sizeof(struct cmsghdr))
        return;
    ss_buf_str(b, ", cmsg=");
    for (int n = 0; n < SS_TRACE_CMSGS_MAX && len - off >= sizeof(struct cmsghdr); n++) {
        struct cmsghdr h;
        memcpy(&h, ctl + off, sizeof h);
        if (n)
            ss_buf_char(b, ',');
        const char *name = cmsg_name(h.cmsg_level, h.cmsg_type);
        if (name) {
            ss_buf_str(b, name);
        } else {
            ss_buf_i64(b, h.cmsg_level);
            ss_buf_char(b, '/');
            ss_buf_i64(b, h.cmsg_type);
        }
        if (h.cmsg_len < sizeof h || h.cmsg_len > len - off || CMSG_ALIGN(h.cmsg_len) >= len - off)
            break;
        off += CMSG_ALIGN(h.cmsg_len);
    }
}

/* The send family takes a flags word; write, writev and sendfile have none. */
static int has_msg_flags(enum ss_call call)
{
    return call == SS_CALL_SEND || call == SS_CALL_SENDTO || call == SS_CALL_SENDMSG ||
           call == SS_CALL_SENDMMSG;
}

void ss_trace_call(const struct ss_request *rq, ssize_t ret, int err)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    if (!ss_log_enabled())
        return; /* SENDSHIM_LOG=none: nothing to build */
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "trace: ");
    ss_buf_str(&b, ss_call_name(rq->call));
    ss_buf_str(&b, "(fd=");
    ss_buf_i64(&b, rq->fd);
    switch (rq->call) {
    case SS_CALL_SENDMSG:
        if (rq->msg) {
            ss_buf_str(&b, ", ");
            ss_buf_u64(&b, (uint64_t)(unsigned)rq->msg->msg_iovlen);
            ss_buf_str(&b, " iov");
        }
        break;
    case SS_CALL_SENDMMSG:
        ss_buf_str(&b, ", ");
        ss_buf_u64(&b, rq->vlen);
        ss_buf_str(&b, " msgs");
        break;
    case SS_CALL_WRITEV:
        ss_buf_str(&b, ", ");
        ss_buf_i64(&b, rq->iovcnt);
        ss_buf_str(&b, " iov");
        break;
    case SS_CALL_SENDFILE:
    case SS_CALL_SPLICE:
        ss_buf_str(&b, ", in_fd=");
        ss_buf_i64(&b, rq->in_fd);
        break;
    default:
        break;
    }
    /* The kernel read every iovec array (and control buffer) of a call it
     * accepted whole; one that failed, or a batch that ended early, may have
     * failed on them (EFAULT): they are read only once the kernel says they
     * can be. */
    int whole =
        ret >= 0 && (rq->call != SS_CALL_SENDMMSG || (size_t)ret >= rq->vlen || ret >= SS_MMSG_VLEN_MAX);
    int readable = whole || ss_request_readable(rq);
    if (readable && (rq->call != SS_CALL_SENDMSG || rq->msg)) {
        size_t bytes = ss_request_bytes(rq);
        ss_buf_str(&b, ", ");
        ss_buf_u64(&b, bytes);
        ss_buf_str(&b, bytes == 1 ? " byte" : " bytes");
    }
    if (readable && rq->call == SS_CALL_SENDMSG && rq->msg)
        buf_cmsgs(&b, rq->msg);
    if (rq->call == SS_CALL_SPLICE) {
        ss_buf_str(&b, ", flags=");
        buf_flag_names(&b, splice_flag_names, sizeof splice_flag_names / sizeof splice_flag_names[0],
                       rq->flags_in);
    } else if (has_msg_flags(rq->call)) {
        ss_buf_str(&b, ", flags=");
        ss_buf_flags(&b, rq->flags_in);
        if (rq->flags != rq->flags_in) {
            ss_buf_str(&b, " -> ");
            ss_buf_flags(&b, rq->flags);
        }
    }
    ss_buf_str(&b, ") = ");
    ss_buf_i64(&b, ret);
    if (ret < 0) {
        const char *name = ss_errno_name(err);
        ss_buf_char(&b, ' ');
        if (name)
            ss_buf_str(&b, name);
        else
            ss_buf_i64(&b, err);
    }
    ss_log_end(&b);
}
