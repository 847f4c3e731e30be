/* flags_send - one send per flags value, for strace to show what reached the
 * kernel.
 *
 *   flags_send KIND FLAGS...
 *
 * The i-th send (i from 1) carries i bytes, so its strace line is found by
 * its length. Prints "FLAGS RESULT" per send. FLAGS are numbers (0x..).
 */
#include "target.h"

int main(int argc, char **argv)
{
    int s[2];
    static const char payload[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (argc < 3 || (size_t)argc - 2 > sizeof payload - 1) {
        fprintf(stderr, "usage: flags_send KIND FLAGS...\n");
        return 2;
    }
    t_pair(argv[1], s);
    for (int i = 2; i < argc; i++) {
        int flags = (int)strtoul(argv[i], NULL, 0);
        long r = send(s[0], payload, (size_t)(i - 1), flags);
        t_show(argv[i], r, errno);
    }
    return 0;
}
