/* config.c - parse and validate the SENDSHIM_* environment (SPEC sections 3, 10).
 * An empty value means the same as an unset one: the default. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "fmt.h"

static const char *const style_names[] = {"linux", "freebsd", "netbsd", "openbsd", "macos"};
static const char *const unknown_names[] = {"pass", "strip", "reject"};

/* "VAR: 'value' is not WHAT (ACCEPTED)" */
static int bad_value(char *err, size_t errlen, const char *var, const char *value, const char *what,
                     const char *accepted)
{
    struct ss_buf b;
    ss_buf_init(&b, err, errlen);
    ss_buf_str(&b, var);
    ss_buf_str(&b, ": '");
    ss_buf_token(&b, value, strlen(value), SS_ERR_TOKEN_MAX);
    ss_buf_str(&b, "' is not ");
    ss_buf_str(&b, what);
    ss_buf_str(&b, " (");
    ss_buf_str(&b, accepted);
    ss_buf_str(&b, ")");
    return -1;
}

static int pick(const char *value, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(value, names[i]))
            return i;
    return -1;
}

static int parse_bool(const char *var, const char *v, int *out, char *err, size_t errlen)
{
    if (!strcmp(v, "0"))
        *out = 0;
    else if (!strcmp(v, "1"))
        *out = 1;
    else
        return bad_value(err, errlen, var, v, "a switch", "0, 1");
    return 0;
}

int ss_parse_u64(const char *v, uint64_t *out)
{
    uint64_t n = 0;
    if (!*v)
        return -1;
    for (; *v; v++) {
        if (*v < '0' || *v > '9')
            return -1;
        unsigned d = (unsigned)(*v - '0');
        if (n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

static const char *get_set(struct ss_config *c, ss_getenv_fn get, void *ctx, const char *name)
{
    const char *v = get(name, ctx);
    if (!v || !*v)
        return NULL;
    c->any_set = 1;
    return v;
}

/* Prefix a rule parser's message ("rule 2: ...") with the variable's name. */
static int rules_error(char *err, size_t errlen, const char *var, const char *msg)
{
    struct ss_buf b;
    ss_buf_init(&b, err, errlen);
    ss_buf_str(&b, var);
    ss_buf_char(&b, ' ');
    ss_buf_str(&b, msg);
    return -1;
}

int ss_config_parse(struct ss_config *c, ss_getenv_fn get, void *ctx, char *err, size_t errlen)
{
    const char *v;
    /* Everything but the rule array, which stays untouched (and so not
     * resident) until rules are parsed into it. */
    memset(c, 0, offsetof(struct ss_config, rules));
    c->rules.n = 0;
    c->rules.uses_random = 0;

    if ((v = get_set(c, get, ctx, "SENDSHIM_NOSIGPIPE")) &&
        parse_bool("SENDSHIM_NOSIGPIPE", v, &c->nosigpipe, err, errlen))
        return -1;
    if ((v = get_set(c, get, ctx, "SENDSHIM_TRACE")) &&
        parse_bool("SENDSHIM_TRACE", v, &c->trace, err, errlen))
        return -1;
    if ((v = get_set(c, get, ctx, "SENDSHIM_STATS")) &&
        parse_bool("SENDSHIM_STATS", v, &c->stats, err, errlen))
        return -1;
    c->count = c->stats;
    if ((v = get_set(c, get, ctx, "SENDSHIM_FLAGS"))) {
        int i = pick(v, style_names, 5);
        if (i < 0)
            return bad_value(err, errlen, "SENDSHIM_FLAGS", v, "a flag style",
                             "linux, freebsd, netbsd, openbsd, macos");
        c->style = (enum ss_style)i;
    }
    if ((v = get_set(c, get, ctx, "SENDSHIM_UNKNOWN_FLAGS"))) {
        int i = pick(v, unknown_names, 3);
        if (i < 0)
            return bad_value(err, errlen, "SENDSHIM_UNKNOWN_FLAGS", v, "a mode", "pass, strip, reject");
        c->unknown = (enum ss_unknown_mode)i;
    }
    if ((v = get_set(c, get, ctx, "SENDSHIM_SEED"))) {
        if (ss_parse_u64(v, &c->seed))
            return bad_value(err, errlen, "SENDSHIM_SEED", v, "a seed",
                             "an unsigned 64-bit decimal number, 0 to 18446744073709551615");
        c->seed_given = 1;
    }
    if ((v = get_set(c, get, ctx, "SENDSHIM_LOG"))) {
        if (!strcmp(v, "stderr"))
            c->log_kind = SS_LOG_STDERR;
        else if (!strcmp(v, "none"))
            c->log_kind = SS_LOG_NONE;
        else {
            c->log_kind = SS_LOG_FILE;
            c->log_path = v;
        }
    }
    if ((v = get_set(c, get, ctx, "SENDSHIM_FAULTS"))) {
        char msg[SS_ERR_MAX];
        if (ss_rules_parse(&c->rules, v, 0, msg, sizeof msg))
            return rules_error(err, errlen, "SENDSHIM_FAULTS", msg);
    }
    c->faults_file = get_set(c, get, ctx, "SENDSHIM_FAULTS_FILE");
    c->control = get_set(c, get, ctx, "SENDSHIM_CONTROL");
    return 0;
}

int ss_config_add_faults_file(struct ss_config *c, const char *text, char *err, size_t errlen)
{
    char msg[SS_ERR_MAX];
    if (ss_rules_parse(&c->rules, text, 1, msg, sizeof msg))
        return rules_error(err, errlen, "SENDSHIM_FAULTS_FILE", msg);
    return 0;
}

int ss_config_any(const struct ss_config *c)
{
    return c->any_set;
}
