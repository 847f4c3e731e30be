/* diffprog - the scripted sender of the differential test
 * (tests/integration/test_differential.c).
 *
 *   diffprog KIND PORT PORT2 CALL...
 *
 * KIND is tcp4, tcp6, udp4, udp6 (over 127.0.0.1 or ::1), unixs or unixd (a
 * socketpair). The sending socket is made first, so it is always descriptor
 * 3. The receiving side: TCP the accepted socket of a listener on PORT; UDP
 * a socket bound to PORT (receiver A) and one bound to PORT2 (receiver B),
 * the sender connected to A; a socketpair's other end. A port already in use
 * is exit status 77 (the test picks another).
 *
 * Each CALL is NAME,FLAGS,DST,LEN[+LEN...]: NAME send, sendto, sendmsg or
 * sendmmsg; FLAGS in hexadecimal, passed as they are (the test writes them
 * in the flag style it configures); DST 0 for no address, 1 for receiver
 * A's, 2 for receiver B's (sendto, sendmsg and sendmmsg's msg_name); one LEN
 * per message (only sendmmsg has more than one). Message m of call i is the
 * letters payload(i, m, j) = 'a' + (5i + 11m + j) % 26, so every cut or lost
 * piece shows in what arrives.
 *
 * Output, one line per call and one at the end:
 *   call I RET ERRNO SIGPIPES MSGLENS GOT
 *   end GOT
 * ERRNO is 0 when RET >= 0; SIGPIPES the SIGPIPEs raised during the call;
 * MSGLENS the msg_len of each sendmmsg message ('-' for other calls; a
 * message whose msg_len was not written shows 77777); GOT what the peer
 * could read right after the call ('-' for nothing): on a stream the bytes,
 * on datagram sockets each datagram as A:letters or B:letters, separated by
 * '|'. With DIFF_RULES set, the rules are given at run time instead:
 * sendshim_set_faults(DIFF_RULES) before the first call (exit 4 if refused).
 * After the last call the sender shuts its side (stream) or sends an
 * end marker with a raw system call, which the library never sees
 * (datagrams), and `end` shows whatever arrived late. */
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>

#include "sendshim.h"
#include "target.h"

#define MAX_MSGS      8     /* messages of one sendmmsg */
#define MAX_LEN       512   /* bytes of one message */
#define UNSET_MSG_LEN 77777 /* msg_len before the call */
#define GOT_MAX       65536 /* what one line may show */
#define END_MARK      "\x01END"
#define END_WAIT_MS   3000 /* for the end of a stream or the end marker */
#define EXIT_PORT     77

enum { KIND_TCP, KIND_UDP, KIND_UNIX_STREAM, KIND_UNIX_DGRAM };

static volatile sig_atomic_t sigpipes;
static int kind;
static int sender, peer_a, peer_b = -1;
static struct sockaddr_storage addr_a, addr_b;
static socklen_t addr_len;
static char got[GOT_MAX];
static size_t got_n;

static void on_sigpipe(int sig)
{
    (void)sig;
    sigpipes++;
}

static void got_add(const char *p, size_t n)
{
    if (got_n + n >= sizeof got)
        n = sizeof got - 1 - got_n;
    memcpy(got + got_n, p, n);
    got_n += n;
    got[got_n] = '\0';
}

static void loopback(int v6, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons((uint16_t)port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons((uint16_t)port);
    }
}

static int bound(int fam, int type, const struct sockaddr_storage *ss)
{
    int s = socket(fam, type, 0);
    int one = 1;
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one))
        t_die("socket");
    if (bind(s, (const struct sockaddr *)ss, addr_len)) {
        if (errno == EADDRINUSE)
            exit(EXIT_PORT);
        t_die("bind");
    }
    return s;
}

static void set_up(const char *k, int port, int port2)
{
    if (!strcmp(k, "unixs") || !strcmp(k, "unixd")) {
        int sv[2];
        kind = k[4] == 's' ? KIND_UNIX_STREAM : KIND_UNIX_DGRAM;
        if (socketpair(AF_UNIX, kind == KIND_UNIX_STREAM ? SOCK_STREAM : SOCK_DGRAM, 0, sv))
            t_die("socketpair");
        sender = sv[0];
        peer_a = sv[1];
    } else {
        int v6 = k[3] == '6';
        int fam = v6 ? AF_INET6 : AF_INET;
        kind = !strncmp(k, "tcp", 3) ? KIND_TCP : KIND_UDP;
        int type = kind == KIND_TCP ? SOCK_STREAM : SOCK_DGRAM;
        addr_len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        loopback(v6, port, &addr_a);
        loopback(v6, port2, &addr_b);
        sender = socket(fam, type, 0);
        if (sender < 0)
            t_die("socket");
        int lst = bound(fam, type, &addr_a);
        if (kind == KIND_TCP) {
            int one = 1;
            if (listen(lst, 1) || setsockopt(sender, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one))
                t_die("listen");
            if (connect(sender, (struct sockaddr *)&addr_a, addr_len))
                t_die("connect");
            peer_a = accept(lst, NULL, NULL);
            if (peer_a < 0)
                t_die("accept");
            close(lst);
        } else {
            peer_a = lst;
            peer_b = bound(fam, type, &addr_b);
            if (connect(sender, (struct sockaddr *)&addr_a, addr_len))
                t_die("connect");
        }
    }
    if (fcntl(peer_a, F_SETFL, O_NONBLOCK) || (peer_b >= 0 && fcntl(peer_b, F_SETFL, O_NONBLOCK)))
        t_die("fcntl");
}

static int is_stream(void)
{
    return kind == KIND_TCP || kind == KIND_UNIX_STREAM;
}

/* Read what `s` has now (wait_ms > 0: wait that long for more, up to the end
 * of a stream or the end marker). 1 when the end was seen. */
static int drain(int s, char tag, int wait_ms)
{
    char buf[MAX_LEN * MAX_MSGS + 1];
    for (;;) {
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n < 0 && errno == EAGAIN && wait_ms > 0) {
            struct pollfd p = {s, POLLIN, 0};
            if (poll(&p, 1, wait_ms) == 1)
                continue;
            return 0;
        }
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0)
            t_die("recv");
        if (is_stream()) {
            if (n == 0)
                return 1;
            got_add(buf, (size_t)n);
            continue;
        }
        if (n == (ssize_t)strlen(END_MARK) && !memcmp(buf, END_MARK, (size_t)n))
            return 1;
        char head[3] = {tag, ':', '\0'};
        if (got_n)
            got_add("|", 1);
        got_add(head, 2);
        got_add(buf, (size_t)n);
    }
}

static void show_got(void)
{
    fputs(got_n ? got : "-", stdout);
    putchar('\n');
    got_n = 0;
    got[0] = '\0';
}

static void payload(char *p, int call, int msg, size_t len)
{
    for (size_t j = 0; j < len; j++)
        p[j] = (char)('a' + (5 * call + 11 * msg + (int)j) % 26);
}

static void one_call(int i, const char *spec)
{
    char name[16];
    unsigned flags;
    int dst, used = 0;
    if (sscanf(spec, "%15[a-z],%x,%d,%n", name, &flags, &dst, &used) != 3 || !used)
        t_die("bad call");
    static char data[MAX_MSGS][MAX_LEN];
    struct iovec iov[MAX_MSGS];
    struct mmsghdr vec[MAX_MSGS];
    unsigned n = 0;
    for (const char *p = spec + used; *p && n < MAX_MSGS; n++) {
        char *end;
        unsigned long len = strtoul(p, &end, 10);
        if (end == p || len > MAX_LEN)
            t_die("bad length");
        payload(data[n], i, (int)n, len);
        iov[n].iov_base = data[n];
        iov[n].iov_len = len;
        p = *end == '+' ? end + 1 : end;
    }
    const struct sockaddr *to = dst == 1   ? (struct sockaddr *)&addr_a
                                : dst == 2 ? (struct sockaddr *)&addr_b
                                           : NULL;
    socklen_t to_len = to ? addr_len : 0;
    memset(vec, 0, sizeof vec);
    for (unsigned m = 0; m < n; m++) {
        vec[m].msg_hdr.msg_iov = &iov[m];
        vec[m].msg_hdr.msg_iovlen = 1;
        vec[m].msg_hdr.msg_name = (void *)to;
        vec[m].msg_hdr.msg_namelen = to_len;
        vec[m].msg_len = UNSET_MSG_LEN;
    }
    sig_atomic_t before = sigpipes;
    long ret;
    if (!strcmp(name, "send"))
        ret = send(sender, iov[0].iov_base, iov[0].iov_len, (int)flags);
    else if (!strcmp(name, "sendto"))
        ret = sendto(sender, iov[0].iov_base, iov[0].iov_len, (int)flags, to, to_len);
    else if (!strcmp(name, "sendmsg"))
        ret = sendmsg(sender, &vec[0].msg_hdr, (int)flags);
    else if (!strcmp(name, "sendmmsg"))
        ret = sendmmsg(sender, vec, n, (int)flags);
    else
        t_die("bad call name");
    int err = ret < 0 ? errno : 0;
    printf("call %d %ld %d %d ", i, ret, err, (int)(sigpipes - before));
    if (!strcmp(name, "sendmmsg")) {
        for (unsigned m = 0; m < n; m++)
            printf("%s%u", m ? "," : "", vec[m].msg_len);
        putchar(' ');
    } else {
        fputs("- ", stdout);
    }
    drain(peer_a, 'A', 0);
    if (peer_b >= 0)
        drain(peer_b, 'B', 0);
    show_got();
}

int main(int argc, char **argv)
{
    if (argc < 4)
        t_die("usage: diffprog KIND PORT PORT2 CALL...");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigpipe;
    if (sigaction(SIGPIPE, &sa, NULL))
        t_die("sigaction");
    set_up(argv[1], atoi(argv[2]), atoi(argv[3]));
    const char *rules = getenv("DIFF_RULES");
    if (rules && sendshim_set_faults(rules)) {
        printf("sendshim_set_faults -1 %s\n", t_errname(errno));
        return 4;
    }
    printf("fd %d\n", sender);
    for (int i = 4; i < argc; i++)
        one_call(i - 4, argv[i]);
    int ends = 0;
    if (is_stream()) {
        if (shutdown(sender, SHUT_WR))
            t_die("shutdown");
    } else {
        /* Past the library: a marker no rule can drop. */
        if (syscall(SYS_sendto, sender, END_MARK, strlen(END_MARK), 0, NULL, 0) < 0 ||
            (peer_b >= 0 &&
             syscall(SYS_sendto, sender, END_MARK, strlen(END_MARK), 0, &addr_b, addr_len) < 0))
            t_die("end marker");
    }
    ends += drain(peer_a, 'A', END_WAIT_MS);
    if (peer_b >= 0)
        ends += drain(peer_b, 'B', END_WAIT_MS);
    fputs("end ", stdout);
    show_got();
    return ends == (peer_b >= 0 ? 2 : 1) ? 0 : 3;
}
