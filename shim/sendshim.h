/* sendshim.h - public header of sendshim, the send-family interposition library.
 *
 * BSD-style code compiles unchanged on Linux with this header: it defines
 * MSG_EOF, SO_NOSIGPIPE, SCM_CREDS, IP_SENDSRCADDR and struct cmsgcred when
 * the system lacks them. The library gives them their BSD meaning when it is preloaded.
 *
 * The runtime API is reached through dlsym(RTLD_DEFAULT), so a program that
 * uses it still links and runs without the library (sendshim_active() == 0).
 */
#ifndef SENDSHIM_H
#define SENDSHIM_H

#include <errno.h>
#include <sys/socket.h>

/* MSG_EOF: FreeBSD's "send, then shut down the write side". Linux has the same
 * bit as MSG_FIN (0x200) and ignores it on send; the library emulates it. */
#ifndef MSG_EOF
#ifdef MSG_FIN
#define MSG_EOF MSG_FIN
#else
#define MSG_EOF 0x200
#endif
#endif

/* SO_NOSIGPIPE at SOL_SOCKET, FreeBSD's value. Linux has no option 0x0800 at
 * SOL_SOCKET; the library emulates it per socket. */
#ifndef SO_NOSIGPIPE
#define SO_NOSIGPIPE 0x0800
#endif

/* Private control-message types that no kernel accepts; the library rewrites
 * them (SCM_CREDS -> SCM_CREDENTIALS at SOL_SOCKET, IP_SENDSRCADDR at
 * IPPROTO_IP -> IP_PKTINFO with ipi_spec_dst). Without the library the kernel
 * rejects them with EINVAL, never silently. */
#ifndef SCM_CREDS
#define SCM_CREDS 0x53530001
#endif
#ifndef IP_SENDSRCADDR
#define IP_SENDSRCADDR 0x53530002
#endif

/* struct cmsgcred, FreeBSD's SCM_CREDS payload (sys/socket.h), so code that
 * sizes its SCM_CREDS message with it compiles. Whatever its size, the library
 * replaces the payload by the sender's Linux credentials (struct ucred: pid,
 * uid, gid); the fields are the sender's to leave empty, as on FreeBSD where
 * the kernel fills them. Not defined when the system has it (CMGROUP_MAX) or
 * when the program defines SENDSHIM_NO_CMSGCRED (it has its own). */
#if !defined(CMGROUP_MAX) && !defined(SENDSHIM_NO_CMSGCRED)
#include <sys/types.h>
#define CMGROUP_MAX 16
struct cmsgcred {
    pid_t cmcred_pid;                 /* PID of sending process */
    uid_t cmcred_uid;                 /* real UID of sending process */
    uid_t cmcred_euid;                /* effective UID of sending process */
    gid_t cmcred_gid;                 /* real GID of sending process */
    short cmcred_ngroups;             /* number of groups */
    gid_t cmcred_groups[CMGROUP_MAX]; /* groups */
};
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifdef SENDSHIM_BUILDING_LIBRARY
int sendshim_set_faults(const char *rules);
int sendshim_active(void);
#else
#include <dlfcn.h>

/* Replace the fault rules of the running library (NULL or "" removes them
 * all). Returns 0, or -1 with errno EINVAL (bad rule; the reason is logged,
 * nothing changes) or ENOSYS (the library is not loaded). Async-signal-safe
 * once it has been called once outside the handler (that call finds the
 * library with dlsym(), which is not): from a signal handler that interrupted
 * sendshim_set_faults() in the same thread it fails with EDEADLK, nothing
 * changed, instead of waiting for that call forever. Each new set draws its
 * p= decisions from a fresh stream, and forked children from their own. */
static inline int sendshim_set_faults(const char *rules)
{
    static int (*found)(const char *); /* once found, no more dlsym() */
    int (*fn)(const char *) = __atomic_load_n(&found, __ATOMIC_RELAXED);
    if (!fn) {
        fn = (int (*)(const char *))dlsym(RTLD_DEFAULT, "sendshim_set_faults");
        if (!fn) {
            errno = ENOSYS;
            return -1;
        }
        __atomic_store_n(&found, fn, __ATOMIC_RELAXED);
    }
    return fn(rules);
}

/* 1 when the library is loaded into this process, else 0. */
static inline int sendshim_active(void)
{
    int (*fn)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "sendshim_active");
    return fn ? fn() : 0;
}
#endif

#ifdef __cplusplus
}
#endif
#endif
