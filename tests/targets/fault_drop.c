/* fault_drop CASE - one datagram send shaped by CASE, its result and what the
 * receiver got, so a test can compare `drop` with the kernel alone:
 *   "CASE RESULT" (the count, or -1 and the errno's name; "-1 errno 0" is a
 *   defect) then "received N" (datagrams that arrived within a short wait).
 *
 * Cases (connected loopback pairs unless named):
 *   udp-ok, udp6-ok, unix-ok     10 bytes: the kernel accepts them
 *   udp-70000, udp-65508         too large for an IPv4 UDP datagram (EMSGSIZE)
 *   udp6-65528                   too large for an IPv6 UDP datagram
 *   udp-sizemax                  send(len = SIZE_MAX)
 *   udp-badbuf, unix-badbuf      an unmapped buffer (EFAULT)
 *   udp-nodest                   an unconnected socket, no address (EDESTADDRREQ)
 *   udp-refused                  a connected socket after an ICMP port
 *                                unreachable (ECONNREFUSED), then one more send
 *   udp-mmsg-big                 sendmmsg of 3, the second 70000 bytes
 *   unix-big                     SO_SNDBUF - 31 bytes (EMSGSIZE)
 *   unix-unconnected             a unix datagram socket with no peer (ENOTCONN)
 */
#include <poll.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "target.h"

static char big[300000];

static void result(const char *what, long r)
{
    if (r < 0 && errno == 0)
        printf("%s -1 errno 0\n", what);
    else
        t_show(what, r, errno);
}

static void received(int fd)
{
    int n = 0;
    char b[16];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (fd >= 0 && poll(&p, 1, 100) > 0 && recv(fd, b, sizeof b, MSG_DONTWAIT) >= 0)
        n++;
    printf("received %d\n", n);
}

/* An address no page backs. */
static void *unmapped(void)
{
    void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        t_die("mmap");
    munmap(p, 4096);
    return p;
}

static int udp_refused(void)
{
    int s[2];
    t_pair("udp", s);
    close(s[1]); /* nobody on the port: the first send brings an ICMP port unreachable */
    if (send(s[0], big, 10, 0) != 10)
        t_die("send");
    usleep(50000);
    errno = 0;
    result("udp-refused", send(s[0], big, 10, 0));
    errno = 0;
    result("again", send(s[0], big, 10, 0));
    return 0;
}

static int udp_mmsg_big(void)
{
    int s[2];
    t_pair("udp", s);
    struct iovec v[3] = {{big, 10}, {big, 70000}, {big, 10}};
    struct mmsghdr mm[3];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &v[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    errno = 0;
    result("udp-mmsg-big", sendmmsg(s[0], mm, 3, 0));
    received(s[1]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    const char *c = argv[1];
    int s[2] = {-1, -1};
    const void *buf = big;
    size_t len = 10;
    if (!strcmp(c, "udp-refused"))
        return udp_refused();
    if (!strcmp(c, "udp-mmsg-big"))
        return udp_mmsg_big();
    if (!strcmp(c, "udp-nodest")) {
        s[0] = socket(AF_INET, SOCK_DGRAM, 0);
    } else if (!strcmp(c, "unix-unconnected")) {
        s[0] = socket(AF_UNIX, SOCK_DGRAM, 0);
    } else {
        t_pair(!strncmp(c, "udp6", 4) ? "udp6" : !strncmp(c, "udp", 3) ? "udp" : "unix-dgram", s);
    }
    if (!strcmp(c, "udp-70000"))
        len = 70000;
    else if (!strcmp(c, "udp-65508"))
        len = 65508;
    else if (!strcmp(c, "udp6-65528"))
        len = 65528;
    else if (!strcmp(c, "udp-sizemax"))
        len = SIZE_MAX;
    else if (strstr(c, "badbuf"))
        buf = unmapped();
    else if (!strcmp(c, "unix-big")) {
        int sndbuf = 0;
        socklen_t sl = sizeof sndbuf;
        getsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl);
        len = (size_t)sndbuf - 31;
        if (len > sizeof big)
            t_die("SO_SNDBUF above the buffer");
    } else if (!strstr(c, "-ok") && strcmp(c, "udp-nodest") && strcmp(c, "unix-unconnected")) {
        fprintf(stderr, "fault_drop: unknown case %s\n", c);
        return 2;
    }
    errno = 0;
    result(c, send(s[0], buf, len, 0));
    received(s[1]);
    return 0;
}
