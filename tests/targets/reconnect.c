/* reconnect.c - one UDP socket connected to two receivers in turn:
 *
 *   reconnect ROUNDS PORT_A PORT_B [raw]
 *
 * binds receivers A and B on 127.0.0.1 at the two ports, then connects the sender to A, B, A (three phases)
 * and sends ROUNDS one-byte datagrams with send() in each, printing per phase "phase N to X: ok=K err=E
 * last=NAME", and at the end what each receiver got: "received A=N B=M". The peer= rules of the test name A's
 * port, so a library that does not see the re-connect decides by a stale peer.
 *
 * With "raw" there are two phases, A then B, and the second runs on a new
 * socket made behind libc's back at the same number: the first closed, the
 * second made and connected to B with raw system calls the library cannot
 * see. */
#include <sys/syscall.h>

#include "target.h"

static int bound_udp(int port)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((unsigned short)port)};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a))
        return -1;
    return s;
}

static int drain(int s)
{
    char b[16];
    int n = 0;
    while (recv(s, b, sizeof b, MSG_DONTWAIT) >= 0)
        n++;
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: reconnect ROUNDS PORT_A PORT_B [raw]\n");
        return 2;
    }
    int rounds = atoi(argv[1]), pa = atoi(argv[2]), pb = atoi(argv[3]);
    int raw = argc == 5 && !strcmp(argv[4], "raw");
    int ra = bound_udp(pa), rb = bound_udp(pb);
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    if (ra < 0 || rb < 0 || tx < 0) {
        perror("reconnect: socket");
        return 2;
    }
    const int order[3] = {pa, pb, pa};
    int got_a = 0, got_b = 0;
    for (int phase = 0; phase < (raw ? 2 : 3); phase++) {
        struct sockaddr_in to = {.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                 .sin_port = htons((unsigned short)order[phase])};
        int behind = raw && phase == 1;
        if (behind) {
            long old = tx;
            syscall(SYS_close, old);
            tx = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
            if (tx != old) {
                fprintf(stderr, "reconnect: the new socket is %d, not %ld\n", tx, old);
                return 2;
            }
        }
        if (behind ? syscall(SYS_connect, tx, (struct sockaddr *)&to, sizeof to)
                   : connect(tx, (struct sockaddr *)&to, sizeof to)) {
            perror("reconnect: connect");
            return 2;
        }
        int ok = 0, err = 0, last = 0;
        for (int i = 0; i < rounds; i++) {
            if (send(tx, "x", 1, 0) == 1) {
                ok++;
            } else {
                err++;
                last = errno;
            }
            got_a += drain(ra);
            got_b += drain(rb);
        }
        printf("phase %d to %s: ok=%d err=%d last=%s\n", phase + 1, order[phase] == pa ? "A" : "B", ok, err,
               last ? t_errname(last) : "0");
    }
    printf("received A=%d B=%d\n", got_a, got_b);
    return 0;
}
