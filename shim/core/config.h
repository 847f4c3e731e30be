/* config.h - the library's configuration (SPEC section 3), read once at load. */
#ifndef SENDSHIM_CONFIG_H
#define SENDSHIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "normalize.h" /* enum ss_style */
#include "rules.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

enum ss_unknown_mode { SS_UNKNOWN_PASS, SS_UNKNOWN_STRIP, SS_UNKNOWN_REJECT };
enum ss_log_kind { SS_LOG_STDERR, SS_LOG_NONE, SS_LOG_FILE };

#define SS_ERR_MAX 512 /* one configuration error line */

struct ss_config {
    int nosigpipe;
    enum ss_style style;
    enum ss_unknown_mode unknown;
    int trace;
    int stats;
    int count; /* count calls: SENDSHIM_STATS, or live control attached */
    int seed_given;
    uint64_t seed;
    enum ss_log_kind log_kind;
    const char *log_path;    /* SS_LOG_FILE: points into the environment */
    const char *faults_file; /* SENDSHIM_FAULTS_FILE, or NULL */
    const char *control;     /* SENDSHIM_CONTROL, or NULL (control.c) */
    int any_set;             /* some SENDSHIM_* variable is set (non-empty) */
    struct ss_ruleset rules;
};

/* Looks up one variable; returns NULL when unset. */
typedef const char *(*ss_getenv_fn)(const char *name, void *ctx);

/* Parse every variable except SENDSHIM_FAULTS_FILE's contents (the caller reads
 * the file and passes it to ss_config_add_faults_file). Pure. On error returns
 * -1 with one line in err, e.g.
 *   SENDSHIM_FLAGS: 'bsd' is not a flag style (linux, freebsd, netbsd, openbsd, macos) */
int ss_config_parse(struct ss_config *c, ss_getenv_fn get, void *ctx, char *err, size_t errlen);

/* Append the rules of a faults file's text (with '#' comments). */
int ss_config_add_faults_file(struct ss_config *c, const char *text, char *err, size_t errlen);

/* Whether anything at all is configured: any SENDSHIM_* variable set to a
 * non-empty value, even to its default (otherwise the library passes
 * through, and sendmmsg batches are not examined). */
int ss_config_any(const struct ss_config *c);

/* A whole decimal number that fits 64 bits (no sign, no spaces, not empty):
 * 0 and *out set, or -1. Pure. */
int ss_parse_u64(const char *v, uint64_t *out);

#pragma GCC visibility pop

#endif
