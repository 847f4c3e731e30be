/* dlopen_prog LIB - loads the library with dlopen() instead of LD_PRELOAD and
 * calls its send() through dlsym: RTLD_NEXT finds nothing after the library
 * then, so its fallback to the real libc function must work. */
#include <dlfcn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("dlopen failed: %s\n", dlerror());
        return 1;
    }
    ssize_t (*lib_send)(int, const void *, size_t, int) =
        (ssize_t(*)(int, const void *, size_t, int))dlsym(h, "send");
    int (*active)(void) = (int (*)(void))dlsym(h, "sendshim_active");
    int s[2];
    char buf[8] = {0};
    socketpair(AF_UNIX, SOCK_DGRAM, 0, s);
    long sent = lib_send ? lib_send(s[0], "dl", 2, 0) : -3;
    long got = recv(s[1], buf, sizeof buf - 1, MSG_DONTWAIT);
    printf("active %d sent %ld received %ld '%s'\n", active ? active() : -1, sent, got, buf);
    return 0;
}
