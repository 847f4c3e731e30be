/* target.h - helpers shared by the small target programs that tests run
 * with the library preloaded. Header-only: each target is one .c file. */
#ifndef SENDSHIM_TARGET_H
#define SENDSHIM_TARGET_H

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* "EAGAIN" for the errno values targets meet; the number otherwise. */
static inline const char *t_errname(int e)
{
    static char num[16];
    switch (e) {
    case EAGAIN:
        return "EAGAIN";
    case EBADF:
        return "EBADF";
    case ENOTSOCK:
        return "ENOTSOCK";
    case EPIPE:
        return "EPIPE";
    case EMSGSIZE:
        return "EMSGSIZE";
    case EINVAL:
        return "EINVAL";
    case EFAULT:
        return "EFAULT";
    case EINTR:
        return "EINTR";
    case ECONNRESET:
        return "ECONNRESET";
    case EDESTADDRREQ:
        return "EDESTADDRREQ";
    case ENOTCONN:
        return "ENOTCONN";
    case EISCONN:
        return "EISCONN";
    case ENOBUFS:
        return "ENOBUFS";
    case EOPNOTSUPP:
        return "EOPNOTSUPP";
    case ECONNREFUSED:
        return "ECONNREFUSED";
    case ETIMEDOUT:
        return "ETIMEDOUT";
    case EACCES:
        return "EACCES";
    case ENOSYS:
        return "ENOSYS";
    case ENOPROTOOPT:
        return "ENOPROTOOPT";
    default:
        snprintf(num, sizeof num, "%d", e);
        return num;
    }
}

/* Print "label ret" or "label -1 ENAME" and return ret. */
static inline long t_show(const char *label, long ret, int err)
{
    if (ret < 0)
        printf("%s -1 %s\n", label, t_errname(err));
    else
        printf("%s %ld\n", label, ret);
    fflush(stdout);
    return ret;
}

static inline void t_die(const char *what)
{
    fprintf(stderr, "target: %s: %s\n", what, strerror(errno));
    exit(99);
}

/* Flush stdout and fork (exit 99 when it fails). The parent waits for the
 * child, stores its wait status in *status and gets the child's pid; the
 * child gets 0. */
static inline pid_t t_fork_wait(int *status)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        t_die("fork");
    if (pid > 0)
        waitpid(pid, status, 0);
    return pid;
}

typedef ssize_t (*t_send_fn)(int, const void *, size_t, int);

/* For targets run as "PROG LIB": load LIB with dlopen() instead of
 * LD_PRELOAD and return its send() (NULL when it has none), its handle in *h
 * unless h is NULL. Exits 2 without LIB, and 1 after printing
 * "dlopen failed: ..." when it cannot be loaded. */
static inline t_send_fn t_dlopen_send(int argc, char **argv, void **h)
{
    if (argc < 2)
        exit(2);
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        printf("dlopen failed: %s\n", dlerror());
        exit(1);
    }
    if (h)
        *h = lib;
    return (t_send_fn)dlsym(lib, "send");
}

/* A connected pair of the given kind: "tcp", "tcp6", "udp", "udp6",
 * "unix-stream", "unix-dgram", "unix-seqpacket". s[0] sends, s[1] receives. */
static inline void t_pair(const char *kind, int s[2])
{
    if (!strncmp(kind, "unix-", 5)) {
        int type = !strcmp(kind, "unix-stream")  ? SOCK_STREAM
                   : !strcmp(kind, "unix-dgram") ? SOCK_DGRAM
                                                 : SOCK_SEQPACKET;
        if (socketpair(AF_UNIX, type, 0, s))
            t_die("socketpair");
        return;
    }
    int v6 = strchr(kind, '6') != NULL;
    int stream = !strncmp(kind, "tcp", 3);
    int fam = v6 ? AF_INET6 : AF_INET;
    struct sockaddr_storage ss;
    socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memset(&ss, 0, sizeof ss);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    int l = socket(fam, stream ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&ss, len) || getsockname(l, (struct sockaddr *)&ss, &len))
        t_die("bind");
    if (stream && listen(l, 1))
        t_die("listen");
    s[0] = socket(fam, stream ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (s[0] < 0 || connect(s[0], (struct sockaddr *)&ss, len))
        t_die("connect");
    if (stream) {
        s[1] = accept(l, NULL, NULL);
        if (s[1] < 0)
            t_die("accept");
        close(l);
    } else {
        s[1] = l;
    }
}

#endif
