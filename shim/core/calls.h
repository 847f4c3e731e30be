/* calls.h - the intercepted call kinds, shared by every stage. */
#ifndef SENDSHIM_CALLS_H
#define SENDSHIM_CALLS_H

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

enum ss_call {
    SS_CALL_SEND,
    SS_CALL_SENDTO,
    SS_CALL_SENDMSG,
    SS_CALL_SENDMMSG,
    SS_CALL_WRITE,
    SS_CALL_WRITEV,
    SS_NCALLS, /* the calls above run the pipeline and fault rules name them */
    /* Seen only (SPEC 9): traced and counted, under the SIGPIPE policy when
     * they write to a socket, never faulted. */
    SS_CALL_SENDFILE = SS_NCALLS, /* sendfile and sendfile64 */
    SS_CALL_SPLICE,
    SS_NCALLS_SEEN /* every call trace and stats show */
};

#define SS_CALL_BIT(c) (1u << (c))
#define SS_CALLS_ALL   ((1u << SS_NCALLS) - 1u)

/* "send", "sendto", ..., "splice"; NULL for an out-of-range value. */
const char *ss_call_name(enum ss_call call);

#pragma GCC visibility pop

#endif
