/* fault_mmsg_resend - a sendmmsg sender that handles a short count the way
 * sendmmsg(2) says it must: resend from the first message not sent.
 *
 *   fault_mmsg_resend N    N datagrams "0".."N-1" over loopback UDP
 *
 * Prints "calls C" (sendmmsg calls it took) and "received 0 1 2 ..." in the
 * order the receiver got them. */
#include <sys/uio.h>

#include "target.h"

#define MAX_MSGS 64

int main(int argc, char **argv)
{
    int s[2];
    if (argc != 2)
        return 2;
    int n = atoi(argv[1]);
    if (n < 1 || n > MAX_MSGS)
        return 2;
    t_pair("udp", s);
    char text[MAX_MSGS][4];
    struct iovec iov[MAX_MSGS];
    struct mmsghdr vec[MAX_MSGS];
    memset(vec, 0, sizeof vec);
    for (int i = 0; i < n; i++) {
        snprintf(text[i], sizeof text[i], "%d", i);
        iov[i].iov_base = text[i];
        iov[i].iov_len = strlen(text[i]);
        vec[i].msg_hdr.msg_iov = &iov[i];
        vec[i].msg_hdr.msg_iovlen = 1;
    }
    int done = 0, calls = 0;
    while (done < n) {
        int r = sendmmsg(s[0], vec + done, (unsigned)(n - done), 0);
        calls++;
        if (r < 0)
            t_die("sendmmsg");
        for (int i = 0; i < r; i++)
            if (vec[done + i].msg_len != iov[done + i].iov_len)
                t_die("msg_len");
        done += r;
    }
    printf("calls %d\nreceived", calls);
    char buf[16];
    long got;
    while ((got = recv(s[1], buf, sizeof buf - 1, MSG_DONTWAIT)) > 0) {
        buf[got] = '\0';
        printf(" %s", buf);
    }
    printf("\n");
    return 0;
}
