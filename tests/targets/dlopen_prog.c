/* dlopen_prog LIB - loads the library with dlopen() instead of LD_PRELOAD and
 * calls its send() through dlsym: RTLD_NEXT finds nothing after the library
 * then, so its fallback to the real libc function must work. */
#include "target.h"

int main(int argc, char **argv)
{
    void *h;
    t_send_fn lib_send = t_dlopen_send(argc, argv, &h);
    int (*active)(void) = (int (*)(void))dlsym(h, "sendshim_active");
    int s[2];
    char buf[8] = {0};
    socketpair(AF_UNIX, SOCK_DGRAM, 0, s);
    long sent = lib_send ? lib_send(s[0], "dl", 2, 0) : -3;
    long got = recv(s[1], buf, sizeof buf - 1, MSG_DONTWAIT);
    printf("active %d sent %ld received %ld '%s'\n", active ? active() : -1, sent, got, buf);
    return 0;
}
