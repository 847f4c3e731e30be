/* test_launcher.c - scripts/sendshim, the launcher (SPEC section 2).
 *
 * Every test spawns the script through the harness; the runner itself never
 * has the library preloaded. What PROGRAM sees is checked from inside
 * PROGRAM (a shell printing its environment, /proc/self/maps), what the
 * launcher would set with --print-env.
 */
#include "harness.h"

#include <criterion/criterion.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Seconds any one launch may take (a launch is ~0.1 s). */
#define LAUNCH_TIMEOUT_S 10
/* Most arguments one launch in these tests passes. */
#define MAX_ARGS 32

TestSuite(launcher, .timeout = 60);

/* Run the script with the NULL-terminated arguments that follow, with `env`
 * added to the (cleaned) environment and `input` on stdin. */
static void launch_env(struct run_result *r, const char *const env[], const char *input, ...)
{
    const char *argv[MAX_ARGS + 2];
    size_t n = 0;
    argv[n++] = script_path();
    va_list ap;
    va_start(ap, input);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        cr_assert(n < MAX_ARGS + 1, "too many arguments for launch_env");
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    cr_assert_eq(run(r, argv, env, 0, input, LAUNCH_TIMEOUT_S), 0, "cannot run %s", script_path());
    cr_assert_not(r->timed_out, "the launcher timed out");
}

#define launch(r, ...) launch_env((r), NULL, NULL, __VA_ARGS__, (const char *)NULL)

static void need_lib(void)
{
    cr_assert_eq(access(lib_path(), R_OK), 0, "%s is missing: build it with make", lib_path());
}

/* The one line `NAME='...'` of --print-env output, or NULL. */
static char *env_line(const char *out, const char *name)
{
    static char line[4096];
    size_t nl = strlen(name);
    const char *p = out;
    while (p && *p) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *end = strchr(p, '\n');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (len >= sizeof line)
                len = sizeof line - 1;
            memcpy(line, p, len);
            line[len] = '\0';
            return line;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

static void expect_env(const char *out, const char *expected_line)
{
    char name[64];
    size_t len = strcspn(expected_line, "=");
    cr_assert_lt(len, sizeof name);
    memcpy(name, expected_line, len);
    name[len] = '\0';
    const char *got = env_line(out, name);
    cr_assert_not_null(got, "--print-env did not print %s; it printed:\n%s", name, out);
    cr_expect_str_eq(got, expected_line);
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* A usage error: status 2 and exactly one line on stderr that contains each
 * of the NULL-terminated strings that follow. */
static void expect_usage_error(const struct run_result *r, ...)
{
    cr_assert(r->exited, "the launcher did not exit normally");
    cr_expect_eq(r->status, 2, "status %d, expected 2; stderr: %s", r->status, r->err);
    cr_expect_eq(count_char(r->err, '\n'), 1, "expected one line on stderr, got: %s", r->err);
    cr_expect_eq(r->out_len, 0, "nothing on stdout expected, got: %s", r->out);
    va_list ap;
    va_start(ap, r);
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL)
        cr_expect(strstr(r->err, want), "stderr does not mention \"%s\": %s", want, r->err);
    va_end(ap);
}

/* --- temporary files -------------------------------------------------------- */

/* mkdtemp of a short fixed template under /tmp. */
static char tmp_dir[64];

static const char *make_tmp(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/sendshim-launcher-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp failed");
    return tmp_dir;
}

static void remove_tmp(void)
{
    if (!tmp_dir[0])
        return;
    struct run_result r;
    const char *argv[] = {"rm", "-rf", "--", tmp_dir, NULL};
    if (run(&r, argv, NULL, 0, NULL, LAUNCH_TIMEOUT_S) == 0)
        run_free(&r);
    tmp_dir[0] = '\0';
}

/* <tmp>/<name>, in one of a few rotating buffers. */
static const char *tmp_file(const char *name)
{
    static char bufs[4][PATH_MAX];
    static unsigned next;
    char *b = bufs[next++ % 4];
    snprintf(b, PATH_MAX, "%s/%s", tmp_dir, name);
    return b;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert_geq(fd, 0, "cannot create %s", path);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    chmod(path, mode);
}

/* Run a command to prepare a test; returns its exit status (or -1). */
static int sh(const char *cmd)
{
    struct run_result r;
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    if (run(&r, argv, NULL, 0, NULL, 60) < 0)
        return -1;
    int st = r.exited ? r.status : -1;
    if (st != 0)
        cr_log_info("`%s` failed: %s", cmd, r.err);
    run_free(&r);
    return st;
}

/* Compile C source into <tmp>/<name> with extra gcc flags; 0 on success. */
static int compile(const char *name, const char *source, const char *flags)
{
    char src[PATH_MAX], cmd[3 * PATH_MAX];
    snprintf(src, sizeof src, "%s.c", tmp_file(name));
    write_file(src, source, 0644);
    snprintf(cmd, sizeof cmd, "gcc %s -o '%s' '%s'", flags, tmp_file(name), src);
    return sh(cmd);
}

/* --- help, version, usage errors ------------------------------------------------ */

Test(launcher, help_lists_every_option)
{
    static const char *const options[] = {
        "--nosigpipe",
        "--flags=STYLE",
        "--unknown-flags=MODE",
        "--fault RULE",
        "--faults-file FILE",
        "--seed N",
        "--log FILE|stderr|none",
        "--trace",
        "--stats",
        "--lib PATH",
        "--print-env",
        "-h, --help",
        "--version",
    };
    struct run_result r;
    launch(&r, "--help");
    cr_assert(r.exited && r.status == 0, "--help failed: %s", r.err);
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        cr_expect_eq(count_lines(r.out, options[i]), 1, "--help has no single line for %s:\n%s", options[i],
                     r.out);
    cr_expect_eq(count_lines(r.out, "usage: sendshim [OPTIONS] [--] PROGRAM [ARG...]"), 1);
    run_free(&r);

    launch(&r, "-h");
    cr_expect(r.exited && r.status == 0);
    cr_expect(strstr(r.out, "--faults-file FILE"));
    run_free(&r);
}

Test(launcher, version)
{
    struct run_result r;
    launch(&r, "--version");
    cr_expect(r.exited && r.status == 0);
    cr_expect_str_eq(r.out, "sendshim 0.1.0\n");
    cr_expect_eq(r.err_len, 0);
    run_free(&r);
}

Test(launcher, missing_program_is_a_usage_error)
{
    struct run_result r;
    launch(&r, "--trace", "--nosigpipe");
    expect_usage_error(&r, "PROGRAM", NULL);
    run_free(&r);

    launch(&r, "--");
    expect_usage_error(&r, "PROGRAM", NULL);
    run_free(&r);
}

Test(launcher, unknown_option_is_named)
{
    struct run_result r;
    launch(&r, "--bogus", "--", "/bin/true");
    expect_usage_error(&r, "'--bogus'", NULL);
    run_free(&r);

    launch(&r, "-x", "/bin/true");
    expect_usage_error(&r, "'-x'", NULL);
    run_free(&r);
}

Test(launcher, missing_option_value_is_named)
{
    struct run_result r;
    launch(&r, "--fault");
    expect_usage_error(&r, "--fault", NULL);
    run_free(&r);

    launch(&r, "--seed");
    expect_usage_error(&r, "--seed", NULL);
    run_free(&r);
}

/* A value the launcher refuses: it is run with `args` (at most three, the
 * rest NULL) and must name `option` and the quoted `token`, and list the
 * accepted values (`hint`) when not NULL. */
struct bad_value {
    const char *args[3];
    const char *option;
    const char *token;
    const char *hint;
};

static const struct bad_value bad_values[] = {
    {{"--flags=bsd", "/bin/true"}, "--flags", "'bsd'", "linux, freebsd, netbsd, openbsd, macos"},
    {{"--flags", "FreeBSD", "/bin/true"}, "--flags", "'FreeBSD'", NULL},
    {{"--unknown-flags=drop", "/bin/true"}, "--unknown-flags", "'drop'", "pass, strip, reject"},
    {{"--log=", "/bin/true"}, "--log", "''", "stderr"},
    {{"--log", "/nonexistent-dir-of-sendshim/x.log", "/bin/true"},
     "--log",
     "'/nonexistent-dir-of-sendshim/x.log'",
     "none"},
    {{"--log", "/", "/bin/true"}, "--log", "'/'", NULL},
    /* The library opens its log with O_NOFOLLOW: a link would only fail later. */
    {{"--log", "/proc/self/exe", "/bin/true"}, "--log", "'/proc/self/exe'", "link"},
    {{"--faults-file", "/nonexistent-dir-of-sendshim/rules", "/bin/true"},
     "--faults-file",
     "'/nonexistent-dir-of-sendshim/rules'",
     NULL},
    {{"--lib", "/nonexistent-dir-of-sendshim/libsendshim.so", "/bin/true"},
     "--lib",
     "'/nonexistent-dir-of-sendshim/libsendshim.so'",
     NULL},
};

Test(launcher, bad_values_name_option_token_and_choices)
{
    struct run_result r;
    /* The argument lists and the strings expected end at their first NULL. */
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        const struct bad_value *c = &bad_values[i];
        launch(&r, c->args[0], c->args[1], c->args[2]);
        expect_usage_error(&r, c->option, c->token, c->hint, NULL);
        run_free(&r);
    }

    static const char *const bad_seeds[] = {
        "-1", "12a", "", "0x10", "18446744073709551616", "99999999999999999999", " 1"};
    for (size_t i = 0; i < sizeof bad_seeds / sizeof bad_seeds[0]; i++) {
        char token[64];
        snprintf(token, sizeof token, "'%s'", bad_seeds[i]);
        launch(&r, "--seed", bad_seeds[i], "/bin/true");
        expect_usage_error(&r, "--seed", token, "18446744073709551615", NULL);
        run_free(&r);
    }
}

/* --- the environment it sets ---------------------------------------------------------- */

Test(launcher, print_env_maps_every_option, .fini = remove_tmp)
{
    need_lib();
    make_tmp();
    const char *rules = tmp_file("rules");
    write_file(rules, "# only a comment\n", 0644);
    struct run_result r;
    launch(&r, "--print-env", "--nosigpipe", "--flags=freebsd", "--unknown-flags", "strip", "--fault",
           "send:error=EAGAIN:when=3", "--fault=sendto:drop", "--faults-file", rules, "--seed",
           "18446744073709551615", "--log", tmp_file("log"), "--trace", "--stats", "--lib", lib_path());
    cr_assert(r.exited && r.status == 0, "--print-env failed (%d): %s", r.status, r.err);
    char line[2 * PATH_MAX];
    snprintf(line, sizeof line, "LD_PRELOAD='%s'", lib_path());
    expect_env(r.out, line);
    expect_env(r.out, "SENDSHIM_NOSIGPIPE='1'");
    expect_env(r.out, "SENDSHIM_FLAGS='freebsd'");
    expect_env(r.out, "SENDSHIM_UNKNOWN_FLAGS='strip'");
    /* Rules are joined by a newline, inside the quotes. */
    cr_expect(strstr(r.out, "SENDSHIM_FAULTS='send:error=EAGAIN:when=3\nsendto:drop'\n"), "%s", r.out);
    snprintf(line, sizeof line, "SENDSHIM_FAULTS_FILE='%s'", rules);
    expect_env(r.out, line);
    expect_env(r.out, "SENDSHIM_SEED='18446744073709551615'");
    snprintf(line, sizeof line, "SENDSHIM_LOG='%s'", tmp_file("log"));
    expect_env(r.out, line);
    expect_env(r.out, "SENDSHIM_TRACE='1'");
    expect_env(r.out, "SENDSHIM_STATS='1'");
    /* 10 variables, one with two lines; nothing else. */
    cr_expect_eq(count_char(r.out, '\n'), 11, "%s", r.out);
    cr_expect_eq(r.err_len, 0, "%s", r.err);
    /* --print-env runs nothing and creates no log. */
    cr_expect_neq(access(tmp_file("log"), F_OK), 0);
    run_free(&r);
}

Test(launcher, print_env_sets_only_what_was_asked)
{
    need_lib();
    struct run_result r;
    launch(&r, "--print-env", "--log=stderr", "--flags", "macos");
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    char line[PATH_MAX + 32];
    snprintf(line, sizeof line, "LD_PRELOAD='%s'\nSENDSHIM_FLAGS='macos'\nSENDSHIM_LOG='stderr'\n",
             lib_path());
    cr_expect_str_eq(r.out, line);
    run_free(&r);

    launch(&r, "--print-env", "--log", "none", "--seed=007");
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    expect_env(r.out, "SENDSHIM_LOG='none'");
    cr_expect(strstr(r.out, "SENDSHIM_SEED='"));
    cr_expect_eq(count_lines(r.out, "SENDSHIM_FLAGS"), 0);
    cr_expect_eq(count_lines(r.out, "SENDSHIM_NOSIGPIPE"), 0);
    run_free(&r);
}

/* The output is valid shell: eval'd by sh it gives back the exact values,
 * quotes and newlines included. */
Test(launcher, print_env_is_shell_quoted, .fini = remove_tmp)
{
    need_lib();
    make_tmp();
    const char *rules = tmp_file("it's rules");
    write_file(rules, "# nothing\n", 0644);
    struct run_result r;
    const char *argv[] = {
        "/bin/sh",
        "-c",
        "eval \"$(\"$0\" --print-env --fault \"$1\" --fault \"$2\" --faults-file \"$3\")\" || "
        "exit 9; printf '%s|%s' \"$SENDSHIM_FAULTS\" \"$SENDSHIM_FAULTS_FILE\"",
        script_path(),
        "send:error=EAGAIN",
        "sendto:error=EINTR:when=2",
        rules,
        NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, LAUNCH_TIMEOUT_S), 0);
    cr_assert(r.exited && r.status == 0, "status %d: %s", r.status, r.err);
    char want[2 * PATH_MAX];
    snprintf(want, sizeof want, "send:error=EAGAIN\nsendto:error=EINTR:when=2|%s", rules);
    cr_expect_str_eq(r.out, want);
    run_free(&r);
}

/* --faults-file only sets SENDSHIM_FAULTS_FILE: a file with a NUL byte (which
 * would hide the rules after it) stops the program with the library's line. */
Test(launcher, faults_file_with_a_nul_byte_is_refused, .fini = remove_tmp)
{
    need_lib();
    make_tmp();
    static const char text[] = "send:error=EAGAIN\n\0send:error=EINTR\n";
    const char *path = tmp_file("nul.rules");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    struct run_result r;
    launch(&r, "--faults-file", path, "--", target_path("sendprog"), "udp", "send:x");
    cr_expect(r.exited && r.status == 2, "status %d: %s", r.status, r.err);
    cr_expect_str_empty(r.out, "main ran: %s", r.out);
    const char *want = "' has a NUL byte at offset 18 (line 2); accepted: a text file of rules";
    cr_expect(strstr(r.err, "SENDSHIM_FAULTS_FILE: '") && strstr(r.err, "/nul.rules") && strstr(r.err, want),
              "%s", r.err);
    run_free(&r);
}

Test(launcher, relative_paths_become_absolute, .fini = remove_tmp)
{
    need_lib();
    make_tmp();
    write_file(tmp_file("rules"), "\n", 0644);
    struct run_result r;
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "cd '%s' && exec \"$0\" --print-env --faults-file rules --log out.log",
             tmp_dir);
    const char *argv[] = {"/bin/sh", "-c", cmd, script_path(), NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, LAUNCH_TIMEOUT_S), 0);
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    char real[PATH_MAX], line[2 * PATH_MAX];
    cr_assert_not_null(realpath(tmp_dir, real));
    snprintf(line, sizeof line, "SENDSHIM_FAULTS_FILE='%s/rules'", real);
    expect_env(r.out, line);
    snprintf(line, sizeof line, "SENDSHIM_LOG='%s/out.log'", real);
    expect_env(r.out, line);
    run_free(&r);
}

Test(launcher, ld_preload_is_prepended_not_replaced)
{
    need_lib();
    struct run_result r;
    char line[2 * PATH_MAX];
    /* Not loadable paths: the launcher only prints here, nothing loads them
     * except the script's own helpers, whose complaints go to stderr. */
    const char *colon_env[] = {"LD_PRELOAD=/nonexistent/a.so:/nonexistent/b.so", NULL};
    launch_env(&r, colon_env, NULL, "--print-env", (const char *)NULL);
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    snprintf(line, sizeof line, "LD_PRELOAD='%s:/nonexistent/a.so:/nonexistent/b.so'", lib_path());
    expect_env(r.out, line);
    run_free(&r);

    /* ld.so(8) also takes spaces between entries. */
    const char *space_env[] = {"LD_PRELOAD=/nonexistent/a.so /nonexistent/b.so", NULL};
    launch_env(&r, space_env, NULL, "--print-env", (const char *)NULL);
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    snprintf(line, sizeof line, "LD_PRELOAD='%s:/nonexistent/a.so /nonexistent/b.so'", lib_path());
    expect_env(r.out, line);
    run_free(&r);
}

/* The library already in LD_PRELOAD (by its path, or by another path to the
 * same file) is not added again; any other LD_PRELOAD still gets it first. */
Test(launcher, library_already_in_ld_preload_is_not_added_again)
{
    need_lib();
    char dir[] = "/tmp/sendshim-twice-XXXXXX";
    cr_assert(mkdtemp(dir));
    char link_path[PATH_MAX], same[3][2 * PATH_MAX + 32];
    snprintf(link_path, sizeof link_path, "%s/alias.so", dir);
    cr_assert_eq(symlink(lib_path(), link_path), 0);
    snprintf(same[0], sizeof same[0], "LD_PRELOAD=%s", lib_path());
    snprintf(same[1], sizeof same[1], "LD_PRELOAD=/nonexistent/a.so %s:/nonexistent/b.so", lib_path());
    snprintf(same[2], sizeof same[2], "LD_PRELOAD=%s", link_path);
    for (int i = 0; i < 3; i++) {
        const char *env[] = {same[i], NULL};
        struct run_result r;
        char line[2 * PATH_MAX + 48];
        launch_env(&r, env, NULL, "--print-env", (const char *)NULL);
        cr_assert(r.exited && r.status == 0, "%s", r.err);
        snprintf(line, sizeof line, "LD_PRELOAD='%s'", same[i] + strlen("LD_PRELOAD="));
        expect_env(r.out, line);
        run_free(&r);
    }
    unlink(link_path);
    rmdir(dir);
}

/* A copy of the library from another file already in LD_PRELOAD: both are
 * loaded, one acts (the other says so once), so a when=2 rule fails one
 * call of three, not two. */
Test(launcher, a_copy_already_preloaded_does_not_act_twice)
{
    need_lib();
    char dir[] = "/tmp/sendshim-copy-XXXXXX";
    cr_assert(mkdtemp(dir));
    char copy[PATH_MAX], cmd[3 * PATH_MAX], env_pre[PATH_MAX + 16];
    snprintf(copy, sizeof copy, "%s/libsendshim.so", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", lib_path(), copy);
    cr_assert_eq(system(cmd), 0);
    snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", copy);
    const char *env[] = {env_pre, NULL};
    struct run_result r;
    launch_env(&r, env, NULL, "--fault", "send:error=EAGAIN:when=2", "--", target_path("sendprog"), "udp",
               "send:a", "send:b", "send:c", (const char *)NULL);
    cr_expect(r.exited && r.status == 0, "status %d: %s", r.status, r.err);
    cr_expect_str_eq(r.out, "send 1\nsend -1 EAGAIN\nsend 1\n");
    cr_expect_eq(count_lines(r.err, "another copy of the library is loaded first"), 1, "%s", r.err);
    cr_expect_eq(count_lines(r.err, "fault rule 1 "), 1, "%s", r.err);
    run_free(&r);
    unlink(copy);
    rmdir(dir);
}

/* --- running PROGRAM --------------------------------------------------------------------- */

Test(launcher, program_runs_with_the_library_loaded_first)
{
    need_lib();
    struct run_result r;
    /* libm is harmless to preload and is found by name. */
    const char *env[] = {"LD_PRELOAD=libm.so.6", NULL};
    launch_env(&r, env, NULL, "--", "/bin/sh", "-c",
               "printf '%s\\n' \"$LD_PRELOAD\"; grep -c 'libsendshim\\.so' /proc/$$/maps >/dev/null && echo "
               "mapped; grep -c 'libm\\.so' /proc/$$/maps >/dev/null && echo libm",
               (const char *)NULL);
    cr_assert(r.exited && r.status == 0, "status %d: %s", r.status, r.err);
    char want[2 * PATH_MAX];
    snprintf(want, sizeof want, "%s:libm.so.6\nmapped\nlibm\n", lib_path());
    cr_expect_str_eq(r.out, want);
    run_free(&r);
}

Test(launcher, nothing_configured_is_silent)
{
    need_lib();
    struct run_result r;
    launch(&r, "/bin/true");
    cr_expect(r.exited && r.status == 0);
    cr_expect_eq(r.err_len, 0, "unexpected stderr: %s", r.err);
    run_free(&r);
}

Test(launcher, options_reach_the_program)
{
    need_lib();
    struct run_result r;
    launch(&r, "--nosigpipe", "--flags=openbsd", "--seed", "5", "/bin/sh", "-c",
           "printf '%s %s %s %s' \"$SENDSHIM_NOSIGPIPE\" \"$SENDSHIM_FLAGS\" \"$SENDSHIM_SEED\" "
           "\"${SENDSHIM_TRACE-unset}\"");
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    cr_expect_str_eq(r.out, "1 openbsd 5 unset");
    run_free(&r);
}

Test(launcher, options_replace_inherited_variables_and_keep_the_others)
{
    need_lib();
    struct run_result r;
    const char *env[] = {"SENDSHIM_FLAGS=netbsd", "SENDSHIM_STATS=0", NULL};
    launch_env(&r, env, NULL, "--flags=macos", "/bin/sh", "-c",
               "printf '%s %s' \"$SENDSHIM_FLAGS\" \"$SENDSHIM_STATS\"", (const char *)NULL);
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    cr_expect_str_eq(r.out, "macos 0");
    run_free(&r);
}

Test(launcher, options_after_program_belong_to_it)
{
    need_lib();
    struct run_result r;
    launch(&r, "/bin/sh", "-c", "printf '%s|%s|%s' \"${SENDSHIM_TRACE-unset}\" \"$1\" \"$2\"", "x", "--trace",
           "--");
    cr_assert(r.exited && r.status == 0, "%s", r.err);
    cr_expect_str_eq(r.out, "unset|--trace|--");
    run_free(&r);
}

Test(launcher, exit_status_and_signal_pass_through)
{
    need_lib();
    struct run_result r;
    launch(&r, "--", "/bin/sh", "-c", "exit 7");
    cr_expect(r.exited);
    cr_expect_eq(r.status, 7);
    run_free(&r);

    /* The launcher execs PROGRAM: a signal ends the very process we started. */
    launch(&r, "/bin/sh", "-c", "kill -TERM $$");
    cr_expect(r.signaled, "expected death by signal; exited %d status %d", r.exited, r.status);
    cr_expect_eq(r.sig, SIGTERM);
    run_free(&r);

    /* ... and argv[0] is what was typed. */
    launch(&r, "cat", "/proc/self/cmdline");
    cr_expect(r.exited && r.status == 0);
    cr_expect_eq(r.out_len, sizeof "cat\0/proc/self/cmdline");
    cr_expect_str_eq(r.out, "cat");
    run_free(&r);
}

Test(launcher, stdin_passes_through)
{
    need_lib();
    struct run_result r;
    const char *argv[] = {script_path(), "cat", NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, "line one\nline two\n", LAUNCH_TIMEOUT_S), 0);
    cr_expect(r.exited && r.status == 0);
    cr_expect_str_eq(r.out, "line one\nline two\n");
    run_free(&r);
}

Test(launcher, program_lookup_follows_exec, .fini = remove_tmp)
{
    need_lib();
    make_tmp();
    cr_assert_eq(mkdir(tmp_file("a"), 0755), 0);
    cr_assert_eq(mkdir(tmp_file("b"), 0755), 0);
    /* Not executable in a/, executable in b/: execvp skips the first. */
    write_file(tmp_file("a/myprog"), "#!/bin/sh\necho wrong\n", 0644);
    write_file(tmp_file("b/myprog"), "#!/bin/sh\necho right \"$@\"\n", 0755);
    write_file(tmp_file("a/onlydata"), "#!/bin/sh\necho data\n", 0644);
    char path[3 * PATH_MAX];
    snprintf(path, sizeof path, "PATH=%s:%s:/usr/bin:/bin", tmp_file("a"), tmp_file("b"));
    const char *env[] = {path, NULL};
    struct run_result r;

    launch_env(&r, env, NULL, "myprog", "arg", (const char *)NULL);
    cr_expect(r.exited && r.status == 0, "%s", r.err);
    cr_expect_str_eq(r.out, "right arg\n");
    run_free(&r);

    launch_env(&r, env, NULL, "onlydata", (const char *)NULL);
    cr_expect(r.exited);
    cr_expect_eq(r.status, 126, "status %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "onlydata"), "%s", r.err);
    run_free(&r);

    launch_env(&r, env, NULL, "no-such-program-of-sendshim", (const char *)NULL);
    cr_expect(r.exited);
    cr_expect_eq(r.status, 127, "status %d: %s", r.status, r.err);
    cr_expect_eq(count_lines(r.err, "no-such-program-of-sendshim"), 1, "%s", r.err);
    run_free(&r);

    /* A name with a slash is not searched. */
    launch_env(&r, env, NULL, "./myprog", (const char *)NULL);
    cr_expect(r.exited);
    cr_expect_eq(r.status, 127, "status %d: %s", r.status, r.err);
    run_free(&r);

    launch(&r, tmp_file("a/myprog"));
    cr_expect(r.exited);
    cr_expect_eq(r.status, 126, "status %d: %s", r.status, r.err);
    run_free(&r);

    launch(&r, tmp_dir);
    cr_expect(r.exited);
    cr_expect_eq(r.status, 126, "status %d: %s", r.status, r.err);
    run_free(&r);
}

/* --- configuration checked by the library itself --------------------------------------------- */

Test(launcher, bad_rule_is_reported_by_the_library_and_nothing_runs)
{
    need_lib();
    const char *rule = "sendto:error=EISDIR";
    /* The library's own verdict, without the launcher. */
    struct run_result direct;
    char var[128];
    snprintf(var, sizeof var, "SENDSHIM_FAULTS=%s", rule);
    const char *env[] = {var, NULL};
    const char *argv[] = {"/bin/true", NULL};
    cr_assert_eq(run(&direct, argv, env, 1, NULL, LAUNCH_TIMEOUT_S), 0);
    int validates = direct.exited && direct.status == 2;
    run_free(&direct);
    if (!validates)
        cr_skip_test("the library does not validate SENDSHIM_FAULTS yet");

    struct run_result r;
    /* Even with --log none the launcher shows why it refuses to run. */
    launch(&r, "--log", "none", "--fault", "send:error=EAGAIN", "--fault", rule, "/bin/sh", "-c", "echo ran");
    cr_expect(r.exited);
    cr_expect_eq(r.status, 2, "status %d: %s", r.status, r.err);
    cr_expect_eq(r.out_len, 0, "PROGRAM ran: %s", r.out);
    cr_expect_eq(count_lines(r.err, "SENDSHIM_FAULTS"), 1, "%s", r.err);
    cr_expect_eq(count_lines(r.err, "'EISDIR'"), 1, "%s", r.err);
    cr_expect(strstr(r.err, "rule 2"), "the rule's number is lost: %s", r.err);
    run_free(&r);

    launch(&r, "--print-env", "--fault", rule);
    cr_expect(r.exited);
    cr_expect_eq(r.status, 2);
    cr_expect_eq(r.out_len, 0);
    run_free(&r);
}

Test(launcher, unloadable_library_is_refused, .fini = remove_tmp)
{
    make_tmp();
    const char *fake = tmp_file("libsendshim.so");
    write_file(fake, "not an ELF file\n", 0644);
    struct run_result r;
    launch(&r, "--lib", fake, "/bin/sh", "-c", "echo ran");
    cr_expect(r.exited);
    cr_expect_eq(r.status, 2, "status %d: %s", r.status, r.err);
    cr_expect_eq(r.out_len, 0, "PROGRAM ran: %s", r.out);
    cr_expect(strstr(r.err, fake), "%s", r.err);
    run_free(&r);
}

/* --- finding the library -------------------------------------------------------------------- */

Test(launcher, library_found_in_source_tree_and_installed_prefix, .fini = remove_tmp)
{
    need_lib();
    make_tmp();
    char real[PATH_MAX], cmd[4 * PATH_MAX], want[2 * PATH_MAX], multiarch[PATH_MAX];
    cr_assert_not_null(realpath(tmp_dir, real));
    /* A Debian-style multiarch directory of this machine, e.g. x86_64-linux-gnu. */
    struct utsname uts;
    cr_assert_eq(uname(&uts), 0);
    snprintf(multiarch, sizeof multiarch, "m/lib/%s-linux-gnu/libsendshim.so", uts.machine);
    snprintf(cmd, sizeof cmd,
             "set -e; cd '%s'; mkdir -p src/scripts src/build p/bin p/lib m/bin m/lib/%s-linux-gnu other "
             "none/bin; "
             "cp '%s' src/scripts/sendshim; cp '%s' src/build/libsendshim.so; "
             "cp '%s' p/bin/sendshim; cp '%s' p/lib/libsendshim.so; "
             "cp '%s' m/bin/sendshim; cp '%s' '%s'; "
             "ln -s ../p/bin/sendshim other/sendshim; cp '%s' none/bin/sendshim",
             real, uts.machine, script_path(), lib_path(), script_path(), lib_path(), script_path(),
             lib_path(), multiarch, script_path());
    cr_assert_eq(sh(cmd), 0);

    const struct {
        const char *script, *lib;
    } cases[] = {
        {"src/scripts/sendshim", "src/build/libsendshim.so"},
        {"p/bin/sendshim", "p/lib/libsendshim.so"},
        {"m/bin/sendshim", multiarch},
        /* Through a symlink: the prefix of the real location. */
        {"other/sendshim", "p/lib/libsendshim.so"},
    };
    struct run_result r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[] = {tmp_file(cases[i].script), "--print-env", NULL};
        cr_assert_eq(run(&r, argv, NULL, 0, NULL, LAUNCH_TIMEOUT_S), 0);
        cr_expect(r.exited && r.status == 0, "%s: %s", cases[i].script, r.err);
        snprintf(want, sizeof want, "LD_PRELOAD='%s/%s'\n", real, cases[i].lib);
        cr_expect_str_eq(r.out, want);
        run_free(&r);
    }

    const char *argv[] = {tmp_file("none/bin/sendshim"), "/bin/true", NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, LAUNCH_TIMEOUT_S), 0);
    expect_usage_error(&r, "libsendshim.so", "--lib", NULL);
    run_free(&r);
}

/* --- warnings: programs the loader will not preload into -------------------------------------- */

static void expect_warning_and_run(const char *prog, const char *words, int status)
{
    struct run_result r;
    launch(&r, "--", prog);
    cr_expect(r.exited, "%s did not exit", prog);
    cr_expect_eq(r.status, status, "%s: status %d: %s", prog, r.status, r.err);
    cr_expect_eq(count_lines(r.err, "warning"), 1, "%s: expected one warning: %s", prog, r.err);
    cr_expect(strstr(r.err, words), "%s: the warning does not say \"%s\": %s", prog, words, r.err);
    cr_expect(strstr(r.err, prog), "the warning does not name %s: %s", prog, r.err);
    run_free(&r);
}

Test(launcher, warns_on_static_binary, .fini = remove_tmp)
{
    need_lib();
    make_tmp();
    if (!have_program("gcc") ||
        compile("static", "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 5; }\n", "-static") !=
            0)
        cr_skip_test("gcc -static (static libc) is not available");
    struct run_result r;
    launch(&r, tmp_file("static"));
    cr_expect(r.exited && r.status == 5, "status %d: %s", r.status, r.err);
    cr_expect_str_eq(r.out, "hello\n");
    cr_expect_eq(count_lines(r.err, "warning"), 1, "%s", r.err);
    cr_expect(strstr(r.err, "statically linked"), "%s", r.err);
    run_free(&r);

    /* The same program, dynamically linked: no warning. */
    cr_assert_eq(
        compile("dynamic", "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 5; }\n", ""), 0);
    launch(&r, tmp_file("dynamic"));
    cr_expect(r.exited && r.status == 5);
    cr_expect_eq(r.err_len, 0, "unexpected stderr: %s", r.err);
    run_free(&r);
}

/* Go binaries carry a build-info blob ("\xff Go buildinf:") in their
 * .go.buildinfo section; a C program with that section looks the same to
 * the launcher's detection. */
Test(launcher, warns_on_go_binary, .fini = remove_tmp)
{
    need_lib();
    make_tmp();
    if (!have_program("gcc"))
        cr_skip_test("gcc is not available");
    cr_assert_eq(compile("gofake",
                         "__attribute__((section(\".go.buildinfo\"), used))\n"
                         "static const char info[] = \"\\xff Go buildinf:\\x08\\x02\";\n"
                         "int main(void) { return 4; }\n",
                         ""),
                 0);
    expect_warning_and_run(tmp_file("gofake"), "Go", 4);
}

/* A musl program cannot load the glibc-built library: say so, and how to
 * build one it can load. */
Test(launcher, warns_on_musl_program, .fini = remove_tmp)
{
    need_lib();
    make_tmp();
    if (!have_program("musl-gcc"))
        cr_skip_test("musl-gcc is not installed");
    char src[PATH_MAX], cmd[3 * PATH_MAX];
    snprintf(src, sizeof src, "%s.c", tmp_file("muslprog"));
    write_file(src, "int main(void) { return 3; }\n", 0644);
    snprintf(cmd, sizeof cmd, "musl-gcc -o '%s' '%s'", tmp_file("muslprog"), src);
    cr_assert_eq(sh(cmd), 0);
    struct run_result r;
    launch(&r, "--", tmp_file("muslprog"));
    cr_expect_eq(count_lines(r.err, "warning"), 1, "%s", r.err);
    cr_expect(strstr(r.err, "is a musl program") && strstr(r.err, "CC=musl-gcc"), "%s", r.err);
    run_free(&r);
}

Test(launcher, warns_on_setuid_binary, .fini = remove_tmp)
{
    need_lib();
    if (geteuid() != 0)
        cr_skip_test("making a setuid binary of another user needs root");
    make_tmp();
    char cmd[2 * PATH_MAX];
    /* Owned by nobody: exec changes the user, so secure-execution mode. */
    snprintf(cmd, sizeof cmd, "cp /bin/true '%s' && chown 65534 '%s' && chmod 4755 '%s'", tmp_file("suid"),
             tmp_file("suid"), tmp_file("suid"));
    cr_assert_eq(sh(cmd), 0);
    expect_warning_and_run(tmp_file("suid"), "setuid", 0);

    snprintf(cmd, sizeof cmd, "cp /bin/true '%s' && chgrp 65534 '%s' && chmod 2755 '%s'", tmp_file("sgid"),
             tmp_file("sgid"), tmp_file("sgid"));
    cr_assert_eq(sh(cmd), 0);
    expect_warning_and_run(tmp_file("sgid"), "setgid", 0);
}

Test(launcher, warns_on_file_capabilities, .fini = remove_tmp)
{
    need_lib();
    if (geteuid() != 0 || !have_program("setcap") || !have_program("getcap"))
        cr_skip_test("setting file capabilities needs root and setcap");
    make_tmp();
    char cmd[2 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp /bin/true '%s' && setcap cap_net_raw+ep '%s'", tmp_file("capped"),
             tmp_file("capped"));
    if (sh(cmd) != 0)
        cr_skip_test("this file system does not keep file capabilities");
    expect_warning_and_run(tmp_file("capped"), "capabilities", 0);
}

/* --- the script itself ------------------------------------------------------------------------ */

Test(launcher, script_is_shellcheck_clean)
{
    if (!have_program("shellcheck"))
        cr_skip_test("shellcheck is not installed");
    struct run_result r;
    const char *argv[] = {"shellcheck", script_path(), NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, 30), 0);
    cr_expect(r.exited && r.status == 0, "shellcheck:\n%s%s", r.out, r.err);
    run_free(&r);
}

/* --- the harness every integration test relies on ----------------------------------------------- */

/* A child that fills both pipes at once must not deadlock against the reader. */
Test(launcher, harness_captures_large_stdout_and_stderr)
{
    struct run_result r;
    const char *argv[] = {
        "/bin/sh", "-c",
        "head -c 1000000 /dev/zero | tr '\\0' a & head -c 1000000 /dev/zero | tr '\\0' b >&2; wait", NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, LAUNCH_TIMEOUT_S), 0);
    cr_expect(r.exited && r.status == 0);
    cr_expect_eq(r.out_len, 1000000);
    cr_expect_eq(r.err_len, 1000000);
    cr_expect_eq(strspn(r.out, "a"), 1000000);
    cr_expect_eq(strspn(r.err, "b"), 1000000);
    run_free(&r);
}

Test(launcher, harness_feeds_large_stdin)
{
    size_t n = 3 * 1000 * 1000;
    char *in = malloc(n + 1);
    cr_assert_not_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    in[n] = '\0';
    struct run_result r;
    const char *argv[] = {"cat", NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, in, LAUNCH_TIMEOUT_S), 0);
    cr_expect(r.exited && r.status == 0);
    cr_expect_eq(r.out_len, n);
    cr_expect(r.out_len == n && memcmp(r.out, in, n) == 0);
    run_free(&r);

    /* A child that never reads its stdin costs the runner nothing. */
    const char *argv2[] = {"/bin/true", NULL};
    cr_assert_eq(run(&r, argv2, NULL, 0, in, LAUNCH_TIMEOUT_S), 0);
    cr_expect(r.exited && r.status == 0);
    run_free(&r);
    free(in);
}

/* 1 when pid is gone or a zombie (killed, not yet reaped by its new parent). */
static int process_dead(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

Test(launcher, harness_timeout_kills_the_whole_group)
{
    struct run_result r;
    /* The background sleep's pid comes out first; the foreground waits. */
    const char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!; sleep 30", NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, 1), 0);
    cr_expect(r.timed_out);
    cr_expect(r.signaled);
    cr_expect_eq(r.sig, SIGKILL);
    pid_t bg = (pid_t)atoi(r.out);
    cr_assert_gt(bg, 0, "no pid printed: %s", r.out);
    int dead = 0;
    for (int i = 0; i < 100 && !(dead = process_dead(bg)); i++)
        usleep(10 * 1000);
    cr_expect(dead, "the background child %d survived the timeout", (int)bg);
    run_free(&r);
}

Test(launcher, harness_environment_is_clean)
{
    cr_assert_eq(setenv("SENDSHIM_HARNESS_PROBE", "leaked", 1), 0);
    struct run_result r;
    const char *env[] = {"SENDSHIM_SEED=9", "EXTRA=1", "EXTRA=2", "LD_PRELOAD=libm.so.6", NULL};
    const char *argv[] = {
        "/bin/sh", "-c",
        "printf '%s|%s|%s|%s' \"${SENDSHIM_HARNESS_PROBE-unset}\" \"$SENDSHIM_SEED\" \"$EXTRA\" "
        "\"$LD_PRELOAD\"",
        NULL};
    cr_assert_eq(run(&r, argv, env, 1, NULL, LAUNCH_TIMEOUT_S), 0);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "unset|9|2|%s:libm.so.6", lib_path());
    cr_expect_str_eq(r.out, want);
    run_free(&r);

    const char *argv2[] = {"/bin/sh", "-c", "printf '%s' \"${LD_PRELOAD-unset}\"", NULL};
    cr_assert_eq(run(&r, argv2, NULL, 0, NULL, LAUNCH_TIMEOUT_S), 0);
    cr_expect_str_eq(r.out, "unset");
    run_free(&r);
}

/* Whatever the runner ignores, blocks or has open, the child starts clean. */
Test(launcher, harness_child_state_is_clean)
{
    signal(SIGPIPE, SIG_IGN);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    int extra = open("/dev/null", O_RDONLY); /* not close-on-exec */
    cr_assert_geq(extra, 0);
    struct run_result r;
    const char *argv[] = {"/bin/sh", "-c",
                          "grep -E '^(SigIgn|SigBlk)' /proc/self/status; exec ls /proc/self/fd", NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, LAUNCH_TIMEOUT_S), 0);
    /* Signals 32 and 33 are glibc's own (SIGCANCEL, SIGSETXID): sigaction
     * refuses to touch them, so an ignored one inherited from whoever started
     * the runner cannot be reset and is not the harness's doing. */
    const char *ign = strstr(r.out, "SigIgn:\t");
    cr_assert(ign, "%s", r.out);
    unsigned long long ignored = strtoull(ign + 8, NULL, 16);
    cr_expect_eq(ignored & ~0x180000000ULL, 0, "%s", r.out);
    cr_expect_eq(count_lines(r.out, "SigBlk:\t0000000000000000"), 1, "%s", r.out);
    /* ls's own directory descriptor is the 3. */
    cr_expect(strstr(r.out, "\n0\n1\n2\n3\n") && r.out[strlen(r.out) - 2] == '3', "%s", r.out);
    close(extra);
    run_free(&r);
}

Test(launcher, harness_reports_what_cannot_run)
{
    struct run_result r;
    const char *argv[] = {"/nonexistent/program-of-sendshim", NULL};
    cr_expect_eq(run(&r, argv, NULL, 0, NULL, LAUNCH_TIMEOUT_S), -1);
    const char *argv2[] = {"no-such-program-of-sendshim", NULL};
    cr_expect_eq(run(&r, argv2, NULL, 0, NULL, LAUNCH_TIMEOUT_S), -1);
    cr_expect_eq(count_lines("a x\nb\nx c\nx", "x"), 3);
    cr_expect_eq(count_lines("", "x"), 0);
    cr_expect(have_program("sh"));
    cr_expect_not(have_program("no-such-program-of-sendshim"));
    cr_expect(have_program("/bin/sh"));
}
