/* early - linked against libearly.so, whose constructor sent a datagram
 * before main (and before sendshim's constructor). Prints what it sent and
 * what arrived. With EARLY_MODE set (see early_lib.c), then tries what the
 * constructor set up:
 *   nosigpipe  "setsockopt R getsockopt V", then a send on the socket whose
 *              peer is gone: "send -1 EPIPE" and "alive" (or death by SIGPIPE)
 *   faults     "set_faults R", then a datagram send: "send -1 EAGAIN" */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

extern int early_pair[2];
extern long early_result;
extern int early_stream[2];
extern int early_setup_rc;
extern int early_readback;

static void show(const char *label, long r)
{
    if (r < 0)
        printf("%s -1 %s\n", label, errno == EPIPE ? "EPIPE" : errno == EAGAIN ? "EAGAIN" : strerror(errno));
    else
        printf("%s %ld\n", label, r);
    fflush(stdout);
}

int main(void)
{
    char buf[16] = {0};
    long got = recv(early_pair[1], buf, sizeof buf - 1, MSG_DONTWAIT);
    printf("early send %ld, received %ld '%s'\n", early_result, got, buf);
    const char *mode = getenv("EARLY_MODE");
    if (mode && !strcmp(mode, "nosigpipe")) {
        printf("setsockopt %d getsockopt %d\n", early_setup_rc, early_readback);
        show("send", send(early_stream[0], "x", 1, 0));
        printf("alive\n");
    } else if (mode && !strcmp(mode, "faults")) {
        printf("set_faults %d\n", early_setup_rc);
        show("send", send(early_pair[0], "y", 1, 0));
    }
    return 0;
}
