/* fault_facts.c - the facts about a call that the fault rules test and the
 * actions read (SPEC section 8): the socket's type and family, where the call
 * sends, and the bytes of its iovec arrays. Used by the fault stage
 * (fault_actions.c) once it knows which facts the rules naming the call
 * need. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
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

/* The named-address cache. A call that names an address (sendto, msg_name)
 * must test the peer= and port= groups on it, not on the connected peer the
 * verdict holds: about 30 instructions a group. Programs send to few
 * addresses over and over (a resolver to its servers, a client to its
 * server), so a descriptor's verdict as it stands for an address - its
 * "named verdict": the verdict's groups with the peer= and port= ones
 * decided on the address instead - is kept per (descriptor, its kind,
 * verdict, address) in a small table shared by all threads. The verdict in
 * the key holds the plan's id, so an entry is never another plan's; the
 * descriptor is in it because a group may join fd= to peer= or port=, and
 * its kind because a group may join type= or family= to them (two sockets
 * at one number, one after the other, can have equal verdicts and differ
 * there). Each entry is a
 * sequence lock: a writer claims it by making its sequence odd (a
 * compare-and-swap: a thread or signal handler that finds it odd or loses
 * the race writes nothing) and makes it even again when done; a reader uses
 * an entry only when its sequence is even and the same before and after it
 * read the fields. So a hit is exact, a torn entry is a miss, and nothing
 * waits. Only inet addresses of full length are kept: what the place tests
 * read of them (family, port, address; the flow label too, harmlessly) is
 * the key. Lock-free, async-signal-safe. */
#define NAMED_CACHE_BITS 4
#define NAMED_CACHE      (1 << NAMED_CACHE_BITS) /* entries */
struct named_entry {
    unsigned seq;
    int fd;
    uint64_t verdict;
    uint64_t kind; /* the descriptor's kind (SS_FD_KIND_BITS of its state word) */
    uint64_t key[3];
    uint64_t named; /* the named verdict's groups (the first 32) */
} __attribute__((aligned(64)));
static struct named_entry named_cache[NAMED_CACHE];

/* The key of an address the cache keeps (1), or 0. */
static int named_key(const struct sockaddr *dest, socklen_t len, uint64_t key[3])
{
    key[1] = key[2] = 0;
    if (dest->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        memcpy(&key[0], dest, 8); /* family, port, address */
        return 1;
    }
    if (dest->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        memcpy(key, dest, 24); /* family, port, flow label, address */
        return 1;
    }
    return 0;
}

/* The entry of key: Fibonacci hashing, whose top bits mix every bit of the
 * key (a port, in network order, sits in the middle of key[0]). The
 * descriptor is left out: sockets sending to one address share its entry
 * (a resolver's socket per query), and each finds its own or makes it. */
static struct named_entry *named_entry_of(const uint64_t key[3])
{
    uint64_t h = (key[0] ^ key[1] ^ key[2]) * 0x9e3779b97f4a7c15ull;
    return &named_cache[h >> (64 - NAMED_CACHE_BITS)];
}

/* Whether e holds (fd, kind, verdict, key): then its named verdict in
 * *named. */
static int named_hit(struct named_entry *e, unsigned seq, int fd, uint64_t kind, uint64_t verdict,
                     const uint64_t key[3], uint64_t *named)
{
    if ((seq & 1) || __atomic_load_n(&e->verdict, __ATOMIC_RELAXED) != verdict ||
        __atomic_load_n(&e->fd, __ATOMIC_RELAXED) != fd ||
        __atomic_load_n(&e->kind, __ATOMIC_RELAXED) != kind ||
        __atomic_load_n(&e->key[0], __ATOMIC_RELAXED) != key[0] ||
        __atomic_load_n(&e->key[1], __ATOMIC_RELAXED) != key[1] ||
        __atomic_load_n(&e->key[2], __ATOMIC_RELAXED) != key[2])
        return 0;
    uint64_t v = __atomic_load_n(&e->named, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != seq)
        return 0;
    *named = v;
    return 1;
}

int ss_path_named_find(int fd, uint64_t st, uint64_t verdict, const struct sockaddr *dest, socklen_t len,
                       uint64_t *named)
{
    uint64_t key[3];
    if (!named_key(dest, len, key))
        return 0;
    struct named_entry *e = named_entry_of(key);
    return named_hit(e, __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE), fd, st & SS_FD_KIND_BITS, verdict, key,
                     named);
}

/* The named verdict of descriptor fd (state word st, verdict v, whose kind
 * passes the groups kind_ok) for a call to dest: from the cache, else
 * decided and kept. */
static uint64_t named_verdict(const struct ss_fault_plan *p, int fd, uint64_t st, uint64_t v,
                              uint64_t kind_ok, const struct sockaddr *dest, socklen_t len)
{
    const uint64_t low = 0xffffffffu, named = p->named & low;
    uint64_t key[3], out;
    struct named_entry *e = named_key(dest, len, key) ? named_entry_of(key) : NULL; /* NULL: not kept */
    unsigned seq = e ? __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) : 1;
    if (e && named_hit(e, seq, fd, st & SS_FD_KIND_BITS, v, key, &out))
        return out;
    out = ((uint32_t)v & ~named) | ss_path_place_slow(p, kind_ok & named, kind_ok & named, fd, dest, len);
    if (e && !(seq & 1) &&
        __atomic_compare_exchange_n(&e->seq, &seq, seq + 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        __atomic_thread_fence(__ATOMIC_RELEASE); /* the odd sequence before the fields */
        __atomic_store_n(&e->verdict, v, __ATOMIC_RELAXED);
        __atomic_store_n(&e->fd, fd, __ATOMIC_RELAXED);
        __atomic_store_n(&e->kind, st & SS_FD_KIND_BITS, __ATOMIC_RELAXED);
        for (int i = 0; i < 3; i++)
            __atomic_store_n(&e->key[i], key[i], __ATOMIC_RELAXED);
        __atomic_store_n(&e->named, out, __ATOMIC_RELAXED);
        __atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
    }
    return out;
}

void ss_path_named_reset(void)
{
    memset(named_cache, 0, sizeof named_cache);
}

uint64_t ss_path_groups_rare(const struct ss_fault_plan *p, enum ss_call call, int fd, struct ss_fd_ref *r,
                             uint64_t v, const struct sockaddr *dest, socklen_t destlen, int ask)
{
    const uint64_t low = 0xffffffffu;              /* the verdict's groups */
    uint64_t st = r->e ? ss_fd_load(r->e) : r->st; /* the step's ref holds the entry only */
    uint64_t kind_ok = ss_faults_kind_ok(p, (unsigned)((st >> SS_FD_TYPE_SHIFT) & SS_FD_TYPE_MASK),
                                         (unsigned)((st >> SS_FD_FAMILY_SHIFT) & SS_FD_FAMILY_MASK));
    uint64_t calls = p->calls[call], kind = calls & kind_ok, m = calls & (uint32_t)v;
    if (dest) {
        /* Every peer= and port= group is tested on the address named, not
         * on the connected peer the verdict holds (an fd= group alone is
         * the verdict's). */
        uint64_t test = (kind & p->named) | (kind & p->other & ~low);
        if (test && !(test & ~low)) /* the verdict's groups only: the named verdict answers */
            return (calls & named_verdict(p, fd, st, v, kind_ok & low, dest, destlen)) | (kind & ~low);
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
