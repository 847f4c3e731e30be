/* bsd_portable - a program written the BSD way, compiled on Linux with
 * shim/sendshim.h: it uses MSG_EOF and SO_NOSIGPIPE unchanged.
 *
 * A client sends its request with MSG_EOF (no separate shutdown); the server
 * reads until EOF, answers and closes. The client, protected by SO_NOSIGPIPE,
 * then keeps writing to the closed connection and must see EPIPE, not die.
 * Without the library the server never sees EOF and the client dies of
 * SIGPIPE.
 */
#include <poll.h>
#include <signal.h>

#include "sendshim.h"
#include "target.h"

#define WAIT_MS 500

int main(void)
{
    int s[2], on = 1, v = 0;
    socklen_t len = sizeof v;
    signal(SIGPIPE, SIG_DFL);
    t_pair("tcp", s);
    int client = s[0], server = s[1];

    if (setsockopt(client, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on) == 0 &&
        getsockopt(client, SOL_SOCKET, SO_NOSIGPIPE, &v, &len) == 0)
        printf("SO_NOSIGPIPE %s\n", v ? "on" : "off");
    else
        printf("SO_NOSIGPIPE unsupported\n");

    long r = send(client, "request", 7, MSG_EOF);
    t_show("send MSG_EOF", r, errno);

    char buf[64];
    long got = 0;
    int eof = 0;
    for (;;) {
        struct pollfd p = {.fd = server, .events = POLLIN};
        if (poll(&p, 1, WAIT_MS) <= 0)
            break;
        ssize_t n = read(server, buf, sizeof buf);
        if (n <= 0) {
            eof = n == 0;
            break;
        }
        got += n;
    }
    printf("server read %ld bytes, %s\n", got, eof ? "then EOF" : "no EOF");
    if (write(server, "reply", 5) != 5)
        t_die("reply");
    close(server);
    ssize_t n = read(client, buf, sizeof buf);
    printf("client read %ld bytes\n", (long)n);
    fflush(stdout);
    for (int i = 0; i < 3; i++) {
        r = write(client, "more", 4);
        t_show("write after close", r, errno);
    }
    printf("alive\n");
    return 0;
}
