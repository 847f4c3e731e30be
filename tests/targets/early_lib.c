/* early_lib.c - built as build/targets/libearly.so: a library whose
 * constructor sends before sendshim's constructor has run (the loader runs
 * the constructors of a program's own libraries before those of LD_PRELOAD
 * objects that were loaded earlier). */
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int early_pair[2] = {-1, -1};
long early_result = -2;

__attribute__((constructor)) static void early_send(void)
{
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, early_pair) == 0)
        early_result = send(early_pair[0], "early", 5, 0);
}
