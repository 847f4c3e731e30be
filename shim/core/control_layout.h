/* control_layout.h - the control file of live control (SPEC 14): its layout,
 * shared by the library (control.c) and the ctl helper (scripts/sendshim-ctl.c).
 *
 * One regular file of fixed size (struct ss_ctl_file), made by
 * `sendshim ctl PATH init` or the launcher's --control, mapped MAP_SHARED by
 * the helper and by every attached process. It holds:
 *  - the rule text, published seqlock-style: `gen` is odd while the helper
 *    writes the text, and advances by 2 per set/clear (0: never set). A
 *    process compares `gen` with the generation it applied last (one load and
 *    one compare per call); on a change it copies the text out, checks that
 *    `gen` did not move meanwhile, and validates the copy with its own parser;
 *  - a table of process slots, one per attached process, claimed by a CAS on
 *    `pid`, holding that process's counters. Counters are written by the
 *    process with relaxed atomics where it counts anyway, so a reader sees
 *    them live. Slots are never reused: a process that ended keeps its final
 *    counters until the file is removed.
 * Nothing in the file is trusted by the library after it attached: any bytes
 * there can at worst make it refuse a rule set or count wrongly.
 *
 * Writers of the header are serialized by flock(LOCK_EX) on the file (the
 * helper only; the library never locks). */
#ifndef SENDSHIM_CONTROL_LAYOUT_H
#define SENDSHIM_CONTROL_LAYOUT_H

#include <stdint.h>

#include "calls.h"
#include "faults.h" /* struct ss_rule_state */
#include "rules.h"  /* SS_MAX_RULES */
#include "stats.h"  /* struct ss_stats */

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

#define SS_CTL_MAGIC     "sendshim-control"
#define SS_CTL_MAGIC_LEN 16
/* Bumped whenever anything below changes shape; a library and a helper of
 * different layouts refuse each other's files. */
#define SS_CTL_LAYOUT   1u
#define SS_CTL_TEXT_MAX 65536u /* rule text, as large as a faults file */
#define SS_CTL_PROCS    256u   /* process slots; beyond, a process runs without live control */
#define SS_CTL_COMM     16u    /* a command name, as the kernel's TASK_COMM_LEN */
/* Rule counters of a process, one bank per rule-set slot of the library
 * (fault_store.c's SS_FAULT_SLOTS): a bank is reused only once the set that
 * counted in it is freed, so an old set still being read never counts into
 * a new one. */
#define SS_CTL_BANKS 4u

/* A slot whose process ended without making a call is reused: it goes
 * GONE -> CLAIMING (a CAS: one claimer wins) -> ALIVE under the new pid. */
enum ss_ctl_proc_state { SS_CTL_FREE, SS_CTL_ALIVE, SS_CTL_GONE, SS_CTL_CLAIMING };

/* The rule counters of one rule set a process installed from the file. */
struct ss_ctl_bank {
    uint64_t gen;                     /* the file generation the set came from */
    uint32_t n;                       /* rules in the set */
    uint8_t matched_at[SS_MAX_RULES]; /* rule i's `when` counter is st[matched_at[i]].count
                                         (rules of one group share one: faults.h) */
    struct ss_rule_state st[SS_MAX_RULES];
};

struct ss_ctl_proc {
    int32_t pid;    /* 0: free; claimed with a CAS */
    uint32_t state; /* enum ss_ctl_proc_state */
    char comm[SS_CTL_COMM];
    /* The rules in force in the process: the bank holding their counters
     * and the file generation they came from, published in that order (gen
     * last, release). gen 0: not the file's rules (none yet, its own
     * sendshim_set_faults, or a set refused). */
    uint32_t bank;
    uint32_t pad;
    uint64_t gen;
    struct ss_stats stats; /* per call, and what SENDSHIM_STATS reports */
    struct ss_ctl_bank banks[SS_CTL_BANKS];
};

struct ss_ctl_file {
    char magic[SS_CTL_MAGIC_LEN];
    uint32_t layout;    /* SS_CTL_LAYOUT */
    uint32_t procs;     /* SS_CTL_PROCS */
    uint32_t max_rules; /* SS_MAX_RULES */
    uint32_t ncalls;    /* SS_NCALLS_SEEN */
    uint64_t size;      /* sizeof(struct ss_ctl_file) */
    uint64_t gen;       /* the seqlock: odd while the text is written */
    uint32_t len;       /* bytes of text in use (no NUL inside) */
    uint32_t pad;
    char text[SS_CTL_TEXT_MAX];
    struct ss_ctl_proc proc[SS_CTL_PROCS];
};

/* Whether a mapped file's header is one of this layout. */
static inline int ss_ctl_header_ok(const struct ss_ctl_file *f)
{
    for (unsigned i = 0; i < SS_CTL_MAGIC_LEN; i++)
        if (f->magic[i] != SS_CTL_MAGIC[i])
            return 0;
    return f->layout == SS_CTL_LAYOUT && f->procs == SS_CTL_PROCS && f->max_rules == SS_MAX_RULES &&
           f->ncalls == SS_NCALLS_SEEN && f->size == sizeof(struct ss_ctl_file);
}

#pragma GCC visibility pop

#endif
