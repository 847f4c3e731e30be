/* early - linked against libearly.so, whose constructor sent a datagram
 * before main (and before sendshim's constructor). Prints what it sent and
 * what arrived. */
#include <stdio.h>
#include <sys/socket.h>

extern int early_pair[2];
extern long early_result;

int main(void)
{
    char buf[16] = {0};
    long got = recv(early_pair[1], buf, sizeof buf - 1, MSG_DONTWAIT);
    printf("early send %ld, received %ld '%s'\n", early_result, got, buf);
    return 0;
}
