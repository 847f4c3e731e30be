/* test_install.c - make install / make uninstall (issue 8, SPEC section 1):
 * - a staged install (DESTDIR) puts exactly the documented files there, with
 *   their modes and contents; the installed launcher runs a real program
 *   with the installed library; pkg-config answers from the installed .pc;
 *   installing twice then uninstalling leaves DESTDIR empty;
 * - an install into a plain PREFIX works for a program built with
 *   `pkg-config --cflags --libs sendshim`, and uninstall removes only what
 *   install created (directories and files that were there before stay);
 * - a relative PREFIX is refused; uninstall with nothing installed is a no-op.
 * make runs in the source tree (SENDSHIM_TOP); the builds of parallel tests
 * are serialized with a lock file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define T      20  /* seconds a spawned program may take */
#define MAKE_T 120 /* seconds make may take (it may have to build the library) */

static int run_make(struct run_result *r, const char *target, const char *prefix, const char *destdir)
{
    char pre[4200], dest[4200], lock[4200];
    snprintf(pre, sizeof pre, "PREFIX=%s", prefix);
    snprintf(dest, sizeof dest, "DESTDIR=%s", destdir ? destdir : "");
    snprintf(lock, sizeof lock, "%s/build/.install.lock", top_dir());
    const char *argv[] = {"make", "-s", "--no-print-directory", "-C", top_dir(), target, pre, dest, NULL};
    /* Not the outer make's jobserver: its descriptors are not inherited. */
    const char *env[] = {"MAKEFLAGS=", "MAKELEVEL=", "MFLAGS=", NULL};
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "%s: %s", lock, strerror(errno));
    flock(fd, LOCK_EX);
    int ret = run(r, argv, env, 0, NULL, MAKE_T);
    flock(fd, LOCK_UN);
    close(fd);
    cr_assert_eq(ret, 0, "could not run make");
    cr_assert(!r->timed_out, "make %s timed out", target);
    return r->exited ? r->status : -1;
}

static void make_ok(const char *target, const char *prefix, const char *destdir)
{
    struct run_result r;
    int status = run_make(&r, target, prefix, destdir);
    cr_assert_eq(status, 0, "make %s PREFIX=%s DESTDIR=%s failed:\n%s%s", target, prefix,
                 destdir ? destdir : "", r.out, r.err);
    run_free(&r);
}

static void tmp_dir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/sendshim-install-XXXXXX");
    cr_assert_not_null(mkdtemp(buf), "mkdtemp: %s", strerror(errno));
}

static void rm_rf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

/* `find DIR -mindepth 1` sorted, with DIR cut from each line. */
static char *tree(const char *dir)
{
    struct run_result r;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "cd '%s' && find . -mindepth 1 | LC_ALL=C sort", dir);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
    cr_assert(r.exited && r.status == 0, "find failed: %s", r.err);
    free(r.err);
    return r.out;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* The installed file exists, has `mode`, and has the bytes of `src` (a path
 * under the source tree; NULL: not compared). */
static void expect_file(const char *root, const char *rel, mode_t mode, const char *src)
{
    char path[4200];
    snprintf(path, sizeof path, "%s%s", root, rel);
    struct stat st;
    if (lstat(path, &st) != 0) {
        cr_expect_fail("%s is not installed", rel);
        return;
    }
    cr_expect(S_ISREG(st.st_mode), "%s is not a regular file", rel);
    cr_expect_eq(st.st_mode & 07777, mode, "%s has mode %o, not %o", rel, (unsigned)(st.st_mode & 07777),
                 (unsigned)mode);
    if (!src)
        return;
    char spath[4200];
    snprintf(spath, sizeof spath, "%s/%s", top_dir(), src);
    size_t a_len = 0, b_len = 0;
    char *a = slurp(path, &a_len), *b = slurp(spath, &b_len);
    cr_expect(a && b && a_len == b_len && memcmp(a, b, a_len) == 0, "%s differs from %s", rel, src);
    free(a);
    free(b);
}

/* pkg-config ARGS... with PKG_CONFIG_PATH=pcdir; returns stdout (malloc'd). */
static char *pkg_config(const char *pcdir, const char *arg1, const char *arg2)
{
    char env_path[4200];
    snprintf(env_path, sizeof env_path, "PKG_CONFIG_PATH=%s", pcdir);
    const char *env[] = {env_path, "PKG_CONFIG_LIBDIR=", NULL};
    const char *argv[] = {"pkg-config", arg1, arg2, NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, env, 0, NULL, T), 0);
    cr_expect(r.exited && r.status == 0, "pkg-config %s %s failed: %s", arg1, arg2, r.err);
    free(r.err);
    /* pkgconf ends --cflags with a blank before the newline; pkg-config not. */
    size_t n = r.out_len;
    while (n > 0 && (r.out[n - 1] == ' ' || r.out[n - 1] == '\n'))
        n--;
    r.out[n] = '\0';
    return r.out;
}

static const char py_send[] = "import socket\n"
                              "a, b = socket.socketpair()\n"
                              "print('sent', a.send(b'installed'), b.recv(64))\n";

Test(install, staged_install_works_and_uninstall_leaves_nothing)
{
    char dest[64], root[128];
    tmp_dir(dest, sizeof dest);
    snprintf(root, sizeof root, "%s/usr/local", dest);
    make_ok("install", "/usr/local", dest);
    /* Installing again over it is fine and changes nothing. */
    make_ok("install", "/usr/local", dest);

    expect_file(root, "/bin/sendshim", 0755, "scripts/sendshim");
    expect_file(root, "/lib/libsendshim.so", 0644, "build/libsendshim.so");
    expect_file(root, "/lib/sendshim/sendshim-ctl", 0755, "build/sendshim-ctl");
    expect_file(root, "/include/sendshim.h", 0644, "shim/sendshim.h");
    expect_file(root, "/share/man/man1/sendshim.1", 0644, "man/sendshim.1");
    expect_file(root, "/share/man/man7/sendshim.7", 0644, "man/sendshim.7");
    expect_file(root, "/lib/pkgconfig/sendshim.pc", 0644, NULL);
    expect_file(root, "/share/sendshim/installed-dirs", 0644, NULL);

    /* Nothing else: exactly the files and the directories holding them. */
    char *t = tree(dest);
    cr_expect_str_eq(t, "./usr\n./usr/local\n./usr/local/bin\n./usr/local/bin/sendshim\n"
                        "./usr/local/include\n./usr/local/include/sendshim.h\n"
                        "./usr/local/lib\n./usr/local/lib/libsendshim.so\n./usr/local/lib/pkgconfig\n"
                        "./usr/local/lib/pkgconfig/sendshim.pc\n./usr/local/lib/sendshim\n"
                        "./usr/local/lib/sendshim/sendshim-ctl\n./usr/local/share\n./usr/local/share/man\n"
                        "./usr/local/share/man/man1\n./usr/local/share/man/man1/sendshim.1\n"
                        "./usr/local/share/man/man7\n./usr/local/share/man/man7/sendshim.7\n"
                        "./usr/local/share/sendshim\n./usr/local/share/sendshim/installed-dirs\n");
    free(t);

    /* The .pc file describes the final location, not the staging area. */
    if (have_program("pkg-config")) {
        char pcdir[160];
        snprintf(pcdir, sizeof pcdir, "%s/lib/pkgconfig", root);
        char *out = pkg_config(pcdir, "--variable=libdir", "sendshim");
        cr_expect_str_eq(out, "/usr/local/lib");
        free(out);
        out = pkg_config(pcdir, "--variable=preload", "sendshim");
        cr_expect_str_eq(out, "/usr/local/lib/libsendshim.so");
        free(out);
        out = pkg_config(pcdir, "--modversion", "sendshim");
        cr_expect(out[0] && !strchr(out, '@'), "version not filled in: '%s'", out);
        free(out);
    }

    /* The installed launcher finds the installed library (../lib) and runs
     * a real program with it. */
    char launcher[160];
    snprintf(launcher, sizeof launcher, "%s/bin/sendshim", root);
    struct run_result r;
    const char *penv[] = {launcher, "--print-env", NULL};
    cr_assert_eq(run(&r, penv, NULL, 0, NULL, T), 0);
    char want[256];
    snprintf(want, sizeof want, "LD_PRELOAD='%s/lib/libsendshim.so'\n", root);
    cr_expect_str_eq(r.out, want, "stderr: %s", r.err);
    run_free(&r);
    if (have_program("python3")) {
        const char *argv[] = {launcher, "--trace", "--", "python3", "-c", py_send, NULL};
        cr_assert_eq(run(&r, argv, NULL, 0, NULL, T), 0);
        cr_expect(r.exited && r.status == 0, "installed sendshim failed: %s", r.err);
        cr_expect_str_eq(r.out, "sent 9 b'installed'\n");
        cr_expect_eq(count_lines(r.err, "trace: send(fd="), 1,
                     "no trace line from the installed library:\n%s", r.err);
        run_free(&r);
    }

    /* The installed launcher finds its helper (../lib/sendshim) for ctl. */
    char control[200];
    snprintf(control, sizeof control, "%s/control", dest);
    const char *init[] = {launcher, "ctl", control, "init", NULL};
    cr_assert_eq(run(&r, init, NULL, 0, NULL, T), 0);
    cr_expect(r.exited && r.status == 0, "installed sendshim ctl failed: %s", r.err);
    run_free(&r);
    const char *show[] = {launcher, "ctl", control, "show", NULL};
    cr_assert_eq(run(&r, show, NULL, 0, NULL, T), 0);
    cr_expect(r.exited && r.status == 0 && strstr(r.out, "processes:"), "%s %s", r.out, r.err);
    run_free(&r);
    unlink(control);

    make_ok("uninstall", "/usr/local", dest);
    t = tree(dest);
    cr_expect_str_eq(t, "", "uninstall left:\n%s", t);
    free(t);
    rm_rf(dest);
}

/* A test program that uses the installed header, built with pkg-config. */
static const char api_prog[] =
    "#include <stdio.h>\n"
    "#include <sys/socket.h>\n"
    "#include <sendshim.h>\n"
    "int main(void)\n"
    "{\n"
    "    int sv[2];\n"
    "    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)\n"
    "        return 1;\n"
    "    int set = sendshim_set_faults(\"send:error=EAGAIN\");\n"
    "    long n = (long)send(sv[0], \"x\", 1, 0);\n"
    "    printf(\"active %d set %d send %ld so_nosigpipe %d\\n\", sendshim_active(), set, "
    "n, SO_NOSIGPIPE);\n"
    "    return 0;\n"
    "}\n";

Test(install, prefix_install_builds_with_pkg_config_and_uninstall_keeps_what_was_there)
{
    if (!have_program("pkg-config"))
        cr_skip_test("pkg-config is not installed");
    char prefix[64];
    tmp_dir(prefix, sizeof prefix);
    /* There before: an empty bin, an empty man7 and a file in lib. */
    char path[4200];
    snprintf(path, sizeof path, "%s/bin", prefix);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/share", prefix);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/share/man", prefix);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/share/man/man7", prefix);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/lib", prefix);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/lib/other.txt", prefix);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("not ours\n", f);
    fclose(f);
    char *before = tree(prefix);

    make_ok("install", prefix, NULL);

    char pcdir[160];
    snprintf(pcdir, sizeof pcdir, "%s/lib/pkgconfig", prefix);
    char *out = pkg_config(pcdir, "--cflags", "sendshim");
    char want[256];
    snprintf(want, sizeof want, "-I%s/include", prefix);
    cr_expect_str_eq(out, want);
    free(out);
    out = pkg_config(pcdir, "--variable=libdir", "sendshim");
    snprintf(want, sizeof want, "%s/lib", prefix);
    cr_expect_str_eq(out, want);
    free(out);

    /* cc $(pkg-config --cflags --libs sendshim): the installed header's API
     * works without the library and under the installed launcher. */
    char src[160], exe[160];
    snprintf(src, sizeof src, "%s/api.c", prefix);
    snprintf(exe, sizeof exe, "%s/api", prefix);
    f = fopen(src, "w");
    cr_assert_not_null(f);
    fputs(api_prog, f);
    fclose(f);
    char cmd[4200], env_path[4200];
    snprintf(cmd, sizeof cmd, "cc -o '%s' '%s' $(pkg-config --cflags --libs sendshim)", exe, src);
    snprintf(env_path, sizeof env_path, "PKG_CONFIG_PATH=%s", pcdir);
    const char *cc_env[] = {env_path, NULL};
    const char *cc_argv[] = {"sh", "-c", cmd, NULL};
    struct run_result r;
    cr_assert_eq(run(&r, cc_argv, cc_env, 0, NULL, T), 0);
    cr_assert(r.exited && r.status == 0, "building against the installed header failed:\n%s", r.err);
    run_free(&r);

    const char *plain_argv[] = {exe, NULL};
    cr_assert_eq(run(&r, plain_argv, NULL, 0, NULL, T), 0);
    cr_expect_str_eq(r.out, "active 0 set -1 send 1 so_nosigpipe 2048\n");
    run_free(&r);
    char launcher[160];
    snprintf(launcher, sizeof launcher, "%s/bin/sendshim", prefix);
    const char *shim_argv[] = {launcher, "--", exe, NULL};
    cr_assert_eq(run(&r, shim_argv, NULL, 0, NULL, T), 0);
    cr_expect(r.exited && r.status == 0, "%s", r.err);
    cr_expect_str_eq(r.out, "active 1 set 0 send -1 so_nosigpipe 2048\n", "stderr: %s", r.err);
    cr_expect_gt(count_lines(r.err, "fault rule 1"), 0, "%s", r.err);
    run_free(&r);
    unlink(src);
    unlink(exe);

    make_ok("uninstall", prefix, NULL);
    char *after = tree(prefix);
    cr_expect_str_eq(after, before, "uninstall did not restore the prefix");
    free(before);
    free(after);
    rm_rf(prefix);
}

Test(install, relative_prefix_is_refused)
{
    char dest[64];
    tmp_dir(dest, sizeof dest);
    struct run_result r;
    int status = run_make(&r, "install", "relative/dir", dest);
    cr_expect_neq(status, 0, "a relative PREFIX was accepted");
    cr_expect_neq(strstr(r.err, "is not an absolute path"), NULL, "%s", r.err);
    run_free(&r);
    char *t = tree(dest);
    cr_expect_str_eq(t, "", "a refused install left:\n%s", t);
    free(t);
    rm_rf(dest);
}

Test(install, uninstall_without_install_removes_nothing)
{
    char prefix[64];
    tmp_dir(prefix, sizeof prefix);
    char path[4200];
    snprintf(path, sizeof path, "%s/bin", prefix);
    cr_assert_eq(mkdir(path, 0755), 0);
    make_ok("uninstall", prefix, NULL);
    char *t = tree(prefix);
    cr_expect_str_eq(t, "./bin\n");
    free(t);
    rm_rf(prefix);
}
