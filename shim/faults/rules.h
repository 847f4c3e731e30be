/* rules.h - the fault rule language of SPEC section 8: parsed form and parser.
 * Pure: no system calls, no allocation; safe to unit-test without sockets. */
#ifndef SENDSHIM_RULES_H
#define SENDSHIM_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "calls.h"

/* The library's own symbols bind locally: a global is one RIP-relative load,
 * not a load of its address from the GOT first. */
#pragma GCC visibility push(hidden)

#define SS_MAX_RULES     64  /* rules in force at once */
#define SS_RULE_TEXT_MAX 128 /* rule text kept for log lines (cut beyond) */

enum ss_action_bits {
    SS_ACT_ERROR = 1u << 0,
    SS_ACT_SHORT = 1u << 1,
    SS_ACT_BATCH = 1u << 2,
    SS_ACT_DROP = 1u << 3,
    SS_ACT_DELAY = 1u << 4,
    SS_ACT_RESET = 1u << 5,   /* a RST to the peer (TCP) */
    SS_ACT_RATE = 1u << 6,    /* token bucket per descriptor */
    SS_ACT_STALL = 1u << 7,   /* the descriptor sends nothing for a while */
    SS_ACT_DUP = 1u << 8,     /* a datagram sent twice */
    SS_ACT_CORRUPT = 1u << 9, /* N bits flipped in a private copy */
};

/* The calls a rule may name besides the six sending ones (calls.h): close
 * and shutdown of a socket, which take only delay= (slow close). Their bits
 * follow the sending calls' in ss_rule.calls; `*` does not include them. */
#define SS_CALL_CLOSE_BIT    (1u << SS_NCALLS)
#define SS_CALL_SHUTDOWN_BIT (1u << (SS_NCALLS + 1))
#define SS_CALLS_TEARDOWN    (SS_CALL_CLOSE_BIT | SS_CALL_SHUTDOWN_BIT)

enum ss_cond_bits {
    SS_COND_WHEN = 1u << 0,
    SS_COND_P = 1u << 1,
    SS_COND_FD = 1u << 2,
    SS_COND_TYPE = 1u << 3,
    SS_COND_FAMILY = 1u << 4,
    SS_COND_PEER = 1u << 5, /* peer address (and port if peer_port != 0) */
    SS_COND_PORT = 1u << 6,
    SS_COND_AFTER = 1u << 7,
    SS_COND_BURST = 1u << 8, /* burst=Q: with p=, the probability after a fired call */
};

/* Socket type and family masks for type= and family=. */
enum ss_type_bits { SS_TYPE_STREAM = 1, SS_TYPE_DGRAM = 2, SS_TYPE_SEQPACKET = 4, SS_TYPE_RAW = 8 };
enum ss_family_bits {
    SS_FAM_UNIX = 1,
    SS_FAM_INET = 2,
    SS_FAM_INET6 = 4,
    SS_FAM_NETLINK = 8,
    SS_FAM_PACKET = 16
};

/* The socket types each partial action acts on; the runtime applies short=
 * and drop only on these, and the parser rejects a rule whose type=/family=
 * leave none of them. short=: byte streams only (a datagram or a seqpacket
 * record is atomic). drop: unreliable datagrams only (SOCK_DGRAM, SOCK_RAW);
 * a seqpacket socket is reliable, so a silently lost record is a failure its
 * kernel can never produce. */
#define SS_TYPES_SHORT SS_TYPE_STREAM
#define SS_TYPES_DROP  (SS_TYPE_DGRAM | SS_TYPE_RAW)
/* Families that have stream sockets at all (netlink and packet have none). */
#define SS_FAMS_STREAM (SS_FAM_UNIX | SS_FAM_INET | SS_FAM_INET6)
/* reset acts on TCP only: stream sockets of the inet families. dup, like
 * drop, on unreliable datagram sockets (a duplicated seqpacket record or a
 * repeated stream segment is something their kernel never delivers). */
#define SS_TYPES_RESET SS_TYPE_STREAM
#define SS_FAMS_RESET  (SS_FAM_INET | SS_FAM_INET6)
#define SS_TYPES_DUP   SS_TYPES_DROP

#define SS_BATCH_MAX    1024u                      /* batch=K: sendmmsg's vlen is capped at UIO_MAXIOV */
#define SS_DELAY_MAX_NS (86400ull * 1000000000ull) /* delay=: a day; more is surely a typo */
#define SS_STALL_MAX_NS SS_DELAY_MAX_NS            /* stall=: likewise */
#define SS_CORRUPT_MAX  64u                        /* corrupt=N: bits flipped per call */
#define SS_RATE_MAX     (1ull << 40)               /* rate=: 1 TiB/s; beyond, no limit at all */

/* A parsed rule. A field whose ss_cond_bits bit is clear holds its neutral
 * value: when_first 1, when_last UINT64_MAX, when_step 1, p_threshold
 * UINT64_MAX, fd -1; everything else 0. */
struct ss_rule {
    unsigned calls;   /* SS_CALL_BIT() mask */
    unsigned actions; /* ss_action_bits */
    unsigned conds;   /* ss_cond_bits */

    int error;             /* error=: errno value */
    uint64_t short_bytes;  /* short=N (0 when short_pct used) */
    unsigned short_pct;    /* short=P% (1..100), 0 when short_bytes used */
    unsigned batch;        /* batch=K */
    uint64_t delay_min_ns; /* delay=: fixed when min == max */
    uint64_t delay_max_ns;
    uint64_t rate_bps;        /* rate=: bytes per second (>= 1) */
    uint64_t stall_ns;        /* stall=: how long the descriptor sends nothing */
    unsigned corrupt_bits;    /* corrupt=N: 1..SS_CORRUPT_MAX */
    uint64_t burst_threshold; /* burst=Q: as p_threshold, used after a fired call */

    uint64_t when_first;  /* when=N..M+S, 1-based call counts */
    uint64_t when_last;   /* UINT64_MAX when open-ended */
    uint64_t when_step;   /* 1 when no +S */
    uint64_t p_threshold; /* p: fire when draw < threshold; UINT64_MAX means p=1 (always) */
    int fd;
    unsigned types;    /* ss_type_bits */
    unsigned families; /* ss_family_bits */
    /* peer=: AF_INET/AF_INET6 with sin_port/sin6_port in network byte order
     * (0 = any port), peer_len the sockaddr's size; or AF_UNIX with sun_path
     * NUL-terminated and peer_len = offsetof(sun_path) + strlen + 1, which is
     * what getpeername() reports for a path socket. */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    unsigned port;        /* port=N, host byte order, 1..65535 */
    uint64_t after_bytes; /* after=BYTES */

    /* The rule for log lines: its fields trimmed and joined by ':'; a rule
     * longer than the buffer ends in "...". */
    char text[SS_RULE_TEXT_MAX];
};

struct ss_ruleset {
    unsigned n;
    int uses_random; /* some rule has p=, a delay range or corrupt=: the seed matters */
    struct ss_rule rule[SS_MAX_RULES];
};

/* Parse RULES (separators ';' and newline; with `comments`, '#' starts a
 * comment to the end of the line) and APPEND them to *set (rule numbers
 * continue from set->n + 1). On error returns -1, leaves *set as it was, and
 * writes into err one line without prefix or newline, of the form
 *   rule 2: 'EISDIR' is not an error sendto can return (EACCES, EAGAIN, ...)
 * naming the rule number, the offending token and what would be accepted.
 * Returns 0 on success (err then holds ""). The decisions where SPEC section
 * 8 is silent are listed at the top of rules.c. */
int ss_rules_parse(struct ss_ruleset *set, const char *text, int comments, char *err, size_t errlen);

#pragma GCC visibility pop

#endif
