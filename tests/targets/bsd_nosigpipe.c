/* bsd_nosigpipe - SO_NOSIGPIPE set the way code compiled with BSD numbers
 * sets it, then writes to a socket whose peer closed.
 *
 *   bsd_nosigpipe WAY
 *
 * WAY names the (level, option) pair, in the BSDs' own numbers:
 *   bsd          0xffff, 0x0800  FreeBSD's and NetBSD's SO_NOSIGPIPE
 *   macos        0xffff, 0x1022  macOS's SO_NOSIGPIPE
 *   macos-linux  SOL_SOCKET, 0x1022: macOS's number at Linux's level
 *   bsd-type     0xffff, 0x1008  BSD SO_TYPE: any other level-0xffff option
 * Prints "setsockopt RESULT", "getsockopt V" (or "getsockopt -1 ERRNO"), the
 * result of two writes, then "alive"; dies of SIGPIPE if it is raised. */
#include <signal.h>

#include "sendshim.h"
#include "target.h"

#define BSD_SOL_SOCKET       0xffff
#define FREEBSD_SO_NOSIGPIPE 0x0800
#define MACOS_SO_NOSIGPIPE   0x1022
#define BSD_SO_TYPE          0x1008
#define WRITES               2

int main(int argc, char **argv)
{
    int level, name;
    if (argc != 2)
        return 2;
    if (!strcmp(argv[1], "bsd")) {
        level = BSD_SOL_SOCKET;
        name = FREEBSD_SO_NOSIGPIPE;
    } else if (!strcmp(argv[1], "macos")) {
        level = BSD_SOL_SOCKET;
        name = MACOS_SO_NOSIGPIPE;
    } else if (!strcmp(argv[1], "macos-linux")) {
        level = SOL_SOCKET;
        name = MACOS_SO_NOSIGPIPE;
    } else if (!strcmp(argv[1], "bsd-type")) {
        level = BSD_SOL_SOCKET;
        name = BSD_SO_TYPE;
    } else {
        return 2;
    }
    signal(SIGPIPE, SIG_DFL);
    int s[2], on = 1, v = -1;
    socklen_t len = sizeof v;
    t_pair("unix-stream", s);
    long r = setsockopt(s[0], level, name, &on, sizeof on);
    t_show("setsockopt", r, errno);
    if (getsockopt(s[0], level, name, &v, &len))
        t_show("getsockopt", -1, errno);
    else
        printf("getsockopt %d len %u\n", v, (unsigned)len);
    fflush(stdout);
    close(s[1]);
    for (int i = 0; i < WRITES; i++) {
        r = write(s[0], "x", 1);
        t_show("write", r, errno);
    }
    printf("alive\n");
    return 0;
}
