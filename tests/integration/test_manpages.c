/* test_manpages.c - the man pages agree with the code (issue 8):
 * - every option of `scripts/sendshim --help` is documented in sendshim(1),
 *   and every option sendshim(1) documents is in --help;
 * - every SENDSHIM_* variable the library names in its sources (a string
 *   literal of a .c file in shim/ or shim/interpose/: getenv's argument, a message)
 *   is documented in sendshim(7) and in README.md;
 * - both pages carry the launcher's version;
 * - every fault rule of README's cookbook and of the pages' examples parses
 *   (the launcher runs `true` with it), and the cookbook's wildcard rules
 *   are scoped to the network (family=, peer= or port=);
 * - groff and man(1) render both without a warning (skipped when groff or
 *   man is not installed: Debian's groff-base and man-db). With every
 *   warning: -ww, because -wall leaves out 'mac' (an undefined macro, the
 *   commonest man-page typo), 'di' and 'reg'. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define T         20  /* seconds a spawned program may take */
#define MAX_NAMES 256 /* options or variables collected from one source */
#define NAME_MAX_ 64  /* bytes of one option or variable name */
#define MAN_WIDTH "MANWIDTH=80"

struct names {
    int n;
    char name[MAX_NAMES][NAME_MAX_];
};

static void add_name(struct names *s, const char *p, size_t len)
{
    if (len == 0 || len >= NAME_MAX_)
        return;
    for (int i = 0; i < s->n; i++)
        if (strlen(s->name[i]) == len && !memcmp(s->name[i], p, len))
            return;
    cr_assert_lt(s->n, MAX_NAMES, "too many names");
    memcpy(s->name[s->n], p, len);
    s->name[s->n][len] = '\0';
    s->n++;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    cr_assert_geq(len, 0);
    rewind(f);
    char *buf = malloc((size_t)len + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

static char *read_top(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", top_dir(), rel);
    return read_text(path);
}

/* The page's text with the roff escapes that can sit inside a word removed:
 * \- is '-', and font changes (\fB \fI \fR \fP), \& \% \c vanish. */
static char *roff_plain(const char *src)
{
    char *out = malloc(strlen(src) + 1);
    cr_assert_not_null(out);
    size_t k = 0;
    for (const char *p = src; *p;) {
        if (p[0] == '\\' && p[1] == '-') {
            out[k++] = '-';
            p += 2;
        } else if (p[0] == '\\' && p[1] == 'f' && p[2]) {
            p += 3;
        } else if (p[0] == '\\' && (p[1] == '&' || p[1] == '%' || p[1] == 'c')) {
            p += 2;
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = '\0';
    return out;
}

/* Does `text` contain `word` not followed by a name character (so that
 * "--log" is not found inside "--logfile")? */
static int has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        char next = p[n];
        if (!(isalnum((unsigned char)next) || next == '_' || next == '-'))
            return 1;
    }
    return 0;
}

/* Options: "--name" or "-x" tokens at the start of each option line of the
 * help (lines that begin with blanks and a '-'), up to '=', ',' or a blank;
 * then any further "-x" or "--name" on the same line before two blanks. */
static void help_options(const char *help, struct names *s)
{
    for (const char *line = help; *line;) {
        const char *end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line);
        const char *p = line;
        while (p < end && *p == ' ')
            p++;
        if (p > line && p < end && *p == '-') {
            /* The option column ends at the first run of two blanks. */
            const char *col_end = p;
            while (col_end < end && !(col_end[0] == ' ' && col_end + 1 < end && col_end[1] == ' '))
                col_end++;
            while (p < col_end) {
                if (*p == '-') {
                    const char *q = p;
                    while (q < col_end && (*q == '-' || isalnum((unsigned char)*q)))
                        q++;
                    if (q - p >= 2)
                        add_name(s, p, (size_t)(q - p));
                    p = q;
                } else if (*p == ';' || *p == ',' || *p == ' ') {
                    p++;
                } else {
                    /* A value (STYLE, FILE|stderr|none): skip the word. */
                    while (p < col_end && *p != ' ' && *p != ',' && *p != ';')
                        p++;
                }
            }
        }
        line = *end ? end + 1 : end;
    }
}

/* Options documented in sendshim(1): the .TP heads of its OPTIONS section. */
static void page_options(const char *plain, struct names *s)
{
    const char *sec = strstr(plain, "\n.SH OPTIONS");
    cr_assert_not_null(sec, "sendshim(1) has no OPTIONS section");
    const char *sec_end = strstr(sec + 1, "\n.SH ");
    if (!sec_end)
        sec_end = sec + strlen(sec);
    for (const char *p = strstr(sec, "\n.TP\n"); p && p < sec_end; p = strstr(p + 1, "\n.TP\n")) {
        const char *head = p + 5;
        const char *head_end = strchr(head, '\n');
        if (!head_end)
            break;
        for (const char *q = head; q < head_end; q++) {
            if (*q == '-' && (q == head || q[-1] == ' ' || q[-1] == '"')) {
                const char *e = q;
                while (e < head_end && (*e == '-' || isalnum((unsigned char)*e)))
                    e++;
                if (e - q >= 2)
                    add_name(s, q, (size_t)(e - q));
                q = e;
            }
        }
    }
}

Test(manpages, every_launcher_option_is_in_sendshim_1_and_back)
{
    struct run_result r;
    const char *argv[] = {script_path(), "--help", NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
    cr_assert(r.exited && r.status == 0, "sendshim --help failed: %s", r.err);
    static struct names help, page;
    help.n = page.n = 0;
    help_options(r.out, &help);
    cr_assert_geq(help.n, 10, "only %d options found in --help:\n%s", help.n, r.out);

    char *src = read_top("man/sendshim.1");
    char *plain = roff_plain(src);
    for (int i = 0; i < help.n; i++)
        cr_expect(has_word(plain, help.name[i]), "sendshim(1) does not document %s", help.name[i]);

    page_options(plain, &page);
    cr_expect_geq(page.n, help.n, "sendshim(1) OPTIONS lists %d options, --help %d", page.n, help.n);
    for (int i = 0; i < page.n; i++) {
        int found = 0;
        for (int j = 0; j < help.n && !found; j++)
            found = !strcmp(page.name[i], help.name[j]);
        cr_expect(found, "sendshim(1) documents %s, which --help does not list", page.name[i]);
    }
    free(src);
    free(plain);
    run_free(&r);
}

/* SENDSHIM_[A-Z0-9_]* names inside string literals of one C source. */
static void literal_variables(const char *src, struct names *s)
{
    int in_str = 0;
    for (const char *p = src; *p; p++) {
        if (!in_str) {
            if (p[0] == '/' && p[1] == '*') {
                const char *e = strstr(p + 2, "*/");
                if (!e)
                    return;
                p = e + 1;
            } else if (p[0] == '/' && p[1] == '/') {
                while (p[1] && p[1] != '\n')
                    p++;
            } else if (p[0] == '\'') {
                /* A character literal: '"' must not open a string. */
                p++;
                while (*p && *p != '\'') {
                    if (*p == '\\' && p[1])
                        p++;
                    p++;
                }
                if (!*p)
                    return;
            } else if (p[0] == '"') {
                in_str = 1;
            }
            continue;
        }
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '"') {
            in_str = 0;
        } else if (!strncmp(p, "SENDSHIM_", 9)) {
            const char *e = p + 9;
            while (isupper((unsigned char)*e) || isdigit((unsigned char)*e) || *e == '_')
                e++;
            /* "SENDSHIM_" alone is a prefix being matched, not a variable. */
            if (e > p + 9 && isupper((unsigned char)p[9]))
                add_name(s, p, (size_t)(e - p));
            p = e - 1;
        }
    }
}

Test(manpages, every_variable_is_in_sendshim_7_and_readme)
{
    static struct names vars;
    vars.n = 0;
    static const char *const patterns[] = {"shim/*/*.c"};
    int files = 0;
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        char pat[4096];
        snprintf(pat, sizeof pat, "%s/%s", top_dir(), patterns[i]);
        glob_t g;
        if (glob(pat, 0, NULL, &g) != 0)
            continue;
        for (size_t k = 0; k < g.gl_pathc; k++) {
            char *src = read_text(g.gl_pathv[k]);
            literal_variables(src, &vars);
            free(src);
            files++;
        }
        globfree(&g);
    }
    cr_assert_gt(files, 0, "no library sources under %s", top_dir());
    /* The variables of SPEC section 3 at least. */
    cr_assert_geq(vars.n, 9, "only %d SENDSHIM_* variables found in the sources", vars.n);

    char *src = read_top("man/sendshim.7");
    char *page = roff_plain(src);
    char *readme = read_top("README.md");
    for (int i = 0; i < vars.n; i++) {
        cr_expect(has_word(page, vars.name[i]), "sendshim(7) does not document %s", vars.name[i]);
        cr_expect(has_word(readme, vars.name[i]), "README.md does not document %s", vars.name[i]);
    }
    free(src);
    free(page);
    free(readme);
}

Test(manpages, pages_carry_the_launcher_version)
{
    struct run_result r;
    const char *argv[] = {script_path(), "--version", NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
    cr_assert(r.exited && r.status == 0);
    /* "sendshim 0.1.0\n" -> the .TH source field "sendshim 0.1.0". */
    char *nl = strchr(r.out, '\n');
    if (nl)
        *nl = '\0';
    static const char *const pages[] = {"man/sendshim.1", "man/sendshim.7"};
    for (size_t i = 0; i < 2; i++) {
        char *src = read_top(pages[i]);
        char *th = strstr(src, "\n.TH ");
        cr_assert_not_null(th, "%s has no .TH line", pages[i]);
        char *th_end = strchr(th + 1, '\n');
        cr_assert_not_null(th_end);
        *th_end = '\0';
        char want[128];
        snprintf(want, sizeof want, "\"%s\"", r.out);
        cr_expect_neq(strstr(th, want), NULL, "%s: .TH line '%s' does not carry %s", pages[i], th + 1, want);
        free(src);
    }
    run_free(&r);
}

static void render_clean(const char *const argv[], const char *const env[], const char *what)
{
    struct run_result r;
    cr_assert_eq(run(&r, argv, env, 0, NULL, T), 0);
    cr_expect(r.exited && r.status == 0, "%s failed (status %d)", what, r.status);
    cr_expect_str_eq(r.err, "", "%s warns:\n%s", what, r.err);
    cr_expect_gt(r.out_len, 1000, "%s printed only %zu bytes", what, r.out_len);
    run_free(&r);
}

Test(manpages, groff_and_man_render_without_warnings)
{
    int have_groff = have_program("groff"), have_man = have_program("man");
    if (!have_groff && !have_man)
        cr_skip_test("neither groff nor man is installed (Debian: groff-base, man-db)");
    static const char *const pages[] = {"man/sendshim.1", "man/sendshim.7"};
    const char *env[] = {"LC_ALL=C.UTF-8", MAN_WIDTH, NULL};
    for (size_t i = 0; i < 2; i++) {
        char path[4096], what[4200];
        snprintf(path, sizeof path, "%s/%s", top_dir(), pages[i]);
        if (have_groff) {
            const char *argv[] = {"groff", "-ww", "-man", "-Tutf8", path, NULL};
            snprintf(what, sizeof what, "groff -ww -man -Tutf8 %s", pages[i]);
            render_clean(argv, env, what);
        }
        if (have_man) {
            const char *argv[] = {"man", "--warnings=w", "-l", path, NULL};
            snprintf(what, sizeof what, "man --warnings=w -l %s", pages[i]);
            render_clean(argv, env, what);
        }
    }
}

/* --- fault rules in the documentation ------------------------------------- */

#define MAX_RULES 64 /* rules collected from one document */
#define RULE_MAX  256

struct rules {
    int n;
    char rule[MAX_RULES][RULE_MAX];
};

/* Every rule in [from, to) that stands between `open` and `close`, e.g.
 * "--fault '" and "'". */
static void collect_rules(struct rules *rs, const char *from, const char *to, const char *open,
                          const char *close)
{
    size_t olen = strlen(open);
    for (const char *p = strstr(from, open); p && p < to; p = strstr(p + 1, open)) {
        const char *b = p + olen, *e = strstr(b, close);
        cr_assert(e && e < to && (size_t)(e - b) < RULE_MAX, "unterminated rule after %.40s", p);
        cr_assert_lt(rs->n, MAX_RULES, "too many rules");
        memcpy(rs->rule[rs->n], b, (size_t)(e - b));
        rs->rule[rs->n][e - b] = '\0';
        rs->n++;
    }
}

/* The lines of the .EX block after `heading` in a page: each starts with a
 * rule, then spaces and a comment. */
static void collect_example_lines(struct rules *rs, const char *page, const char *heading)
{
    const char *h = strstr(page, heading);
    cr_assert_not_null(h, "no '%s'", heading);
    const char *ex = strstr(h, ".EX\n"), *end = ex ? strstr(ex, "\n.EE") : NULL;
    cr_assert(ex && end, "no .EX block after '%s'", heading);
    for (const char *l = ex + 4; l < end; l = strchr(l, '\n') + 1) {
        size_t len = strcspn(l, " \n");
        cr_assert(len > 0 && len < RULE_MAX && rs->n < MAX_RULES);
        memcpy(rs->rule[rs->n], l, len);
        rs->rule[rs->n][len] = '\0';
        rs->n++;
    }
}

/* The launcher accepts the rule: `sendshim --fault RULE -- true` runs true. */
static void expect_rule_parses(const char *rule, const char *where)
{
    struct run_result r;
    const char *argv[] = {script_path(), "--fault", rule, "--", "true", NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
    cr_expect(r.exited && r.status == 0 && !strstr(r.err, "SENDSHIM_FAULTS"), "%s: rule '%s' refused:\n%s",
              where, rule, r.err);
    run_free(&r);
}

Test(manpages, every_documented_fault_rule_parses)
{
    char *readme = read_top("README.md");
    const char *cook = strstr(readme, "\n### Cookbook\n");
    cr_assert_not_null(cook, "README has no Cookbook");
    const char *cook_end = strstr(cook + 1, "\n### ");
    cr_assert_not_null(cook_end);
    static struct rules rs;
    rs.n = 0;
    collect_rules(&rs, cook, cook_end, "--fault '", "'");
    collect_rules(&rs, cook, cook_end, "sendshim_set_faults(\"", "\"");
    cr_expect_geq(rs.n, 12, "only %d rules found in the cookbook", rs.n);
    for (int i = 0; i < rs.n; i++) {
        expect_rule_parses(rs.rule[i], "README cookbook");
        /* A wildcard rule without a network scope also cuts local IPC (a
         * daemon's unix socketpairs): the cookbook scopes every one. */
        if (!strncmp(rs.rule[i], "*:", 2))
            cr_expect(strstr(rs.rule[i], ":family=inet,inet6") || strstr(rs.rule[i], ":peer=") ||
                          strstr(rs.rule[i], ":port="),
                      "cookbook rule '%s' is not scoped to the network", rs.rule[i]);
    }
    free(readme);

    char *page7 = read_top("man/sendshim.7"), *plain7 = roff_plain(page7);
    rs.n = 0;
    collect_example_lines(&rs, plain7, "\n.SS Examples\n");
    cr_expect_geq(rs.n, 7, "only %d rules in sendshim(7)'s examples", rs.n);
    for (int i = 0; i < rs.n; i++)
        expect_rule_parses(rs.rule[i], "sendshim(7) examples");
    free(page7);
    free(plain7);

    char *page1 = read_top("man/sendshim.1"), *plain1 = roff_plain(page1);
    rs.n = 0;
    collect_rules(&rs, plain1, plain1 + strlen(plain1), "--fault \\(aq", "\\(aq");
    cr_expect_geq(rs.n, 3, "only %d rules in sendshim(1)", rs.n);
    for (int i = 0; i < rs.n; i++)
        expect_rule_parses(rs.rule[i], "sendshim(1)");
    free(page1);
    free(plain1);
}
