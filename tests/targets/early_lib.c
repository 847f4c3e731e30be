/* early_lib.c - built as build/targets/libearly.so: a library whose
 * constructor uses the network before sendshim's constructor has run (the
 * loader runs the constructors of a program's own libraries before those of
 * LD_PRELOAD objects that were loaded earlier).
 *
 * EARLY_MODE (read by the constructor) says what it does besides sending a
 * datagram on early_pair:
 *   nosigpipe  sets SO_NOSIGPIPE on early_stream[0] (a unix stream
 *              socketpair whose other end it closes) and reads it back
 *   faults     installs "send:error=EAGAIN" with sendshim_set_faults()
 * The results are in early_setup_rc and early_readback. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sendshim.h"

int early_pair[2] = {-1, -1};
long early_result = -2;
int early_stream[2] = {-1, -1};
int early_setup_rc = -2;
int early_readback = -2;

static void set_nosigpipe(void)
{
    int on = 1;
    socklen_t len = sizeof early_readback;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, early_stream))
        return;
    close(early_stream[1]);
    early_setup_rc = setsockopt(early_stream[0], SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
    getsockopt(early_stream[0], SOL_SOCKET, SO_NOSIGPIPE, &early_readback, &len);
}

__attribute__((constructor)) static void early_send(void)
{
    const char *mode = getenv("EARLY_MODE");
    if (mode && !strcmp(mode, "nosigpipe"))
        set_nosigpipe();
    else if (mode && !strcmp(mode, "faults"))
        early_setup_rc = sendshim_set_faults("send:error=EAGAIN");
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, early_pair) == 0)
        early_result = send(early_pair[0], "early", 5, 0);
}
