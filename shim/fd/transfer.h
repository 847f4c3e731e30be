/* transfer.h - sendfile and splice writing to a socket (SPEC 6, 9). They
 * never take the pipeline (no flags word to give meaning to, no fault rule
 * names them): the SIGPIPE policy guards the call, and trace and stats see
 * it. Writes to pipes, files and terminals pass straight through. */
#ifndef SENDSHIM_TRANSFER_H
#define SENDSHIM_TRANSFER_H

#include <sys/types.h>

#include "calls.h"
#include "request.h"
#include "sigpipe.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

#define SS_TRANSFER_GUARD 1u /* no SIGPIPE may reach the program: ss_sigpipe_block/restore */
#define SS_TRANSFER_SEEN  2u /* SENDSHIM_TRACE or SENDSHIM_STATS: a trace line, a count */

/* What a sendfile or splice writing to fd needs (0: straight to libc). Call
 * only when ss_active. Probes fd once per descriptor, when a need depends on
 * it being a socket. */
unsigned ss_transfer_needs(int fd);

struct ss_transfer {
    struct ss_request rq; /* what the trace line and the count describe */
    struct ss_sigpipe_guard guard;
    unsigned needs;
};

/* Before the real call (needs from ss_transfer_needs, not 0): the request
 * described, SIGPIPE blocked when guarded. flags: splice's, 0 for sendfile. */
void ss_transfer_begin(struct ss_transfer *t, unsigned needs, enum ss_call call, int fd, int in_fd,
                       size_t len, int flags);
/* After it, with its result: the guard's end, the trace line, the count.
 * Returns ret, errno as the real call left it. */
ssize_t ss_transfer_end(struct ss_transfer *t, ssize_t ret);

#pragma GCC visibility pop

#endif
