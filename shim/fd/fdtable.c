/* fdtable.c - per-descriptor state (see fdtable.h). */
#include "fdtable.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "pipeline.h"
#include "real.h"

/* The directory: SS_FD_NCHUNKS pointers (128 KiB of BSS, of which only the
 * pages covering used descriptors are ever touched). */
struct ss_fd_entry *ss_fd_chunks[SS_FD_NCHUNKS];
static uint32_t next_group; /* last group number handed out */

static struct ss_fd_entry *lookup(int fd)
{
    return ss_fd_lookup(fd);
}

/* The entry for fd, mapping its chunk if needed. NULL when fd is out of range
 * or memory is short. errno preserved. */
static struct ss_fd_entry *ensure(int fd)
{
    struct ss_fd_entry *e = lookup(fd);
    if (e || (unsigned)fd >= SS_FD_LIMIT)
        return e;
    int saved = errno;
    struct ss_fd_entry **slot = &ss_fd_chunks[(unsigned)fd >> SS_FD_CHUNK_SHIFT];
    struct ss_fd_entry *fresh =
        mmap(NULL, SS_FD_CHUNK * sizeof *fresh, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fresh == MAP_FAILED) {
        errno = saved;
        return NULL;
    }
    struct ss_fd_entry *expected = NULL;
    /* Two threads (or a thread and a signal handler) may race here: the
     * loser gives its chunk back and uses the winner's. */
    if (!__atomic_compare_exchange_n(slot, &expected, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        munmap(fresh, SS_FD_CHUNK * sizeof *fresh);
        fresh = expected;
    }
    errno = saved;
    return &fresh[(unsigned)fd & (SS_FD_CHUNK - 1)];
}

static uint64_t load(const struct ss_fd_entry *e)
{
    return __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
}

uint64_t ss_fd_state(int fd)
{
    const struct ss_fd_entry *e = lookup(fd);
    return e ? load(e) : 0;
}

static uint64_t kind_word(int family, int type)
{
    uint64_t fam = (unsigned)family > SS_FD_FAMILY_MASK ? SS_FD_FAMILY_MASK : (uint64_t)family;
    return SS_FD_KNOWN | SS_FD_SOCKET | fam << SS_FD_FAMILY_SHIFT |
           ((uint64_t)type & SS_FD_TYPE_MASK) << SS_FD_TYPE_SHIFT;
}

/* Replace the kind bits of e, keeping SO_NOSIGPIPE and the group. */
static uint64_t set_kind(struct ss_fd_entry *e, uint64_t kind)
{
    uint64_t old = load(e), now;
    do
        now = (old & ~SS_FD_KIND_BITS) | kind;
    while (!__atomic_compare_exchange_n(&e->state, &old, now, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return now;
}

/* The socket's identity: SO_COOKIE (Linux 4.12+, sock_gen_cookie: a
 * 64-bit counter, never 0 and never reused). 0 with errno set when fd is not
 * a socket (ENOTSOCK), not open (EBADF), or the kernel has no SO_COOKIE
 * (ENOPROTOOPT). */
static uint64_t ask_cookie(int fd)
{
    uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    if (SS_REAL(getsockopt)(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0)
        return 0;
    return cookie;
}

/* Ask the kernel what fd is. Returns the kind bits, or 0 when the descriptor
 * is not open or the question failed otherwise (nothing to cache); *cookie
 * gets the socket's identity (0 when none). The cookie is asked first: its
 * ENOTSOCK answers for a pipe or file in one call. */
static uint64_t ask_kernel(int fd, uint64_t *cookie)
{
    int family = 0, type = 0;
    socklen_t len = sizeof family;
    *cookie = ask_cookie(fd);
    if (!*cookie && errno == ENOTSOCK)
        return SS_FD_KNOWN;
    if (!*cookie && errno != ENOPROTOOPT)
        return 0;
    if (SS_REAL(getsockopt)(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) != 0)
        return errno == ENOTSOCK ? SS_FD_KNOWN : 0;
    len = sizeof type;
    if (SS_REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        return 0;
    return kind_word(family, type);
}

/* e describes a new open file now: kind and identity as given, nothing
 * inherited (no SO_NOSIGPIPE, no dup group, no bytes). */
static void start_over(struct ss_fd_entry *e, uint64_t kind, uint64_t cookie)
{
    __atomic_store_n(&e->bytes, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->cookie, cookie, __ATOMIC_RELAXED);
    __atomic_store_n(&e->verdict, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->state, kind, __ATOMIC_RELEASE);
}

uint64_t ss_fd_probe(int fd)
{
    struct ss_fd_entry *e = lookup(fd);
    uint64_t st = e ? load(e) : 0;
    if (st & SS_FD_KNOWN)
        return st;
    int saved = errno;
    uint64_t cookie;
    uint64_t kind = ask_kernel(fd, &cookie);
    if (kind && (e || (e = ensure(fd)))) {
        __atomic_store_n(&e->cookie, cookie, __ATOMIC_RELAXED);
        st = set_kind(e, kind);
    } else {
        st |= kind; /* untracked descriptor: asked again next time */
    }
    errno = saved;
    return st;
}

int ss_fd_confirm(int fd, struct ss_fd_ref *r)
{
    struct ss_fd_entry *e = r->e ? r->e : lookup(fd);
    uint64_t st = e ? load(e) : 0;
    if (!(st & SS_FD_KNOWN)) {
        /* Nothing is believed about the kind yet: asking is identifying. */
        r->st = ss_fd_probe(fd);
        r->e = lookup(fd);
        return 1;
    }
    int saved = errno;
    uint64_t had = __atomic_load_n(&e->cookie, __ATOMIC_RELAXED);
    uint64_t now = ask_cookie(fd), kind = 0;
    int same;
    if (now) /* a socket: the same one? */
        same = ss_fd_is_socket(st) && had == now;
    else if (errno == ENOTSOCK) /* any pipe or file is as good as another */
        same = !ss_fd_is_socket(st);
    else if (errno == ENOPROTOOPT) /* before Linux 4.12: the kind must agree */
        same = (kind = ask_kernel(fd, &now)) != 0 && kind == (st & SS_FD_KIND_BITS);
    else /* not open (EBADF): nothing to believe */
        same = 0;
    if (!same) {
        if (!kind && now)
            kind = ask_kernel(fd, &now);
        else if (!kind && errno == ENOTSOCK)
            kind = SS_FD_KNOWN;
        start_over(e, kind, now);
        st = kind;
    }
    r->e = e;
    r->st = st;
    errno = saved;
    return same;
}

void ss_fd_socket_created(int fd, int family, int type)
{
    struct ss_fd_entry *e = ensure(fd);
    if (!e)
        return;
    int saved = errno;
    start_over(e, kind_word(family, type), ask_cookie(fd));
    errno = saved;
}

void ss_fd_received(int fd)
{
    struct ss_fd_entry *e = lookup(fd);
    if (e)
        start_over(e, 0, 0);
}

void ss_fd_received_msg(const struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *p = CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, p + i * sizeof fd, sizeof fd); /* CMSG_DATA need not be aligned for int */
            ss_fd_received(fd);
        }
    }
}

void ss_fd_closed_range(unsigned first, unsigned last)
{
    if (first >= SS_FD_LIMIT || first > last)
        return;
    if (last >= SS_FD_LIMIT)
        last = SS_FD_LIMIT - 1;
    /* Chunk by chunk, so a range up to ~0U costs a look at each of the
     * directory's pointers, not at 2^24 entries. */
    for (unsigned c = first >> SS_FD_CHUNK_SHIFT; c <= last >> SS_FD_CHUNK_SHIFT; c++) {
        struct ss_fd_entry *chunk = __atomic_load_n(&ss_fd_chunks[c], __ATOMIC_ACQUIRE);
        if (!chunk)
            continue;
        unsigned lo = c == first >> SS_FD_CHUNK_SHIFT ? first & (SS_FD_CHUNK - 1) : 0;
        unsigned hi = c == last >> SS_FD_CHUNK_SHIFT ? last & (SS_FD_CHUNK - 1) : SS_FD_CHUNK - 1;
        for (unsigned i = lo; i <= hi; i++)
            if (load(&chunk[i]) || __atomic_load_n(&chunk[i].bytes, __ATOMIC_RELAXED) ||
                __atomic_load_n(&chunk[i].verdict, __ATOMIC_RELAXED))
                start_over(&chunk[i], 0, 0);
    }
}

void ss_fd_closed(int fd, uint64_t seen)
{
    struct ss_fd_entry *e = lookup(fd);
    if (!e)
        return;
    /* Only if nobody recorded a new descriptor at this number since. */
    if (__atomic_compare_exchange_n(&e->state, &seen, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&e->bytes, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&e->cookie, 0, __ATOMIC_RELAXED);
    }
    /* Whatever the state word says: a verdict made at the old number must
     * not be found by the next socket there. */
    __atomic_store_n(&e->verdict, 0, __ATOMIC_RELAXED);
}

void ss_fd_not_socket(int fd)
{
    struct ss_fd_entry *e = lookup(fd);
    if (e)
        start_over(e, SS_FD_KNOWN, 0);
}

/* The group of e, giving it a new one if it has none. */
static uint64_t with_group(struct ss_fd_entry *e)
{
    uint64_t old = load(e);
    while (!(old >> SS_FD_GROUP_SHIFT)) {
        uint32_t g;
        /* A new number; 0 means "no group". After 2^32 dups numbers repeat,
         * which could only merge two long-lived groups. */
        do
            g = __atomic_add_fetch(&next_group, 1, __ATOMIC_RELAXED);
        while (!g);
        uint64_t now = old | (uint64_t)g << SS_FD_GROUP_SHIFT;
        if (__atomic_compare_exchange_n(&e->state, &old, now, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return now;
    }
    return old;
}

void ss_fd_duplicated(int oldfd, int newfd)
{
    struct ss_fd_entry *o = ensure(oldfd), *n = ensure(newfd);
    if (!n)
        return;
    if (!o) {
        __atomic_store_n(&n->verdict, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&n->state, 0, __ATOMIC_RELEASE);
        return;
    }
    __atomic_store_n(&n->bytes, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&n->verdict, 0, __ATOMIC_RELAXED); /* fd= differs */
    /* The same open file, so the same socket and cookie. */
    __atomic_store_n(&n->cookie, __atomic_load_n(&o->cookie, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
    /* Copy until the source is stable: a setsockopt(SO_NOSIGPIPE) racing in
     * another thread either changed the source before our re-read (we copy
     * again) or scans the group after our store (and finds newfd). */
    uint64_t w = with_group(o);
    for (;;) {
        __atomic_store_n(&n->state, w, __ATOMIC_SEQ_CST);
        uint64_t again = __atomic_load_n(&o->state, __ATOMIC_SEQ_CST);
        if (again == w)
            break;
        w = again;
    }
}

void ss_fd_accepted(int listener, int fd)
{
    uint64_t l = ss_fd_state(listener);
    struct ss_fd_entry *e = (l & SS_FD_NOSIGPIPE) ? ensure(fd) : lookup(fd);
    if (!e)
        return;
    /* A new socket: its own identity (no group), SO_NOSIGPIPE inherited as
     * on BSD. Its kind is probed when needed, unless it inherits the option:
     * then the identity that option belongs to is taken now. */
    start_over(e, 0, 0);
    if (l & SS_FD_NOSIGPIPE) {
        (void)ss_fd_probe(fd);
        __atomic_fetch_or(&e->state, SS_FD_NOSIGPIPE, __ATOMIC_SEQ_CST);
    }
}

static void set_bit(struct ss_fd_entry *e, int on)
{
    if (on)
        __atomic_fetch_or(&e->state, SS_FD_NOSIGPIPE, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_and(&e->state, ~SS_FD_NOSIGPIPE, __ATOMIC_SEQ_CST);
}

int ss_fd_set_nosigpipe(int fd, int on)
{
    struct ss_fd_entry *e = on ? ensure(fd) : lookup(fd);
    if (!e)
        return on ? ENOMEM : 0;
    if (on) {
        /* Sends must take the descriptor step from now on (policy.c). */
        ss_activate(SS_ACTIVE_NOSIGPIPE);
    }
    set_bit(e, on);
    uint64_t group = load(e) >> SS_FD_GROUP_SHIFT;
    if (!group)
        return 0;
    /* The other descriptors of the same socket: a scan, but setsockopt is
     * rare and only descriptors that were ever dup'ed have a group. */
    for (unsigned c = 0; c < SS_FD_NCHUNKS; c++) {
        struct ss_fd_entry *chunk = __atomic_load_n(&ss_fd_chunks[c], __ATOMIC_ACQUIRE);
        for (unsigned i = 0; chunk && i < SS_FD_CHUNK; i++)
            if (&chunk[i] != e && load(&chunk[i]) >> SS_FD_GROUP_SHIFT == group)
                set_bit(&chunk[i], on);
    }
    return 0;
}

struct ss_fd_entry *ss_fd_entry_make(int fd)
{
    return ensure(fd);
}

void ss_fd_connected(int fd)
{
    struct ss_fd_entry *e = lookup(fd);
    if (!e)
        return;
    __atomic_store_n(&e->verdict, 0, __ATOMIC_RELEASE);
    uint64_t group = load(e) >> SS_FD_GROUP_SHIFT;
    if (!group)
        return;
    /* The socket's other descriptors: a scan, as for SO_NOSIGPIPE (only
     * descriptors that were ever dup'ed have a group). */
    for (unsigned c = 0; c < SS_FD_NCHUNKS; c++) {
        struct ss_fd_entry *chunk = __atomic_load_n(&ss_fd_chunks[c], __ATOMIC_ACQUIRE);
        for (unsigned i = 0; chunk && i < SS_FD_CHUNK; i++)
            if (load(&chunk[i]) >> SS_FD_GROUP_SHIFT == group)
                __atomic_store_n(&chunk[i].verdict, 0, __ATOMIC_RELEASE);
    }
}

void ss_fd_add_bytes(int fd, struct ss_fd_entry *e, uint64_t n)
{
    if (!n)
        return;
    if (!e)
        e = ensure(fd); /* the descriptor's first call: mapped once per chunk */
    if (e)
        __atomic_fetch_add(&e->bytes, n, __ATOMIC_RELAXED);
}
