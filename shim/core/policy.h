/* policy.h - the configuration compiled for the send path (SPEC 4).
 *
 * Everything that configures the library (the environment, SO_NOSIGPIPE
 * set on some socket, a rule set from the environment, sendshim_set_faults
 * or the control file, an attached control file) is an input of one
 * compiler, ss_policy_refresh. Its output is what the send path reads first:
 * one 64-bit front word per send-family call, the early exit of the one path
 * (path.h). Nothing else decides whether a call may leave early, so a
 * configuration cannot take a second route. The descriptor step and the
 * stages read the rest of the configuration (the rules' plan, ss_cfg) in
 * their own place, once.
 *
 * ss_active (for the other interposed calls: write, writev, sendfile,
 * splice, socket) has one owner too: ss_activate, here. */
#ifndef SENDSHIM_POLICY_H
#define SENDSHIM_POLICY_H

#include <stdint.h>
#include <sys/socket.h>

#include "calls.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* For the few variables every intercepted call reads: in .data, beside the
 * real-function table (real.c), instead of .bss, which lies pages away. A
 * call then touches one data page of the library's, not two or three: each
 * is a TLB entry, and a system call's return may have evicted it (a miss is
 * costly under virtualization's nested page tables). */
#define SS_HOT __attribute__((section(".data")))

/* The front word of a call kind. Low 32 bits: the flag bits that need the
 * stages (bits the flag translation changes, MSG_EOF, MSG_CONFIRM). Bit 63,
 * SS_FRONT_STEP: every call of the kind needs the descriptor step (rules
 * name it, SO_NOSIGPIPE is in use, statistics, trace, live control, or a
 * sendmmsg batch to check). Bits 32-55: the flag bits every call of the
 * kind gets (MSG_NOSIGNAL under SENDSHIM_NOSIGPIPE=1). Bits 56-59: the
 * descriptor step's options (path.h: SS_OPT_*), set only with SS_FRONT_STEP
 * (each of them sends every call on), so the step reads them from the word
 * it already has. With SS_FRONT_STEP clear, `front >> 32` is exactly the
 * added flags.
 *
 * The early exit is one 64-bit test: the program's flags, zero-extended,
 * with bit 63 set, AND the word. */
#define SS_FRONT_STEP      (1ull << 63)
#define SS_FRONT_OPT_SHIFT 56
#define SS_FRONT_ADD_MASK  0xffffffu
#define SS_FRONT_CALLS     4 /* send, sendto, sendmsg, sendmmsg (SS_CALL_* 0..3) */
_Static_assert(SS_CALL_SEND == 0 && SS_CALL_SENDMMSG == SS_FRONT_CALLS - 1, "the front words' calls");

extern uint64_t ss_front[SS_FRONT_CALLS];

static inline uint64_t ss_front_load(enum ss_call call)
{
    return __atomic_load_n(&ss_front[call], __ATOMIC_RELAXED);
}
/* Whether a call of the front word's kind with these flags leaves early:
 * straight to libc with ss_front_flags. */
static inline int ss_front_exits(uint64_t front, int flags)
{
    return !(((uint64_t)(unsigned)flags | SS_FRONT_STEP) & front);
}
static inline int ss_front_flags(uint64_t front, int flags)
{
    return flags | (int)(front >> 32); /* SS_FRONT_STEP is clear here */
}

/* Nonzero when anything is configured: the other wrappers (write, writev,
 * sendfile, splice, socket) pass straight through to libc when it is zero.
 * One bit per reason, so a reason is never lost to another: a setting made
 * before our constructor ran (from another library's constructor) survives
 * it. */
extern int ss_active;

enum ss_active_reason {
    SS_ACTIVE_ENV = 1 << 0,       /* some SENDSHIM_* variable is set (constructor) */
    SS_ACTIVE_NOSIGPIPE = 1 << 1, /* SO_NOSIGPIPE was set on some socket */
    SS_ACTIVE_RULES = 1 << 2,     /* a rule set was installed at run time */
    SS_ACTIVE_CONTROL = 1 << 3,   /* attached to a control file (SENDSHIM_CONTROL): control.c */
};

#define SS_ACTIVE() __atomic_load_n(&ss_active, __ATOMIC_RELAXED)

/* OR a reason in (bits are never cleared) and compile the front words
 * again. Async-signal-safe, lock-free. */
void ss_activate(enum ss_active_reason why);

/* Compile the front words from every input as it is now: called by
 * ss_activate, by the constructor once the environment is parsed, and
 * whenever the rules in force change. Lock-free: a compilation that raced
 * with a newer input's is redone, so the last word stored is the newest
 * inputs'. */
void ss_policy_refresh(void);

/* The flag bits that translation under the configured style and unknown-bit
 * mode leaves unchanged and that have no per-socket meaning (MSG_EOF,
 * MSG_CONFIRM): a flags word of only these needs no flags stage. Pure. */
struct ss_config;
int ss_policy_same_flags(const struct ss_config *cfg);

#pragma GCC visibility pop

#endif
