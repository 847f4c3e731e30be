/* fault_facts.c - the facts about a call that the fault rules test and the
 * actions read (SPEC section 8): the socket's type and family, where the call
 * sends, and the bytes of its iovec arrays. Used by the fault stage
 * (fault_actions.c) once it knows which facts the rules naming the call
 * need. */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fault_internal.h"
#include "faults.h"
#include "fdtable.h"

/* Socket type and family, from the descriptor table: the kernel is asked
 * once per descriptor (ss_fd_probe); only rule sets that test the type or
 * family, match write/writev, or use short=/drop look. Both stay as they
 * are (0) when fd is not a socket. */
void ss_faults_sock_facts(struct ss_fd_ref *fd, int fdnum, int *type, int *family)
{
    uint64_t st = ss_fd_ref_probe(fd, fdnum);
    if (ss_fd_is_socket(st)) {
        *type = (int)((st >> SS_FD_TYPE_SHIFT) & SS_FD_TYPE_MASK);
        *family = (int)((st >> SS_FD_FAMILY_SHIFT) & SS_FD_FAMILY_MASK);
    }
}

/* Where the call sends: its own address if it names one, else the connected
 * peer. getpeername is a system call, made only for rule sets with peer= or
 * port= conditions, on every such call: the descriptor table has no room to
 * cache a peer address (up to 110 bytes for a unix path) per descriptor. */
void ss_faults_dest_facts(const struct ss_request *rq, struct ss_fault_call *c, struct sockaddr_storage *peer)
{
    const struct sockaddr *a = NULL;
    socklen_t alen = 0;
    if (rq->call == SS_CALL_SENDTO) {
        a = rq->addr;
        alen = rq->addrlen;
    } else if (rq->call == SS_CALL_SENDMSG && rq->msg) {
        a = rq->msg->msg_name;
        alen = rq->msg->msg_namelen;
    } else if (rq->call == SS_CALL_SENDMMSG && rq->vec && rq->vlen) {
        a = rq->vec[0].msg_hdr.msg_name;
        alen = rq->vec[0].msg_hdr.msg_namelen;
    }
    if (a && alen) {
        c->dest = a;
        c->destlen = alen;
        return;
    }
    int saved = errno;
    socklen_t len = sizeof *peer;
    if (syscall(SYS_getpeername, rq->fd, peer, &len) == 0) {
        c->dest = (const struct sockaddr *)peer;
        c->destlen = len;
    }
    errno = saved;
}

uint64_t ss_faults_iov_sum(const struct iovec *iov, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; iov && i < n; i++)
        total += iov[i].iov_len;
    return total;
}

unsigned ss_faults_capped_vlen(const struct ss_request *rq)
{
    return rq->vlen > SS_MMSG_VLEN_CAP ? SS_MMSG_VLEN_CAP : rq->vlen;
}
