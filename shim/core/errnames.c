/* errnames.c - errno names and call names from static tables.
 * strerror() and strerrorname_np() are not async-signal-safe (strerror may
 * use a locale and a static buffer), so the library carries its own table of
 * every errno Linux defines (asm-generic/errno-base.h and errno.h). */
#include "calls.h"
#include "fmt.h"

#include <errno.h>
#include <string.h>

struct errname {
    int num;
    const char *name;
};

#define E(x)                                                                                                 \
    {                                                                                                        \
        x, #x                                                                                                \
    }

/* Canonical names, one per number. Aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP)
 * share a number with a name here and are only accepted as input. */
static const struct errname errnames[] = {
    E(EPERM),
    E(ENOENT),
    E(ESRCH),
    E(EINTR),
    E(EIO),
    E(ENXIO),
    E(E2BIG),
    E(ENOEXEC),
    E(EBADF),
    E(ECHILD),
    E(EAGAIN),
    E(ENOMEM),
    E(EACCES),
    E(EFAULT),
    E(ENOTBLK),
    E(EBUSY),
    E(EEXIST),
    E(EXDEV),
    E(ENODEV),
    E(ENOTDIR),
    E(EISDIR),
    E(EINVAL),
    E(ENFILE),
    E(EMFILE),
    E(ENOTTY),
    E(ETXTBSY),
    E(EFBIG),
    E(ENOSPC),
    E(ESPIPE),
    E(EROFS),
    E(EMLINK),
    E(EPIPE),
    E(EDOM),
    E(ERANGE),
    E(EDEADLK),
    E(ENAMETOOLONG),
    E(ENOLCK),
    E(ENOSYS),
    E(ENOTEMPTY),
    E(ELOOP),
    E(ENOMSG),
    E(EIDRM),
    E(ECHRNG),
    E(EL2NSYNC),
    E(EL3HLT),
    E(EL3RST),
    E(ELNRNG),
    E(EUNATCH),
    E(ENOCSI),
    E(EL2HLT),
    E(EBADE),
    E(EBADR),
    E(EXFULL),
    E(ENOANO),
    E(EBADRQC),
    E(EBADSLT),
    E(EBFONT),
    E(ENOSTR),
    E(ENODATA),
    E(ETIME),
    E(ENOSR),
    E(ENONET),
    E(ENOPKG),
    E(EREMOTE),
    E(ENOLINK),
    E(EADV),
    E(ESRMNT),
    E(ECOMM),
    E(EPROTO),
    E(EMULTIHOP),
    E(EDOTDOT),
    E(EBADMSG),
    E(EOVERFLOW),
    E(ENOTUNIQ),
    E(EBADFD),
    E(EREMCHG),
    E(ELIBACC),
    E(ELIBBAD),
    E(ELIBSCN),
    E(ELIBMAX),
    E(ELIBEXEC),
    E(EILSEQ),
    E(ERESTART),
    E(ESTRPIPE),
    E(EUSERS),
    E(ENOTSOCK),
    E(EDESTADDRREQ),
    E(EMSGSIZE),
    E(EPROTOTYPE),
    E(ENOPROTOOPT),
    E(EPROTONOSUPPORT),
    E(ESOCKTNOSUPPORT),
    E(EOPNOTSUPP),
    E(EPFNOSUPPORT),
    E(EAFNOSUPPORT),
    E(EADDRINUSE),
    E(EADDRNOTAVAIL),
    E(ENETDOWN),
    E(ENETUNREACH),
    E(ENETRESET),
    E(ECONNABORTED),
    E(ECONNRESET),
    E(ENOBUFS),
    E(EISCONN),
    E(ENOTCONN),
    E(ESHUTDOWN),
    E(ETOOMANYREFS),
    E(ETIMEDOUT),
    E(ECONNREFUSED),
    E(EHOSTDOWN),
    E(EHOSTUNREACH),
    E(EALREADY),
    E(EINPROGRESS),
    E(ESTALE),
    E(EUCLEAN),
    E(ENOTNAM),
    E(ENAVAIL),
    E(EISNAM),
    E(EREMOTEIO),
    E(EDQUOT),
    E(ENOMEDIUM),
    E(EMEDIUMTYPE),
    E(ECANCELED),
    E(ENOKEY),
    E(EKEYEXPIRED),
    E(EKEYREVOKED),
    E(EKEYREJECTED),
    E(EOWNERDEAD),
    E(ENOTRECOVERABLE),
    E(ERFKILL),
    E(EHWPOISON),
};

/* Second spellings. On x86 and arm each equals a canonical number above and
 * is only accepted as input; on an architecture where one differs (EDEADLOCK
 * is 58 on powerpc) it is also the name of its own number. */
static const struct errname erraliases[] = {
    E(EWOULDBLOCK),
    E(EDEADLOCK),
    E(ENOTSUP),
};

#undef E

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *ss_errno_name(int err)
{
    for (size_t i = 0; i < NELEM(errnames); i++)
        if (errnames[i].num == err)
            return errnames[i].name;
    for (size_t i = 0; i < NELEM(erraliases); i++)
        if (erraliases[i].num == err)
            return erraliases[i].name;
    return NULL;
}

static int name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

int ss_errno_from_name(const char *name, size_t len)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < NELEM(errnames); i++)
        if (name_is(name, len, errnames[i].name))
            return errnames[i].num;
    for (size_t i = 0; i < NELEM(erraliases); i++)
        if (name_is(name, len, erraliases[i].name))
            return erraliases[i].num;
    return 0;
}

static const char *const call_names[SS_NCALLS_SEEN] = {
    [SS_CALL_SEND] = "send",         [SS_CALL_SENDTO] = "sendto", [SS_CALL_SENDMSG] = "sendmsg",
    [SS_CALL_SENDMMSG] = "sendmmsg", [SS_CALL_WRITE] = "write",   [SS_CALL_WRITEV] = "writev",
    [SS_CALL_SENDFILE] = "sendfile", [SS_CALL_SPLICE] = "splice",
};

const char *ss_call_name(enum ss_call call)
{
    if ((unsigned)call >= SS_NCALLS_SEEN)
        return NULL;
    return call_names[call];
}
