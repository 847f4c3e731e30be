/* sigpipe.h - the SIGPIPE policy for the non-send calls (SPEC 6): write and
 * writev on sockets go out as send/sendmsg with MSG_NOSIGNAL; sendfile and
 * splice to sockets run with SIGPIPE blocked and a SIGPIPE they raised
 * consumed. Pipes, files and terminals keep their SIGPIPE. */
#ifndef SENDSHIM_SIGPIPE_H
#define SENDSHIM_SIGPIPE_H

#include <signal.h>
#include <sys/types.h>

#include "calls.h"
#include "request.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* Whether no SIGPIPE may come from writing to fd: SENDSHIM_NOSIGPIPE=1 and fd
 * is a socket, or fd has SO_NOSIGPIPE. May probe fd (once per descriptor). */
int ss_sigpipe_suppressed(int fd);

/* Whether write/writev (call) on fd must take the pipeline: fd is a socket
 * and the SIGPIPE policy or a fault rule for that call applies. Call only
 * when ss_active. */
int ss_write_takes_pipeline(int fd, enum ss_call call);

/* Flags a write/writev on fd goes out with when sent as send/sendmsg:
 * MSG_NOSIGNAL (plus MSG_EOR on SOCK_SEQPACKET, which the kernel's
 * write path adds itself), or 0 when it stays a write. */
int ss_write_flags(int fd);

/* Forward a write/writev request (pipeline.c's forward). With MSG_NOSIGNAL
 * in rq->flags it becomes send/sendmsg; ENOTSOCK (stale state) is retried as
 * the plain call. */
ssize_t ss_forward_write(const struct ss_request *rq);

/* Around a sendfile/splice to a socket: SIGPIPE blocked in this thread; on
 * the way out a SIGPIPE the call may have raised (it failed with EPIPE, or
 * sent fewer than `asked` bytes) is consumed, unless one was already pending
 * before, then the mask is restored. Two system calls when nothing went
 * wrong: the block and the restore, or when the program blocks SIGPIPE
 * itself, the block and a sigpending. If fd turns out not to be a socket
 * after all (stale table entry), the SIGPIPE is raised again after the mask
 * is restored, as without the library. errno preserved. Not needed when the
 * program ignores SIGPIPE (sigdisp.h). */
struct ss_sigpipe_guard {
    sigset_t old;
    int was_blocked;    /* the program's mask had SIGPIPE: nothing to restore */
    int pending_before; /* one was pending already: not ours to consume */
};
void ss_sigpipe_block(struct ss_sigpipe_guard *g);
void ss_sigpipe_restore(struct ss_sigpipe_guard *g, int fd, ssize_t ret, size_t asked);

#pragma GCC visibility pop

#endif
