/* sigdisp.h - whether the program ignores SIGPIPE, known without a system
 * call (SPEC 6: a sendfile or splice into a socket needs no SIGPIPE guard
 * then). The constructor reads the disposition once (SIG_IGN survives exec);
 * every libc call that sets it passes through us afterwards: signal,
 * ssignal, bsd_signal, sysv_signal, __sysv_signal, sigset, sigaction and
 * __sigaction (one file each in interpose/). A raw rt_sigaction system call
 * does not (README, Limits).
 *
 * Wrong in one direction only: "ignored" is believed only when it is sure.
 * Changes of the disposition by two threads (or a thread and a signal
 * handler) at once cannot be ordered from outside the kernel, so after an
 * overlap the state says "not ignored" (the full guard) until the next change
 * made alone; before the constructor it says "not ignored" too. */
#ifndef SENDSHIM_SIGDISP_H
#define SENDSHIM_SIGDISP_H

#include <signal.h>
#include <stdint.h>

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* The state word: IGNORED, the changes in progress, and a generation that
 * every change starts by advancing. */
#define SS_DISP_IGNORED      1ull
#define SS_DISP_CHANGE_SHIFT 1
#define SS_DISP_CHANGE       (1ull << SS_DISP_CHANGE_SHIFT)
#define SS_DISP_CHANGE_MASK  (0xfffffull << SS_DISP_CHANGE_SHIFT) /* up to 2^20 - 1 at once */
#define SS_DISP_GEN_SHIFT    21
#define SS_DISP_GEN          (1ull << SS_DISP_GEN_SHIFT)

extern uint64_t ss_sigpipe_disp;

/* 1 when SIGPIPE's disposition is SIG_IGN for sure; 0 when it is not or may
 * not be. One load. */
static inline int ss_sigpipe_ignored(void)
{
    return (__atomic_load_n(&ss_sigpipe_disp, __ATOMIC_ACQUIRE) & SS_DISP_IGNORED) != 0;
}

/* Around a call that sets SIGPIPE's disposition: begin before it (the state
 * says "not ignored" from then on), end after it with whether SIGPIPE is now
 * ignored (the call succeeded and set SIG_IGN). Lock-free, async-signal-safe,
 * errno untouched. Like every function here, uninstrumented (real.h,
 * SS_UNSANITIZED). */
uint64_t ss_sigpipe_change_begin(void);
void ss_sigpipe_change_end(uint64_t begun, int ignored);

/* The constructor: read the disposition (one sigaction). */
void ss_sigpipe_disp_init(void);

/* signal() and the calls like it (bsd_signal, sysv_signal, sigset): set
 * sig's disposition to handler with real, following SIGPIPE's. */
typedef void (*ss_handler_t)(int);
typedef ss_handler_t (*ss_signal_fn)(int, ss_handler_t);
ss_handler_t ss_signal_tracked(int sig, ss_handler_t handler, ss_signal_fn real);

/* sigaction(), as libc's real one (act NULL: a read), following SIGPIPE's
 * disposition. */
int ss_sigaction_tracked(int sig, const struct sigaction *act, struct sigaction *old);

#pragma GCC visibility pop

#endif
