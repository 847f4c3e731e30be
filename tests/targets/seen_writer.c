/* seen_writer - writes to a socket with write, writev, sendfile, sendfile64
 * and splice, and the same calls to a file and a pipe, for the tests of
 * SENDSHIM_TRACE and SENDSHIM_STATS (they must see exactly the socket calls).
 *
 *   seen_writer KIND      (KIND as t_pair: tcp, unix-stream, ...)
 *
 * Prints "socket S file F pipe P source SRC" (the descriptors written to,
 * and the file sendfile reads), one line per call with its result, and at
 * the end "peer received N": the bytes the socket's peer read, the oracle
 * for the byte counts. The socket calls send
 * 100 (write), 200 (writev of 3 iovecs), 3000 (sendfile), 1000 (sendfile64)
 * and 400 (splice) bytes, and one sendfile fails (EBADF: a closed in_fd). */
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

#include "target.h"

#define BIG 4096 /* more than any one call sends */

static char data[BIG];

/* "label result": errno read after the call (an argument beside it may be
 * read before). */
static void show(const char *label, long ret)
{
    t_show(label, ret, errno);
}

/* A file holding BIG bytes, its offset back at 0. */
static int source_file(void)
{
    char path[] = "/tmp/seen_writer.XXXXXX";
    int f = mkstemp(path);
    if (f < 0 || write(f, data, BIG) != BIG)
        t_die("source file");
    unlink(path);
    return f;
}

/* A pipe holding n bytes: p[0] is read by splice. */
static void full_pipe(int p[2], size_t n)
{
    if (pipe(p) || write(p[1], data, n) != (ssize_t)n)
        t_die("pipe");
}

/* The five calls, each sending a different number of bytes to out. */
static void write_all_ways(const char *to, int out, int src)
{
    char label[64];
    struct iovec iov[3] = {{data, 50}, {data, 0}, {data, 150}};
    off_t off = 0;
    off64_t off64 = 0;
    int p[2];
    snprintf(label, sizeof label, "%s write", to);
    show(label, write(out, data, 100));
    snprintf(label, sizeof label, "%s writev", to);
    show(label, writev(out, iov, 3));
    snprintf(label, sizeof label, "%s sendfile", to);
    show(label, sendfile(out, src, &off, 3000));
    snprintf(label, sizeof label, "%s sendfile64", to);
    show(label, sendfile64(out, src, &off64, 1000));
    full_pipe(p, 400);
    snprintf(label, sizeof label, "%s splice", to);
    show(label, splice(p[0], NULL, out, NULL, 400, 0));
    close(p[0]);
    close(p[1]);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seen_writer KIND\n");
        return 2;
    }
    int s[2], p[2];
    t_pair(argv[1], s);
    int src = source_file();
    char path[] = "/tmp/seen_writer_out.XXXXXX";
    int file = mkstemp(path);
    if (file < 0)
        t_die("mkstemp");
    unlink(path);
    if (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, 1 << 16) < 0)
        t_die("pipe");
    printf("socket %d file %d pipe %d source %d\n", s[0], file, p[1], src);
    write_all_ways("socket", s[0], src);
    write_all_ways("file", file, src);
    /* A pipe: plain calls only (the pipe's capacity holds them all). */
    show("pipe write", write(p[1], data, 100));
    /* A failing sendfile to the socket: its in_fd is closed. */
    int closed = dup(src);
    close(closed);
    off_t off = 0;
    show("socket sendfile closed", sendfile(s[0], closed, &off, 10));

    if (shutdown(s[0], SHUT_WR))
        t_die("shutdown");
    long got = 0;
    char buf[BIG];
    ssize_t n;
    while ((n = read(s[1], buf, sizeof buf)) > 0)
        got += n;
    printf("peer received %ld\n", got);
    return 0;
}
