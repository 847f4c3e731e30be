/* fault_internal.h - what the four modules of the fault stage give each other
 * (nothing outside shim/faults/ includes it): fault_store.c holds the rule
 * sets in force, fault_facts.c the facts about a call, fault_actions.c the
 * stage and its actions, fault_log.c the fault's log line. */
#ifndef SENDSHIM_FAULT_INTERNAL_H
#define SENDSHIM_FAULT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "faults.h"
#include "fdtable.h"
#include "request.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

#define SS_NS_PER_S 1000000000ull

/* fault_facts.c: the socket's type and family from the descriptor table
 * (left as they are when fd is not a socket). */
void ss_faults_sock_facts(struct ss_fd_ref *fd, int fdnum, int *type, int *family);

/* fault_facts.c: the connected peer of fd, asked of the kernel
 * (getpeername) into *peer, or NULL (*len 0) when it has none. errno
 * preserved. For rare paths only: the send path caches it (path.h). */
const struct sockaddr *ss_faults_connected_peer(int fd, struct sockaddr_storage *peer, socklen_t *len);

/* fault_facts.c: the bytes of n iovecs (0 for a NULL array). */
uint64_t ss_faults_iov_sum(const struct iovec *iov, size_t n);

/* fault_facts.c: sendmmsg's vlen as the kernel caps it (SS_MMSG_VLEN_CAP). */
unsigned ss_faults_capped_vlen(const struct ss_request *rq);

/* fault_log.c: the "fault rule N (TEXT): ..." line of a fault that fired,
 * with the call's result (ret, and err when ret < 0). */
void ss_faults_log_fault(const struct ss_request *rq, const struct ss_fault *f, ssize_t ret, int err);

#pragma GCC visibility pop

#endif
