/* stack_depth - how deep into the stack one call of the send family goes.
 *
 * Each call (send, sendto, sendmsg, sendmmsg) is made from a SIGUSR1 handler
 * that runs on an alternate signal stack painted with a pattern beforehand;
 * afterwards the bytes below the handler's own frame that no longer hold the
 * pattern are how deep the call went: libc and, when preloaded, the
 * library (run with LD_BIND_NOW=1, or the loader's first resolution of a
 * symbol counts too). Run it with and without the library: the difference
 * is the library's. Prints one line per call, "CALL BYTES RESULT".
 *
 * The calls are the library's deep ones: sendmsg and sendmmsg carry an
 * SCM_RIGHTS control message and more iovecs than the kernel takes
 * (STACK_IOVS, gathered into one datagram by the normalizer); run it with
 * SENDSHIM_TRACE and a rule that fires on every call to add their lines. */
#include <signal.h>
#include <sys/uio.h>

#include "target.h"

#define ALT_STACK  (256 * 1024) /* far more than any call takes */
#define PAINT      0xa5
#define STACK_IOVS 1500 /* > IOV_MAX (1024) */

static int fd;
static const char *which;
static ssize_t result;
static char *entry; /* the handler's stack pointer, about */
static struct iovec iovs[STACK_IOVS];
static char bytes[STACK_IOVS];

static ssize_t call_sendmsg(void)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    ctl.h.cmsg_len = CMSG_LEN(sizeof(int));
    ctl.h.cmsg_level = SOL_SOCKET;
    ctl.h.cmsg_type = SCM_RIGHTS;
    int passed = 0; /* stdin */
    memcpy(CMSG_DATA(&ctl.h), &passed, sizeof passed);
    struct msghdr m = {
        .msg_iov = iovs, .msg_iovlen = STACK_IOVS, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    if (!strcmp(which, "sendmsg"))
        return sendmsg(fd, &m, 0);
    struct mmsghdr v[2] = {{.msg_hdr = m}, {.msg_hdr = m}};
    return sendmmsg(fd, v, 2, 0);
}

static void on_usr1(int sig)
{
    char here;
    entry = &here;
    (void)sig;
    if (!strcmp(which, "send"))
        result = send(fd, "x", 1, 0);
    else if (!strcmp(which, "sendto"))
        result = sendto(fd, "x", 1, 0, NULL, 0);
    else
        result = call_sendmsg();
}

int main(void)
{
    static const char *const calls[] = {"send", "sendto", "sendmsg", "sendmmsg"};
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair))
        t_die("socketpair");
    fd = pair[0];
    for (int i = 0; i < STACK_IOVS; i++)
        iovs[i] = (struct iovec){&bytes[i], 1};
    char *alt = malloc(ALT_STACK);
    if (!alt)
        t_die("malloc");
    stack_t ss = {.ss_sp = alt, .ss_size = ALT_STACK};
    struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL))
        t_die("sigaltstack");
    char drain[65536];
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        which = calls[i];
        memset(alt, PAINT, ALT_STACK);
        raise(SIGUSR1);
        size_t low = 0;
        while (low < ALT_STACK && (unsigned char)alt[low] == PAINT)
            low++;
        printf("%s %td %zd\n", which, entry - (alt + low), result);
        while (recv(pair[1], drain, sizeof drain, MSG_DONTWAIT) > 0)
            ;
    }
    return 0;
}
