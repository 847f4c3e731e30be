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

#define SS_NS_PER_S 1000000000ull

/* fault_store.c: the plan in force for this call, with the slot to release
 * (SS_FAULT_NO_SLOT when none was taken), or NULL when no rule is in force
 * (then nothing is to be released). */
const struct ss_fault_plan *ss_faults_plan_in_force(unsigned *slot);

/* fault_store.c: release the slot ss_faults_plan_in_force took, if any. */
void ss_faults_leave(unsigned slot);

/* fault_facts.c: the socket's type and family from the descriptor table
 * (left as they are when fd is not a socket). */
void ss_faults_sock_facts(struct ss_fd_ref *fd, int fdnum, int *type, int *family);

/* fault_facts.c: where the call sends, into c->dest and c->destlen: its own
 * address, else the connected peer (getpeername into *peer). */
void ss_faults_dest_facts(const struct ss_request *rq, struct ss_fault_call *c,
                          struct sockaddr_storage *peer);

/* fault_facts.c: the bytes of n iovecs (0 for a NULL array). */
uint64_t ss_faults_iov_sum(const struct iovec *iov, size_t n);

/* fault_facts.c: sendmmsg's vlen as the kernel caps it (SS_MMSG_VLEN_CAP). */
unsigned ss_faults_capped_vlen(const struct ss_request *rq);

/* fault_log.c: the "fault rule N (TEXT): ..." line of a fault that fired,
 * with the call's result (ret, and err when ret < 0). */
void ss_faults_log_fault(const struct ss_request *rq, const struct ss_fault *f, ssize_t ret, int err);

#endif
