/* control.h - live control (SPEC 14), the library's side: attach to the
 * control file (control_layout.h), pick up rule sets published there, and
 * count in the process's slot of it. */
#ifndef SENDSHIM_CONTROL_H
#define SENDSHIM_CONTROL_H

#include <stdint.h>

#include "faults.h"
#include "pipeline.h" /* SS_HOT */

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

/* The control file's generation word while attached, else NULL; and the
 * generation this process applied (or refused) last. */
extern const uint64_t *ss_control_gen;
extern uint64_t ss_control_applied;

/* Constructor, once the log is open: attach to the control file at path
 * (SENDSHIM_CONTROL). A file that is not a regular file of ours, writable by
 * group or others, or not a control file of this layout is refused with one
 * log line, and the process runs without live control. Returns 1 when
 * attached. */
int ss_control_attach(const char *path);

/* In a forked child, before its rule sets restart (fault_store.c): claim
 * a slot of its own, counters from 0; with none free, run on without live
 * control (one log line). */
void ss_control_atfork_child(void);

/* Destructor: the process's slot is marked gone (its counters stay). */
void ss_control_exit(void);

/* The generation changed: apply the rules published with it (cold). */
void ss_control_update(void);

/* Every call that may be decided by the rules polls first: one load when not
 * attached, two loads and a compare when attached and nothing changed. No
 * system call. */
/* Whether the control file holds a rule set this process has not applied
 * (ss_control_poll applies it). Two loads when attached, one when not. */
static inline int ss_control_changed(void)
{
    const uint64_t *gen = __atomic_load_n(&ss_control_gen, __ATOMIC_RELAXED);
    return __builtin_expect(gen != NULL, 0) &&
           __atomic_load_n(gen, __ATOMIC_RELAXED) != __atomic_load_n(&ss_control_applied, __ATOMIC_RELAXED);
}

static inline void ss_control_poll(void)
{
    const uint64_t *gen = __atomic_load_n(&ss_control_gen, __ATOMIC_RELAXED);
    if (__builtin_expect(gen != NULL, 0) &&
        __atomic_load_n(gen, __ATOMIC_RELAXED) != __atomic_load_n(&ss_control_applied, __ATOMIC_RELAXED))
        ss_control_update();
}

/* For fault_store.c: the rule counters of rule-set slot `bank` in this
 * process's slot of the file, zeroed; NULL when not attached. */
struct ss_rule_state *ss_control_bank(unsigned bank);

/* For fault_store.c: the set planned as p, counting in `bank`, from file
 * generation gen, is now in force (gen 0, p NULL: rules not from the file
 * are). Does nothing when not attached. */
void ss_control_rules_counted(unsigned bank, uint64_t gen, const struct ss_fault_plan *p);

#pragma GCC visibility pop

#endif
