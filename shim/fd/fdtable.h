/* fdtable.h - what the library knows about each descriptor (SPEC 6).
 *
 * One descriptor-indexed table, O(1) and lock-free: a static array of chunk
 * pointers, each chunk SS_FD_CHUNK entries mmap'ed on first use (never
 * malloc, never sized by RLIMIT_NOFILE), so memory grows with the highest
 * descriptor used. An entry is one 64-bit state word, read and updated with
 * atomics (a reader always sees a consistent word), a byte counter and the
 * socket's identity.
 * Async-signal-safe and fork-safe: no locks; fork copies the memory.
 *
 * The kernel is asked what a descriptor is (getsockopt SO_COOKIE, SO_DOMAIN
 * and SO_TYPE; ENOTSOCK means not a socket) at most once per descriptor, and
 * only when a feature needs it (ss_fd_probe). close, close_range, closefrom,
 * dup, dup2, dup3, fcntl(F_DUPFD*), socket, socketpair, accept, accept4 and
 * the descriptors recvmsg receives in SCM_RIGHTS keep the table true.
 * A descriptor closed or made behind libc's back (raw syscall, libc-internal
 * closes such as fclose's) can still leave a stale entry, so the entry keeps
 * the socket's identity too: its SO_COOKIE (Linux 4.12+; a 64-bit number the
 * kernel never reuses), taken when the library learns what the descriptor
 * is. Before anything that could lose data or change a signal acts on an
 * entry's belief (a fault rule that fired, MSG_EOF's shutdown, SO_NOSIGPIPE
 * read or set, an EPIPE that SO_NOSIGPIPE or the SIGPIPE policy would
 * silence), ss_fd_confirm asks the kernel once; a descriptor that is another
 * open file now starts over (no SO_NOSIGPIPE, no bytes, its own kind). Other
 * stale beliefs cost at most a retry (send -> ENOTSOCK -> write), except
 * when a socket is also made behind libc's back at a number closed behind
 * its back (README, Limits: the send family keeps the old SO_NOSIGPIPE, and
 * a number known as a pipe or file keeps its SIGPIPE). The plain path never
 * asks.
 *
 * SO_NOSIGPIPE belongs to the socket, not the descriptor: descriptors made by
 * dup/dup2/dup3/F_DUPFD share a "group" number (process-local, copied by
 * those calls), and setting the option on one descriptor sets it on every
 * descriptor of its group.
 */
#ifndef SENDSHIM_FDTABLE_H
#define SENDSHIM_FDTABLE_H

#include <stdint.h>

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

#define SS_FD_CHUNK_SHIFT 10 /* 1024 entries (32 KiB) per chunk */
#define SS_FD_CHUNK       (1 << SS_FD_CHUNK_SHIFT)
#define SS_FD_LIMIT       (1 << 24) /* descriptors tracked; above: probed every time, no SO_NOSIGPIPE */
#define SS_FD_NCHUNKS     (SS_FD_LIMIT / SS_FD_CHUNK)

/* The state word. FAMILY and TYPE are 0 unless KNOWN and SOCKET are set
 * (the descriptor step indexes the plan's tables with them as they are:
 * path.h). */
#define SS_FD_KNOWN        (1ull << 0) /* probed: SOCKET, FAMILY and TYPE are true */
#define SS_FD_SOCKET       (1ull << 1)
#define SS_FD_NOSIGPIPE    (1ull << 2) /* emulated SO_NOSIGPIPE (only ever on sockets) */
#define SS_FD_FAMILY_SHIFT 8
#define SS_FD_FAMILY_MASK  0xffull /* AF_* (AF_MAX is 46 today) */
#define SS_FD_TYPE_SHIFT   16
#define SS_FD_TYPE_MASK    0xfull /* SOCK_* without SOCK_NONBLOCK/SOCK_CLOEXEC */
#define SS_FD_GROUP_SHIFT  32     /* dup group, 0 = none */
/* The parts that describe the socket itself (what a dup shares). */
#define SS_FD_KIND_BITS                                                                                      \
    (SS_FD_KNOWN | SS_FD_SOCKET | (SS_FD_FAMILY_MASK << SS_FD_FAMILY_SHIFT) |                                \
     (SS_FD_TYPE_MASK << SS_FD_TYPE_SHIFT))

static inline int ss_fd_is_socket(uint64_t st)
{
    return (st & (SS_FD_KNOWN | SS_FD_SOCKET)) == (SS_FD_KNOWN | SS_FD_SOCKET);
}
static inline int ss_fd_family(uint64_t st)
{
    return ss_fd_is_socket(st) ? (int)((st >> SS_FD_FAMILY_SHIFT) & SS_FD_FAMILY_MASK) : 0;
}
static inline int ss_fd_type(uint64_t st)
{
    return ss_fd_is_socket(st) ? (int)((st >> SS_FD_TYPE_SHIFT) & SS_FD_TYPE_MASK) : 0;
}

/* One descriptor's entry: the state word, the bytes it sent successfully
 * (for fault rules' after=BYTES), and the identity of the socket both belong
 * to: its SO_COOKIE, 0 while not taken (never asked, not a socket, or a
 * kernel before 4.12). */
struct ss_fd_entry {
    uint64_t state;
    uint64_t bytes;
    uint64_t cookie;
    /* The rules' verdict on this descriptor (path.h): the id of the plan it
     * was made under (high 32 bits; 0: none yet) and which of that plan's
     * first 32 groups accept it by type=, family=, fd=, and peer= and port=
     * for its connected peer (low 32 bits). Reset whenever its kind or peer
     * may have changed (connect, accept, dup, close, a new open file at the
     * number: start_over). A verdict made while the kind was not known is
     * one whose plan no type= or family= decides (ss_path_verdict). */
    uint64_t verdict;
};

/* The directory of chunks; NULL until a descriptor in the chunk is recorded. */
extern struct ss_fd_entry *ss_fd_chunks[SS_FD_NCHUNKS];

/* fd's entry, or NULL when nothing was ever recorded in its chunk (or fd is
 * out of range). No system call; inline, because the send path looks a
 * descriptor up once per call and hands the entry to every stage. */
static inline struct ss_fd_entry *ss_fd_lookup(int fd)
{
    if ((unsigned)fd >= SS_FD_LIMIT)
        return 0;
    struct ss_fd_entry *c =
        __atomic_load_n(&ss_fd_chunks[(unsigned)fd >> SS_FD_CHUNK_SHIFT], __ATOMIC_ACQUIRE);
    return c ? &c[(unsigned)fd & (SS_FD_CHUNK - 1)] : 0;
}

static inline uint64_t ss_fd_load(const struct ss_fd_entry *e)
{
    return e ? __atomic_load_n(&e->state, __ATOMIC_ACQUIRE) : 0;
}

/* A send-path call's descriptor: its entry, looked up once when the call
 * begins, and the state word read then. The stages share it. */
struct ss_fd_ref {
    struct ss_fd_entry *e; /* NULL: nothing recorded in fd's chunk yet */
    uint64_t st;
};

static inline void ss_fd_ref_init(struct ss_fd_ref *r, int fd)
{
    r->e = ss_fd_lookup(fd);
    r->st = ss_fd_load(r->e);
}

/* The state word as known now (0: nothing known). No system call. */
uint64_t ss_fd_state(int fd);

/* The state word, asking the kernel first if the descriptor was never
 * probed. A descriptor that is not open (EBADF) is not cached. errno is
 * preserved. An entry that held only a byte count (a descriptor the library
 * did not see made, never asked about) takes the identity found now and
 * keeps its count. */
uint64_t ss_fd_probe(int fd);

/* Re-identify fd before acting on what r says about it: one getsockopt
 * (SO_COOKIE) when r's entry is a known socket or non-socket, the probe when
 * it is unknown. Returns 1 when the entry still describes the descriptor,
 * 0 when fd is another open file now (or none): its entry then starts over
 * (the new kind, no SO_NOSIGPIPE, no dup group, bytes 0). r->e and r->st are
 * updated either way. errno preserved. A rare-path call only. */
int ss_fd_confirm(int fd, struct ss_fd_ref *r);

/* r->st with the descriptor's kind known: probes only on a descriptor's
 * first call (which may also make its entry). */
static inline uint64_t ss_fd_ref_probe(struct ss_fd_ref *r, int fd)
{
    if (!(r->st & SS_FD_KNOWN)) {
        r->st = ss_fd_probe(fd);
        r->e = ss_fd_lookup(fd);
    }
    return r->st;
}

/* A socket was just created at fd (socket, socketpair): record it, with its
 * identity (one getsockopt). */
void ss_fd_socket_created(int fd, int family, int type);

/* fd arrived in SCM_RIGHTS (recvmsg): a new open file at that
 * number; forget what was known there. No system call. */
void ss_fd_received(int fd);
/* The same for every descriptor in the SCM_RIGHTS messages of msg's control
 * data, as the kernel returned it. */
struct msghdr;
void ss_fd_received_msg(const struct msghdr *msg);

/* Descriptors first..last (inclusive) were closed (close_range, closefrom):
 * forget them. Touches only chunks that are mapped. */
void ss_fd_closed_range(unsigned first, unsigned last);

/* close(fd) is about to happen: returns the word to hand to ss_fd_closed. */
static inline uint64_t ss_fd_closing(int fd)
{
    return ss_fd_state(fd);
}
/* close(fd) happened: forget the descriptor, unless another thread already
 * recorded a new descriptor at that number (its word differs from `seen`). */
void ss_fd_closed(int fd, uint64_t seen);

/* newfd is now a duplicate of oldfd (dup, dup2, dup3, F_DUPFD*): it shares
 * the socket's kind, SO_NOSIGPIPE and group. */
void ss_fd_duplicated(int oldfd, int newfd);

/* fd was accepted on listener: a new socket, with SO_NOSIGPIPE inherited
 * (then its identity is taken now: two or three getsockopt). */
void ss_fd_accepted(int listener, int fd);

/* A send on fd said ENOTSOCK: the entry was stale; forget it. */
void ss_fd_not_socket(int fd);

/* Emulated SO_NOSIGPIPE: set or clear on fd and on every descriptor of its
 * group. Returns 0, or ENOMEM when fd cannot be tracked. errno preserved. */
int ss_fd_set_nosigpipe(int fd, int on);

/* fd was connected (or disconnected, AF_UNSPEC): its peer, and that of
 * every descriptor of its dup group, may have changed; their verdicts are
 * made again on their next call. No system call. */
void ss_fd_connected(int fd);

/* fd's entry, made if needed (its chunk mapped: the first time only); NULL
 * when fd is out of range or memory is short. errno preserved. */
struct ss_fd_entry *ss_fd_entry_make(int fd);

/* Bytes fd has sent successfully (for fault rules' after=BYTES). e is fd's
 * entry as looked up before the call, or NULL (then it is made). */
void ss_fd_add_bytes(int fd, struct ss_fd_entry *e, uint64_t n);

#pragma GCC visibility pop

#endif
