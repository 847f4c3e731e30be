/* netfaults.h - the network-realistic fault actions of SPEC section 8
 * (reset, rate=, stall=, dup, corrupt=) and the slow close, applied at the
 * kernel: bytes really sent or not, a RST really on the wire. The fault
 * stage (fault_actions.c) decides; these act. */
#ifndef SENDSHIM_NETFAULTS_H
#define SENDSHIM_NETFAULTS_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "faults.h"
#include "fdtable.h"
#include "request.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

#define SS_RATE_BURST_NS 100000000ull /* rate=: the bucket holds 100 ms of R */

/* Apply the network action of f->d (one of reset, rate=, stall=, dup,
 * corrupt=, with reset beside stall= and corrupt= beside rate=) to the
 * request, sending by itself; returns what the call returns, errno set.
 * type is the socket's (SOCK_STREAM, ...). Never writes the program's
 * buffers. f->wake is set when the result is an EAGAIN the library made. */
ssize_t ss_net_apply(struct ss_request *rq, struct ss_fault *f, int type);

/* The stall state of fd (SS_STALL_ON, SS_STALL_ENDED or 0; faults.h). No
 * system call but the clock's (vDSO). */
int ss_net_stall_state(int fd);

/* fd is being closed: its rate bucket and stall are forgotten. */
void ss_net_forget(int fd);

/* The writability edge the kernel gives when a full send buffer drains,
 * for an EAGAIN the library made (TCP): now, by sk->sk_write_space, when
 * the socket is writable; else by the kernel when the buffer drains (a
 * poll sets SOCK_NOSPACE). st is fd's state word as the call knows it
 * (fdtable.h; probed here when it is not known). errno preserved. */
void ss_net_wake_full(int fd, uint64_t st);
/* Whether a descriptor of state st may need the edge: not when it is known
 * not to be a TCP socket. */
static inline int ss_net_may_wake(uint64_t st)
{
    return !(st & SS_FD_KNOWN) ||
           (ss_fd_type(st) == SOCK_STREAM && (ss_fd_family(st) == AF_INET || ss_fd_family(st) == AF_INET6));
}
static inline void ss_net_wake(int fd, uint64_t st)
{
    if (ss_net_may_wake(st))
        ss_net_wake_full(fd, st);
}

/* Whether the call may not block: MSG_DONTWAIT, or O_NONBLOCK on fd (one
 * fcntl, made on the fault path only). */
int ss_net_nonblocking(const struct ss_request *rq);

/* Reset the TCP connection of fd: a RST to the peer, the descriptor stays
 * open (the socket is left closed, as after a received RST). errno kept. */
void ss_net_tcp_reset(int fd);

#pragma GCC visibility pop

#endif
