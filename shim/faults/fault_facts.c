/* fault_facts.c - the facts about a call that the fault rules test and the
 * actions read (SPEC section 8): the socket's type and family, where the call
 * sends, and the bytes of its iovec arrays. Used by the fault stage
 * (fault_actions.c) once it knows which facts the rules naming the call
 * need. */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fault_internal.h"
#include "path.h"
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

const struct sockaddr *ss_faults_named_dest(const struct ss_request *rq, socklen_t *len)
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
    *len = a ? alen : 0;
    return a && alen ? a : NULL;
}

const struct sockaddr *ss_faults_connected_peer(int fd, struct sockaddr_storage *peer, socklen_t *len)
{
    int saved = errno;
    *len = sizeof *peer;
    const struct sockaddr *a = NULL;
    if (syscall(SYS_getpeername, fd, peer, len) == 0)
        a = (const struct sockaddr *)peer;
    else
        *len = 0;
    errno = saved;
    return a;
}

/* A descriptor's verdict (path.h): the kind is probed once per
 * descriptor, the peer asked once per descriptor, plan and connect, not
 * per call. A send racing with a connect of the same socket in another
 * thread may store the verdict for the peer before the connect; the next
 * connect or plan makes it again. */
uint64_t ss_path_verdict(const struct ss_fault_plan *p, int fd, struct ss_fd_ref *r)
{
    unsigned needs = 0;
    for (unsigned c = 0; c < SS_NCALLS; c++)
        needs |= p->needs[c];
    uint64_t st = (needs & SS_NEED_SOCK) ? ss_fd_ref_probe(r, fd) : r->st;
    uint64_t ok = ss_faults_kind_ok(p, (unsigned)((st >> SS_FD_TYPE_SHIFT) & SS_FD_TYPE_MASK),
                                    (unsigned)((st >> SS_FD_FAMILY_SHIFT) & SS_FD_FAMILY_MASK)) &
                  0xffffffffu;
    uint64_t place = ok & p->other;
    if (place) {
        struct sockaddr_storage peer;
        socklen_t len;
        const struct sockaddr *dest = ss_faults_connected_peer(fd, &peer, &len);
        for (; place; place &= place - 1) {
            unsigned g = (unsigned)__builtin_ctzll(place);
            if (!ss_rule_matches_place(p->match[g], fd, dest, len))
                ok &= ~(1ull << g);
        }
    }
    uint64_t v = (uint64_t)p->id << 32 | ok;
    if ((needs & SS_NEED_SOCK) && !(st & SS_FD_KNOWN))
        return v; /* not open: nothing to keep (asked again next time) */
    if (!r->e) {
        r->e = ss_fd_entry_make(fd);
        r->st = ss_fd_load(r->e);
    }
    if (r->e)
        __atomic_store_n(&r->e->verdict, v, __ATOMIC_RELEASE);
    return v;
}

uint64_t ss_path_groups_rare(const struct ss_fault_plan *p, enum ss_call call, int fd, struct ss_fd_ref *r,
                             uint64_t m, const struct sockaddr *dest, socklen_t destlen, int ask)
{
    const uint64_t low = 0xffffffffu;              /* the verdict's groups */
    uint64_t st = r->e ? ss_fd_load(r->e) : r->st; /* the step's ref holds the entry only */
    uint64_t kind =
        p->calls[call] & ss_faults_kind_ok(p, (unsigned)((st >> SS_FD_TYPE_SHIFT) & SS_FD_TYPE_MASK),
                                           (unsigned)((st >> SS_FD_FAMILY_SHIFT) & SS_FD_FAMILY_MASK));
    if (dest) {
        /* Every peer= and port= group is tested on the address named, not
         * on the connected peer the verdict holds (an fd= group alone is
         * the verdict's). */
        uint64_t test = (kind & p->named) | (kind & p->other & ~low);
        m = (m & ~p->named) | (kind & ~low) | test;
        return test ? ss_path_place_slow(p, m, test, fd, dest, destlen) : m;
    }
    uint64_t high = kind & ~low;
    if (high & p->other) {
        if (!ask)
            return SS_GROUPS_ASK;
        high = ss_path_place_slow(p, high, high & p->other, fd, NULL, 0);
    }
    return m | high;
}

uint64_t ss_path_place_slow(const struct ss_fault_plan *p, uint64_t m, uint64_t test, int fd,
                            const struct sockaddr *dest, socklen_t destlen)
{
    struct sockaddr_storage peer;
    if (!dest) /* past the verdict's 32 groups: the peer is asked on every call of theirs (README Limits) */
        dest = ss_faults_connected_peer(fd, &peer, &destlen);
    for (; test; test &= test - 1) {
        unsigned g = (unsigned)__builtin_ctzll(test);
        if (!ss_rule_matches_place(p->match[g], fd, dest, destlen))
            m &= ~(1ull << g);
    }
    return m;
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
