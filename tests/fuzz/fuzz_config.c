/* fuzz_config.c - libFuzzer target for the configuration parser and the fault
 * rule language: any environment value or rules file must give success or one
 * bounded error line, never a crash, an overflow or an unterminated message.
 *
 * Input: the first byte picks the variable (or the rules-file path), the rest
 * is its value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const vars[] = {
    "SENDSHIM_NOSIGPIPE", "SENDSHIM_FLAGS", "SENDSHIM_UNKNOWN_FLAGS", "SENDSHIM_FAULTS",
    "SENDSHIM_SEED",      "SENDSHIM_LOG",   "SENDSHIM_TRACE",         "SENDSHIM_STATS",
};

struct one_var {
    const char *name;
    const char *value;
};

static const char *get_one(const char *name, void *ctx)
{
    const struct one_var *v = ctx;
    return strcmp(name, v->name) ? NULL : v->value;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ss_config cfg;
    char err[SS_ERR_MAX];
    if (size < 1)
        return 0;
    char *value = malloc(size);
    memcpy(value, data + 1, size - 1);
    value[size - 1] = '\0';
    unsigned pick = data[0] % (sizeof vars / sizeof vars[0] + 1);
    memset(err, 0x55, sizeof err);
    int rc;
    if (pick == sizeof vars / sizeof vars[0]) {
        memset(&cfg, 0, sizeof cfg);
        rc = ss_config_add_faults_file(&cfg, value, err, sizeof err);
    } else {
        struct one_var v = {vars[pick], value};
        rc = ss_config_parse(&cfg, get_one, &v, err, sizeof err);
    }
    if (rc && memchr(err, '\0', sizeof err) == NULL)
        abort(); /* an error message must be one terminated line */
    if (rc && (strchr(err, '\n') || err[0] == '\0'))
        abort();
    if (cfg.rules.n > SS_MAX_RULES)
        abort();
    free(value);
    return 0;
}
