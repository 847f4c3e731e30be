/* stats.h - counters for SENDSHIM_STATS and the per-call trace line. */
#ifndef SENDSHIM_STATS_H
#define SENDSHIM_STATS_H

#include <stdint.h>
#include <sys/types.h>

#include "calls.h"
#include "fmt.h"
#include "request.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

struct ss_call_stats {
    uint64_t calls;
    uint64_t failed;
    uint64_t bytes; /* bytes the calls reported sent */
};

struct ss_stats {
    struct ss_call_stats call[SS_NCALLS_SEEN];
    uint64_t flags_rewritten; /* calls whose flags word we changed */
    uint64_t normalized;      /* messages the normalizer repaired */
    uint64_t faults;          /* injected faults */
};

/* Where the counters live: the process's own, or its slot in the control
 * file while attached to one (control.c), where `sendshim ctl stats` reads
 * them live. Every counter is reached through ss_stats_home, so nothing
 * counts in two places. */
extern struct ss_stats ss_stats_own;
extern struct ss_stats *ss_stats_home;

/* Whether trace or stats must see a write, writev, sendfile or splice on
 * fd: they are on and fd is a socket (SPEC 9: every call the library
 * interposes on a socket). Probes fd once per descriptor, only then. */
int ss_calls_seen_on(int fd);

/* Count one finished call of this kind: its result, the bytes it sent, and
 * whether its flags were changed. Relaxed atomic adds, lock-free; inline,
 * as every call of a counting process makes it. */
static inline void ss_stats_add(enum ss_call call, ssize_t ret, uint64_t sent, int rewritten)
{
    struct ss_stats *home = ss_stats_home;
    struct ss_call_stats *s = &home->call[call];
    __atomic_fetch_add(&s->calls, 1, __ATOMIC_RELAXED);
    if (ret < 0)
        __atomic_fetch_add(&s->failed, 1, __ATOMIC_RELAXED);
    else if (sent)
        __atomic_fetch_add(&s->bytes, sent, __ATOMIC_RELAXED);
    if (rewritten)
        __atomic_fetch_add(&home->flags_rewritten, 1, __ATOMIC_RELAXED);
}
/* The same for a request of the stages. */
void ss_stats_count(const struct ss_request *rq, ssize_t ret);

/* Write the summary lines (at exit). */
void ss_stats_report(void);

/* "MSG_DONTWAIT|MSG_NOSIGNAL", "0", unknown bits in hex. */
void ss_buf_flags(struct ss_buf *b, int flags);

/* The SENDSHIM_TRACE line of one call. `err` is errno when ret < 0. */
void ss_trace_call(const struct ss_request *rq, ssize_t ret, int err);

#pragma GCC visibility pop

#endif
