/* stress_secure LIB - loads the library with dlopen() and sends through its
 * send(), to show what its constructor made of the environment. Run as a
 * setuid/setgid copy, the process is in secure-execution mode (AT_SECURE),
 * where the loader would ignore LD_PRELOAD of a library outside the system
 * directories; dlopen() of an absolute path still loads it, so the library's
 * own decision is what this shows. Prints
 *   secure=N send R[ ERRNO]
 * where R is what the library's send returned on a unix dgram pair. */
#include <sys/auxv.h>

#include "target.h"

int main(int argc, char **argv)
{
    t_send_fn lib_send = t_dlopen_send(argc, argv, NULL);
    int s[2];
    if (!lib_send || socketpair(AF_UNIX, SOCK_DGRAM, 0, s))
        return 1;
    long r = lib_send(s[0], "hi", 2, 0);
    int err = errno;
    printf("secure=%lu ", getauxval(AT_SECURE));
    t_show("send", r, err);
    return 0;
}
