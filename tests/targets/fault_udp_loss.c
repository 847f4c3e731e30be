/* fault_udp_loss - N numbered datagrams over loopback UDP; counts what
 * arrives.
 *
 *   fault_udp_loss N       prints "sent S received R" and "reported B bytes"
 *
 * Each send is checked to report its full length (a dropped datagram must
 * look sent). Loopback delivery is synchronous, so the receiver drains after
 * every send and no datagram is lost to a full buffer. */
#include <stdint.h>

#include "target.h"

int main(int argc, char **argv)
{
    int s[2];
    if (argc != 2)
        return 2;
    long n = atol(argv[1]), sent = 0, received = 0, bytes = 0;
    t_pair("udp", s);
    for (long i = 0; i < n; i++) {
        uint64_t seq = (uint64_t)i;
        long r = send(s[0], &seq, sizeof seq, 0);
        if (r != (long)sizeof seq)
            t_die("send");
        sent++;
        bytes += r;
        uint64_t got;
        while (recv(s[1], &got, sizeof got, MSG_DONTWAIT) == (long)sizeof got)
            received++;
    }
    printf("sent %ld received %ld\nreported %ld bytes\n", sent, received, bytes);
    return 0;
}
