/* pipeline.h - the one path every configured send-family call takes. */
#ifndef SENDSHIM_PIPELINE_H
#define SENDSHIM_PIPELINE_H

#include <sys/types.h>

#include "request.h"

/* For the few variables every intercepted call reads: in .data, beside the
 * real-function table (real.c), instead of .bss, which lies pages away. A
 * call then touches one data page of the library's, not two or three: each
 * is a TLB entry, and a system call's return may have evicted it (a miss is
 * costly under virtualization's nested page tables). */
#define SS_HOT __attribute__((section(".data")))

/* Nonzero when anything needs the pipeline; zero means every wrapper passes
 * straight through to libc (the cost of the library is this one load). One
 * bit per reason, so a reason is never lost to another: a setting made before
 * our constructor ran (from another library's constructor) survives it. */
extern int ss_active;

enum ss_active_reason {
    SS_ACTIVE_ENV = 1 << 0,       /* some SENDSHIM_* variable is set (constructor) */
    SS_ACTIVE_NOSIGPIPE = 1 << 1, /* SO_NOSIGPIPE was set on some socket */
    SS_ACTIVE_RULES = 1 << 2,     /* sendshim_set_faults installed rules */
    SS_ACTIVE_CONTROL = 1 << 3,   /* attached to a control file (SENDSHIM_CONTROL): control.c */
};

/* The only way to write ss_active: OR a reason in. Bits are never cleared
 * (other state may still need the pipeline). */
static inline void ss_activate(enum ss_active_reason why)
{
    __atomic_fetch_or(&ss_active, (int)why, __ATOMIC_RELEASE);
}

/* Read it the way every reader must: it is written at run time too (by
 * sendshim_set_faults and SO_NOSIGPIPE) while other threads send. A relaxed
 * atomic load is the same single instruction as a plain one. */
#define SS_ACTIVE() __atomic_load_n(&ss_active, __ATOMIC_RELAXED)

/* Flag bits that need the pipeline even when nothing is configured:
 * MSG_EOF (0x200, = MSG_FIN) and MSG_CONFIRM have portable meanings we give
 * them (SPEC section 5). */
#define SS_FLAGS_NEED_PIPELINE (0x200 | MSG_CONFIRM)

/* Hand a request to the real function of its kind, as the last stage does
 * (for the fault actions that send by themselves: netfaults.c). */
ssize_t ss_forward(const struct ss_request *rq);

/* Run the request: returns what the call returns, errno set as the call would. */
ssize_t ss_process(struct ss_request *rq);

#endif
