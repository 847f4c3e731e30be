/* sigdisp.c - following SIGPIPE's disposition (sigdisp.h). */
#include "sigdisp.h"

#include <stddef.h>

#include "real.h"

uint64_t ss_sigpipe_disp; /* 0: not known to be ignored */

SS_UNSANITIZED uint64_t ss_sigpipe_change_begin(void)
{
    uint64_t old = __atomic_load_n(&ss_sigpipe_disp, __ATOMIC_RELAXED), now;
    do
        now = ((old & ~SS_DISP_IGNORED) + SS_DISP_CHANGE) + SS_DISP_GEN;
    while (!__atomic_compare_exchange_n(&ss_sigpipe_disp, &old, now, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    return now;
}

SS_UNSANITIZED void ss_sigpipe_change_end(uint64_t begun, int ignored)
{
    /* Ours is the truth only when no other change ran beside it: none was in
     * progress when it began (it is the only one counted) and none began
     * since (the generation is still its own). Any other overlap leaves
     * "not ignored". */
    int alone_at_start = (begun & SS_DISP_CHANGE_MASK) == SS_DISP_CHANGE;
    uint64_t old = __atomic_load_n(&ss_sigpipe_disp, __ATOMIC_RELAXED), now;
    do {
        int alone = alone_at_start && (old >> SS_DISP_GEN_SHIFT) == (begun >> SS_DISP_GEN_SHIFT);
        now = (old - SS_DISP_CHANGE) & ~SS_DISP_IGNORED;
        if (ignored && alone)
            now |= SS_DISP_IGNORED;
    } while (
        !__atomic_compare_exchange_n(&ss_sigpipe_disp, &old, now, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
}

void ss_sigpipe_disp_init(void)
{
    struct sigaction now;
    uint64_t begun = ss_sigpipe_change_begin();
    int r = SS_REAL(sigaction)(SIGPIPE, NULL, &now);
    ss_sigpipe_change_end(begun, r == 0 && now.sa_handler == SIG_IGN);
}

SS_UNSANITIZED ss_handler_t ss_signal_tracked(int sig, ss_handler_t handler, ss_signal_fn real)
{
    int sigpipe = sig == SIGPIPE;
    uint64_t begun = sigpipe ? ss_sigpipe_change_begin() : 0;
    ss_handler_t old = real(sig, handler);
    if (sigpipe)
        ss_sigpipe_change_end(begun, old != SIG_ERR && handler == SIG_IGN);
    return old;
}

/* The new disposition is act's handler whatever sa_flags say: with
 * SA_SIGINFO, sa_sigaction shares its storage, and the kernel tests that one
 * value against SIG_IGN (kernel/signal.c, sig_handler_ignored). */
SS_UNSANITIZED int ss_sigaction_tracked(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig != SIGPIPE || !act)
        return SS_REAL(sigaction)(sig, act, old);
    uint64_t begun = ss_sigpipe_change_begin();
    int r = SS_REAL(sigaction)(sig, act, old);
    ss_sigpipe_change_end(begun, r == 0 && act->sa_handler == SIG_IGN);
    return r;
}
