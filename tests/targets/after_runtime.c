/* after_runtime - when after= starts counting a descriptor's bytes.
 *
 *   after_runtime set|env
 *
 * On a unix stream socketpair: sends 100 bytes, then (with "set") gives
 * `send:after=50:error=ENOBUFS` through sendshim_set_faults, then sends ten
 * 10-byte chunks. Prints "first OK|ERR", "set RC", then one line per chunk
 * ("chunk N ok" or "chunk N ENOBUFS"), then "peer got N" (bytes the other
 * end read). */
#include "sendshim.h"
#include "target.h"

int main(int argc, char **argv)
{
    int runtime = argc > 1 && !strcmp(argv[1], "set");
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s)) {
        perror("socketpair");
        return 2;
    }
    char buf[100];
    memset(buf, 'x', sizeof buf);
    printf("first %s\n", send(s[0], buf, sizeof buf, 0) == (ssize_t)sizeof buf ? "OK" : "ERR");
    if (runtime)
        printf("set %d\n", sendshim_set_faults("send:after=50:error=ENOBUFS"));
    for (int i = 1; i <= 10; i++) {
        ssize_t r = send(s[0], buf, 10, 0);
        printf("chunk %d %s\n", i, r == 10 ? "ok" : t_errname(errno));
    }
    close(s[0]);
    size_t got = 0;
    ssize_t n;
    while ((n = recv(s[1], buf, sizeof buf, 0)) > 0)
        got += (size_t)n;
    printf("peer got %zu\n", got);
    return 0;
}
