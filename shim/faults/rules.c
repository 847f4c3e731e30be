/* rules.c - the fault rule parser of SPEC sections 8 and 10.
 *
 * Pure and allocation-free: it runs from the constructor and from
 * sendshim_set_faults(), so it uses no malloc, no stdio and no locale; error
 * lines are built with the bounded ss_buf functions. It parses twice: a first
 * pass validates every rule into a stack copy, and only when all of them are
 * good does a second pass store them, so a bad rule leaves the set untouched.
 *
 * Decisions where SPEC section 8 is silent (what a user of strace -e inject
 * or libfiu would expect):
 * - error=, short=, batch=, drop, reset, rate=, stall=, dup and corrupt=
 *   exclude each other: each says what the call returns (fail, send part,
 *   send some messages, pretend to send, reset, ...), and two of them at once
 *   have no single meaning. The exceptions SPEC 8 names: stall= with reset
 *   (reset when the stall ends) and rate= with corrupt= (a slow, noisy
 *   link). delay= only adds time before whichever of them runs, or before
 *   the real call.
 * - close and shutdown take delay= only; a rule naming them with a sending
 *   call may still have delay= alone. `*` stays the six sending calls.
 * - rate= needs a unit: B/s, KiB/s, MiB/s, GiB/s (powers of 1024) or bit/s,
 *   kbit/s, Mbit/s, Gbit/s (powers of 1000), with decimals (1.5MiB/s); the
 *   result is rounded down to whole bytes per second and must be at least 1
 *   and at most 1 TiB/s. "MB/s" and "KB/s" are refused as ambiguous.
 * - corrupt=N takes N from 1 to SS_CORRUPT_MAX; burst=Q is a probability
 *   and needs p= in the same rule (alone it would never be reached).
 * - short=0 and batch=0 are rejected: on a stream socket send() never returns
 *   0 for a non-empty buffer, nor sendmmsg() 0 for vlen > 0 (it blocks or
 *   fails with EAGAIN), so a program could loop forever on a result its
 *   kernel cannot produce. error=EAGAIN says "nothing sent" truthfully.
 * - batch=K allows K up to SS_BATCH_MAX (sendmmsg sends at most UIO_MAXIOV
 *   messages, so a larger K could never cut a batch).
 * - error= accepts the same list for every call: write and writev are
 *   matched only on sockets, where the kernel's write path is sock_sendmsg,
 *   so they fail exactly like send. EIO, ENOSPC, EDQUOT and EFBIG come from
 *   file systems and block devices and are refused.
 * - delay= needs a unit (strace assumes microseconds, many tools
 *   milliseconds: a bare number is a 1000x trap); decimals like 1.5ms are
 *   allowed, down to the nanosecond.
 * - after= takes k/K/KiB, M/MiB, G/GiB suffixes, all powers of 1024 as in
 *   dd and head -c; "MB" is refused as ambiguous.
 * - when= takes strace's forms first[..last][+[step]] and N.. (open range),
 *   with 64-bit counts (no 65535 cap).
 * - Whitespace is also ignored around '=', around ',' in lists, and a field
 *   left empty between two ':' is an error (likely a typo such as an
 *   unbracketed IPv6 address).
 * - The kept text is the rule rebuilt from its trimmed fields joined by ':'.
 * - In a rules file '#' starts a comment wherever it stands, even inside a
 *   unix path; ':' cannot appear in a unix peer path (it separates fields).
 */
#include "rules.h"
#include "fmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#define SS_ADDR_TEXT_MAX   64  /* inet_pton input copy; INET6_ADDRSTRLEN is 46 */
#define SS_PCT_MAX         100 /* short=P% */
#define SS_PORT_MAX        65535
#define SS_P_DIGITS        19 /* p=: fractional digits that count (10^19 < 2^64) */
#define SS_NS_DIGITS       9  /* delay=: fractional digits of a second in ns */
#define SS_NS_PER_S        1000000000ull
#define SS_TEXT_CUT_MARKER "..."

struct span {
    const char *p;
    size_t n;
};

static struct span mkspan(const char *p, size_t n)
{
    struct span s = {p, n};
    return s;
}

/* Blanks around fields; '\r' so rules files with CRLF line ends work. */
static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static struct span trim(struct span s)
{
    while (s.n && is_blank(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_blank(s.p[s.n - 1]))
        s.n--;
    return s;
}

static int eq(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int all_digits(struct span s)
{
    if (!s.n)
        return 0;
    for (size_t i = 0; i < s.n; i++)
        if (!is_digit(s.p[i]))
            return 0;
    return 1;
}

/* Unsigned decimal: 0 ok, -1 not a number, -2 too large for 64 bits. */
static int parse_u64(struct span s, uint64_t *out)
{
    if (!all_digits(s))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned d = (unsigned)(s.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Index of the first `c` in s, or s.n. */
static size_t find(struct span s, char c)
{
    size_t i = 0;
    while (i < s.n && s.p[i] != c)
        i++;
    return i;
}

/* Index of the first "..", or s.n. */
static size_t find_dots(struct span s)
{
    for (size_t i = 0; i + 1 < s.n; i++)
        if (s.p[i] == '.' && s.p[i + 1] == '.')
            return i;
    return s.n;
}

/* Iterate over the items of a comma list, trimmed. */
struct list_iter {
    struct span rest;
    int done;
};

static int list_next(struct list_iter *it, struct span *item)
{
    if (it->done)
        return 0;
    size_t i = find(it->rest, ',');
    *item = trim(mkspan(it->rest.p, i));
    if (i == it->rest.n) {
        it->done = 1;
    } else {
        it->rest.p += i + 1;
        it->rest.n -= i + 1;
    }
    return 1;
}

/* Split a rule into ':'-separated fields; a ':' inside [...] (an IPv6
 * address) does not separate. */
struct splitter {
    const char *cur, *end;
    int done;
};

static int split_next(struct splitter *s, struct span *out)
{
    if (s->done)
        return 0;
    int depth = 0;
    const char *q = s->cur;
    for (; q < s->end; q++) {
        if (*q == '[')
            depth++;
        else if (*q == ']' && depth)
            depth--;
        else if (*q == ':' && !depth)
            break;
    }
    *out = mkspan(s->cur, (size_t)(q - s->cur));
    if (q < s->end)
        s->cur = q + 1;
    else
        s->done = 1;
    return 1;
}

/* ---- error lines --------------------------------------------------------- */

struct ctx {
    char *err;
    size_t errlen;
    uint64_t rule_no;
    struct ss_buf b;
};

static void put_token(struct ss_buf *b, struct span t)
{
    ss_buf_token(b, t.p, t.n, SS_ERR_TOKEN_MAX);
}

/* Start "rule N: 'TOKEN' "; the caller appends what is wrong and, in
 * parentheses, what would be accepted. */
static struct ss_buf *fail_begin(struct ctx *c, struct span tok)
{
    if (c->err && c->errlen)
        ss_buf_init(&c->b, c->err, c->errlen);
    else
        ss_buf_init(&c->b, NULL, 0);
    ss_buf_str(&c->b, "rule ");
    ss_buf_u64(&c->b, c->rule_no);
    ss_buf_str(&c->b, ": '");
    put_token(&c->b, tok);
    ss_buf_str(&c->b, "' ");
    return &c->b;
}

static int fail(struct ctx *c, struct span tok, const char *what)
{
    ss_buf_str(fail_begin(c, tok), what);
    return -1;
}

/* ---- the vocabulary --------------------------------------------------------- */

#define CALLS_ACCEPTED "(send, sendto, sendmsg, sendmmsg, write, writev, close, shutdown, *)"
#define FIELDS_ACCEPTED                                                                                      \
    "(error=, short=, batch=, drop, delay=, reset, rate=, stall=, dup, corrupt=, when=, p=, burst=, fd=, "   \
    "type=, family=, peer=, port=, after=)"
#define PEER_ACCEPTED  "(IPv4 like 10.0.0.1, IPv6 in brackets like [::1], or a unix path starting with /)"
#define WHEN_ACCEPTED  "(when=N, N..M, N.., N+, N+S or N..M+S with N, S >= 1 and M >= N)"
#define DELAY_ACCEPTED "(a number with ns, us, ms or s like 10ms, or a range like 10ms..50ms)"
#define SHORT_ACCEPTED "(short=N with N >= 1 bytes, or short=P% with P from 1 to 100)"
#define AFTER_ACCEPTED "(after=N bytes, optionally with k, M or G for 1024, 1024^2, 1024^3)"
#define EXCL_ACCEPTED                                                                                        \
    "(one of error=, short=, batch=, drop, reset, rate=, stall=, dup or corrupt= per rule, except stall= "   \
    "with reset and rate= with corrupt=; delay= combines with any)"
#define RATE_ACCEPTED                                                                                        \
    "(rate=R with a unit: B/s, KiB/s, MiB/s, GiB/s or bit/s, kbit/s, Mbit/s, Gbit/s, like 64KiB/s or "       \
    "10Mbit/s; from 1 byte/s to 1TiB/s)"
#define STALL_ACCEPTED "(a duration with ns, us, ms or s like 5s, from 1ns to 86400s)"

enum field {
    F_ERROR,
    F_SHORT,
    F_BATCH,
    F_DROP,
    F_DELAY,
    F_RESET,
    F_RATE,
    F_STALL,
    F_DUP,
    F_CORRUPT,
    F_WHEN,
    F_P,
    F_BURST,
    F_FD,
    F_TYPE,
    F_FAMILY,
    F_PEER,
    F_PORT,
    F_AFTER,
    F_COUNT
};

static const struct {
    const char *name;
    const char *usage; /* shown when the value is missing */
} fields[F_COUNT] = {
    [F_ERROR] = {"error", "(error=ERRNO, a name like EAGAIN or a number)"},
    [F_SHORT] = {"short", SHORT_ACCEPTED},
    [F_BATCH] = {"batch", "(batch=K messages, K from 1)"},
    [F_DROP] = {"drop", "(drop)"},
    [F_DELAY] = {"delay", DELAY_ACCEPTED},
    [F_RESET] = {"reset", "(reset)"},
    [F_RATE] = {"rate", RATE_ACCEPTED},
    [F_STALL] = {"stall", STALL_ACCEPTED},
    [F_DUP] = {"dup", "(dup)"},
    [F_CORRUPT] = {"corrupt", "(corrupt=N bits, N from 1 to 64)"},
    [F_WHEN] = {"when", WHEN_ACCEPTED},
    [F_P] = {"p", "(a probability from 0 to 1, like p=0.25)"},
    [F_BURST] = {"burst", "(a probability from 0 to 1, like burst=0.75)"},
    [F_FD] = {"fd", "(fd=N, a descriptor number)"},
    [F_TYPE] = {"type", "(type=stream,dgram,seqpacket,raw)"},
    [F_FAMILY] = {"family", "(family=unix,inet,inet6,netlink,packet)"},
    [F_PEER] = {"peer", PEER_ACCEPTED},
    [F_PORT] = {"port", "(port=N, from 1 to 65535)"},
    [F_AFTER] = {"after", AFTER_ACCEPTED},
};

/* What error= may inject: the send(2) list, then the network errors a real
 * send reports from the route or an ICMP error (SPEC section 8). In this
 * order in messages, so the line starts as SPEC section 10 shows. */
static const int injectable_errnos[] = {
    EACCES, EAGAIN,       EALREADY, EBADF,       ECONNRESET, EDESTADDRREQ, EFAULT,    EINTR,
    EINVAL, EISCONN,      EMSGSIZE, ENOBUFS,     ENOMEM,     ENOTCONN,     ENOTSOCK,  EOPNOTSUPP,
    EPIPE,  EHOSTUNREACH, ENETDOWN, ENETUNREACH, EHOSTDOWN,  ECONNREFUSED, ETIMEDOUT, EADDRNOTAVAIL,
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const type_names[] = {"stream", "dgram", "seqpacket", "raw"};
static const unsigned type_bits[] = {SS_TYPE_STREAM, SS_TYPE_DGRAM, SS_TYPE_SEQPACKET, SS_TYPE_RAW};
static const char *const family_names[] = {"unix", "inet", "inet6", "netlink", "packet"};
static const unsigned family_bits[] = {SS_FAM_UNIX, SS_FAM_INET, SS_FAM_INET6, SS_FAM_NETLINK, SS_FAM_PACKET};

static const struct {
    const char *suffix;
    uint64_t mult;
} size_suffixes[] = {
    {"", 1},           {"k", 1ull << 10},   {"K", 1ull << 10}, {"KiB", 1ull << 10},
    {"M", 1ull << 20}, {"MiB", 1ull << 20}, {"G", 1ull << 30}, {"GiB", 1ull << 30},
};

static const struct {
    const char *unit;
    uint64_t ns;
} time_units[] = {
    {"ns", 1},
    {"us", 1000},
    {"ms", 1000000},
    {"s", SS_NS_PER_S},
};

/* ---- per-field parsers -------------------------------------------------------- */

struct rstate {
    struct span seen[F_COUNT]; /* each field as written, p == NULL when absent */
    struct span act[F_COUNT];  /* the actions but delay=, in the order written */
    unsigned nact;
    struct span peer_port; /* the port segment after peer=, if any */
    int uses_random;
};

static int parse_calls(struct ctx *c, struct span calls, unsigned *out)
{
    if (eq(calls, "*")) {
        *out = SS_CALLS_ALL;
        return 0;
    }
    struct list_iter it = {calls, 0};
    struct span item;
    unsigned mask = 0;
    while (list_next(&it, &item)) {
        if (!item.n)
            return fail(c, calls, "has an empty call name " CALLS_ACCEPTED);
        if (eq(item, "*"))
            return fail(c, item, "stands for every call and cannot be in a list " CALLS_ACCEPTED);
        unsigned bit = 0;
        for (int k = 0; k < SS_NCALLS; k++)
            if (eq(item, ss_call_name((enum ss_call)k)))
                bit = SS_CALL_BIT(k);
        if (eq(item, "close"))
            bit = SS_CALL_CLOSE_BIT;
        else if (eq(item, "shutdown"))
            bit = SS_CALL_SHUTDOWN_BIT;
        if (!bit)
            return fail(c, item, "is not a call " CALLS_ACCEPTED);
        mask |= bit; /* "send,send" is harmless */
    }
    *out = mask;
    return 0;
}

static int parse_error(struct ctx *c, struct span v, struct ss_rule *r)
{
    int e = 0;
    uint64_t num;
    if (all_digits(v)) {
        if (parse_u64(v, &num) == 0 && num <= INT_MAX)
            e = (int)num;
    } else {
        e = ss_errno_from_name(v.p, v.n);
    }
    for (size_t i = 0; e && i < NELEM(injectable_errnos); i++) {
        if (injectable_errnos[i] == e) {
            r->error = e;
            return 0;
        }
    }
    struct ss_buf *b = fail_begin(c, v);
    ss_buf_str(b, "is not an error ");
    if (r->calls == SS_CALLS_ALL) {
        ss_buf_str(b, "the send family");
    } else {
        int first = 1;
        for (int k = 0; k < SS_NCALLS; k++) {
            if (!(r->calls & SS_CALL_BIT(k)))
                continue;
            if (!first)
                ss_buf_char(b, '/');
            ss_buf_str(b, ss_call_name((enum ss_call)k));
            first = 0;
        }
    }
    ss_buf_str(b, " can return (");
    for (size_t i = 0; i < NELEM(injectable_errnos); i++) {
        if (i)
            ss_buf_str(b, ", ");
        ss_buf_str(b, ss_errno_name(injectable_errnos[i]));
    }
    ss_buf_str(b, ", or their numbers)");
    return -1;
}

static int parse_short(struct ctx *c, struct span f, struct span v, struct ss_rule *r)
{
    uint64_t n;
    if (v.n && v.p[v.n - 1] == '%') {
        int rc = parse_u64(mkspan(v.p, v.n - 1), &n);
        if (rc == -1)
            return fail(c, f, "is not a byte count or a percentage " SHORT_ACCEPTED);
        if (rc == -2 || n < 1 || n > SS_PCT_MAX)
            return fail(c, f, "is out of range " SHORT_ACCEPTED);
        r->short_pct = (unsigned)n;
        return 0;
    }
    int rc = parse_u64(v, &n);
    if (rc == -1)
        return fail(c, f, "is not a byte count or a percentage " SHORT_ACCEPTED);
    /* send() returns ssize_t: a larger count could never cut a request. */
    if (rc == -2 || n < 1 || n > (uint64_t)SSIZE_MAX)
        return fail(c, f, "is out of range " SHORT_ACCEPTED);
    r->short_bytes = n;
    return 0;
}

static int parse_batch(struct ctx *c, struct span f, struct span v, struct ss_rule *r)
{
    if (r->calls != SS_CALL_BIT(SS_CALL_SENDMMSG))
        return fail(c, f, "applies only to sendmmsg (the rule's calls must be just sendmmsg)");
    uint64_t n;
    int rc = parse_u64(v, &n);
    if (rc == -1 || rc == -2 || n < 1 || n > SS_BATCH_MAX) {
        struct ss_buf *b = fail_begin(c, f);
        ss_buf_str(b, rc == -1 ? "is not a message count" : "is out of range");
        ss_buf_str(b, " (batch=K with K from 1 to ");
        ss_buf_u64(b, SS_BATCH_MAX);
        ss_buf_str(b, "; to send none, use error=EAGAIN)");
        return -1;
    }
    r->batch = (unsigned)n;
    return 0;
}

/* DUR: digits [. digits] unit. 0 ok, -1 not a duration, -2 too long. */
static int parse_duration(struct span s, uint64_t *out)
{
    size_t i = 0, ndigits = 0;
    uint64_t ip = 0, frac = 0;
    unsigned nfrac = 0;
    int overflow = 0;
    for (; i < s.n && is_digit(s.p[i]); i++, ndigits++) {
        unsigned d = (unsigned)(s.p[i] - '0');
        if (ip > (UINT64_MAX - d) / 10)
            overflow = 1;
        else
            ip = ip * 10 + d;
    }
    if (i < s.n && s.p[i] == '.') {
        for (i++; i < s.n && is_digit(s.p[i]); i++, ndigits++) {
            if (nfrac < SS_NS_DIGITS) { /* finer than 1ns is dropped */
                frac = frac * 10 + (unsigned)(s.p[i] - '0');
                nfrac++;
            }
        }
    }
    if (!ndigits)
        return -1;
    struct span unit = mkspan(s.p + i, s.n - i);
    uint64_t mult = 0;
    for (size_t k = 0; k < NELEM(time_units); k++)
        if (eq(unit, time_units[k].unit))
            mult = time_units[k].ns;
    if (!mult)
        return -1;
    if (overflow || ip > SS_DELAY_MAX_NS / mult)
        return -2;
    for (; nfrac < SS_NS_DIGITS; nfrac++)
        frac *= 10; /* now in units of 1e-9 */
    /* frac < 1e9 and mult <= 1e9: the product fits in 64 bits. */
    uint64_t ns = ip * mult + frac * mult / SS_NS_PER_S;
    if (ns > SS_DELAY_MAX_NS)
        return -2;
    *out = ns;
    return 0;
}

static int parse_delay(struct ctx *c, struct span f, struct span v, struct ss_rule *r, struct rstate *st)
{
    size_t dots = find_dots(v);
    uint64_t lo, hi;
    int rc1 = parse_duration(trim(mkspan(v.p, dots)), &lo), rc2 = 0;
    if (dots < v.n)
        rc2 = parse_duration(trim(mkspan(v.p + dots + 2, v.n - dots - 2)), &hi);
    else
        hi = lo;
    if (rc1 == -1 || rc2 == -1)
        return fail(c, f, "is not a duration " DELAY_ACCEPTED);
    if (rc1 == -2 || rc2 == -2) {
        struct ss_buf *b = fail_begin(c, f);
        ss_buf_str(b, "is out of range (at most ");
        ss_buf_u64(b, SS_DELAY_MAX_NS / SS_NS_PER_S);
        ss_buf_str(b, "s)");
        return -1;
    }
    if (lo > hi)
        return fail(c, f, "is not a range (the first duration must not exceed the second, as in 10ms..50ms)");
    r->delay_min_ns = lo;
    r->delay_max_ns = hi;
    if (dots < v.n)
        st->uses_random = 1;
    return 0;
}

/* Leading digits of s: 0 ok (*used set), -1 none, -2 overflow. */
static int take_u64(struct span s, size_t *used, uint64_t *out)
{
    size_t i = 0;
    while (i < s.n && is_digit(s.p[i]))
        i++;
    *used = i;
    if (!i)
        return -1;
    return parse_u64(mkspan(s.p, i), out);
}

/* strace's first[..[last]][+[step]]. */
static int parse_when(struct ctx *c, struct span f, struct span v, struct ss_rule *r)
{
    uint64_t first, last = 0, step = 1;
    size_t used;
    int big = 0, rc = take_u64(v, &used, &first);
    if (rc == -1)
        return fail(c, f, "is not a call count " WHEN_ACCEPTED);
    big |= rc == -2;
    struct span rest = mkspan(v.p + used, v.n - used);
    int dots = 0, plus = 0, has_last = 0;
    if (rest.n >= 2 && rest.p[0] == '.' && rest.p[1] == '.') {
        dots = 1;
        rest = mkspan(rest.p + 2, rest.n - 2);
        rc = take_u64(rest, &used, &last);
        if (rc != -1) {
            has_last = 1;
            big |= rc == -2;
            rest = mkspan(rest.p + used, rest.n - used);
        }
    }
    if (rest.n && rest.p[0] == '+') {
        plus = 1;
        rest = mkspan(rest.p + 1, rest.n - 1);
        rc = take_u64(rest, &used, &step);
        if (rc != -1) {
            big |= rc == -2;
            rest = mkspan(rest.p + used, rest.n - used);
        }
    }
    if (rest.n)
        return fail(c, f, "is not a call count " WHEN_ACCEPTED);
    if (!has_last)
        last = (dots || plus) ? UINT64_MAX : first;
    if (big || first < 1 || step < 1 || last < first)
        return fail(c, f, "is out of range " WHEN_ACCEPTED);
    r->when_first = first;
    r->when_last = last;
    r->when_step = step;
    return 0;
}

/* floor(num * 2^64 / den) for num < den, by binary long division (no
 * 128-bit type needed). den may exceed 2^63, so the doubled remainder's
 * carry-out is kept in `top`. */
static uint64_t frac_to_u64(uint64_t num, uint64_t den)
{
    uint64_t q = 0, rem = num;
    for (int i = 0; i < 64; i++) {
        uint64_t top = rem >> 63;
        rem <<= 1;
        q <<= 1;
        if (top || rem >= den) {
            rem -= den; /* exact modulo 2^64: the true value is below den */
            q |= 1;
        }
    }
    return q;
}

/* A probability, as a threshold for a 64-bit draw (UINT64_MAX: always). */
static int parse_prob(struct ctx *c, struct span f, struct span v, uint64_t *threshold)
{
    size_t i = 0, ndigits = 0;
    uint64_t ip = 0, frac = 0;
    unsigned nfrac = 0;
    int frac_nonzero = 0;
    for (; i < v.n && is_digit(v.p[i]); i++, ndigits++)
        if (ip < 10) /* anything above 1 is out of range anyway */
            ip = ip * 10 + (unsigned)(v.p[i] - '0');
    if (i < v.n && v.p[i] == '.') {
        for (i++; i < v.n && is_digit(v.p[i]); i++, ndigits++) {
            unsigned d = (unsigned)(v.p[i] - '0');
            frac_nonzero |= d != 0;
            if (nfrac < SS_P_DIGITS) {
                frac = frac * 10 + d;
                nfrac++;
            }
        }
    }
    if (!ndigits || i != v.n)
        return fail(c, f, "is not a probability (a number from 0 to 1, like 0.25)");
    if (ip > 1 || (ip == 1 && frac_nonzero))
        return fail(c, f, "is out of range (a probability from 0 to 1)");
    if (ip == 1) {
        *threshold = UINT64_MAX;
    } else {
        uint64_t den = 1;
        for (unsigned k = 0; k < SS_P_DIGITS; k++)
            den *= 10;
        for (; nfrac < SS_P_DIGITS; nfrac++)
            frac *= 10;
        *threshold = frac_to_u64(frac, den);
    }
    return 0;
}

static int parse_p(struct ctx *c, struct span f, struct span v, struct ss_rule *r, struct rstate *st)
{
    st->uses_random = 1;
    return parse_prob(c, f, v, &r->p_threshold);
}

/* rate=R: a decimal number and a unit (RATE_ACCEPTED), in bytes per second. */
static const struct {
    const char *unit;
    uint64_t num, den; /* bytes per second per unit = num / den */
} rate_units[] = {
    {"B/s", 1, 1},   {"KiB/s", 1ull << 10, 1}, {"MiB/s", 1ull << 20, 1}, {"GiB/s", 1ull << 30, 1},
    {"bit/s", 1, 8}, {"kbit/s", 1000, 8},      {"Mbit/s", 1000000, 8},   {"Gbit/s", 1000000000, 8},
};

static int parse_rate(struct ctx *c, struct span f, struct span v, struct ss_rule *r)
{
    size_t i = 0, ndigits = 0;
    uint64_t ip = 0, frac = 0, scale = 1;
    for (; i < v.n && is_digit(v.p[i]); i++, ndigits++)
        if (ip <= SS_RATE_MAX) /* anything above is out of range anyway */
            ip = ip * 10 + (unsigned)(v.p[i] - '0');
    if (i < v.n && v.p[i] == '.') {
        for (i++; i < v.n && is_digit(v.p[i]); i++, ndigits++) {
            if (scale < SS_NS_PER_S) { /* nine decimals are plenty */
                frac = frac * 10 + (unsigned)(v.p[i] - '0');
                scale *= 10;
            }
        }
    }
    struct span unit = mkspan(v.p + i, v.n - i);
    size_t k = 0;
    while (k < NELEM(rate_units) && !eq(unit, rate_units[k].unit))
        k++;
    if (!ndigits || k == NELEM(rate_units))
        return fail(c, f, "is not a rate " RATE_ACCEPTED);
    if (ip > SS_RATE_MAX)
        return fail(c, f, "is out of range " RATE_ACCEPTED);
    /* (ip + frac / scale) * num / den, exactly, then rounded down. */
    unsigned __int128 bps = ((unsigned __int128)ip * scale + frac) * rate_units[k].num;
    bps /= (unsigned __int128)scale * rate_units[k].den;
    if (bps < 1 || bps > SS_RATE_MAX)
        return fail(c, f, "is out of range " RATE_ACCEPTED);
    r->rate_bps = (uint64_t)bps;
    return 0;
}

static int parse_stall(struct ctx *c, struct span f, struct span v, struct ss_rule *r)
{
    uint64_t ns;
    int rc = parse_duration(v, &ns);
    if (rc == -1)
        return fail(c, f, "is not a duration " STALL_ACCEPTED);
    if (rc == -2 || ns < 1 || ns > SS_STALL_MAX_NS)
        return fail(c, f, "is out of range " STALL_ACCEPTED);
    r->stall_ns = ns;
    return 0;
}

static int parse_corrupt(struct ctx *c, struct span f, struct span v, struct ss_rule *r, struct rstate *st)
{
    uint64_t n;
    int rc = parse_u64(v, &n);
    if (rc == -1 || rc == -2 || n < 1 || n > SS_CORRUPT_MAX) {
        struct ss_buf *b = fail_begin(c, f);
        ss_buf_str(b, rc == -1 ? "is not a bit count" : "is out of range");
        ss_buf_str(b, " (corrupt=N bits, N from 1 to ");
        ss_buf_u64(b, SS_CORRUPT_MAX);
        ss_buf_char(b, ')');
        return -1;
    }
    r->corrupt_bits = (unsigned)n;
    st->uses_random = 1; /* the positions are drawn */
    return 0;
}

static int parse_fd(struct ctx *c, struct span f, struct span v, struct ss_rule *r)
{
    uint64_t n;
    int rc = parse_u64(v, &n);
    if (rc == -1 || rc == -2 || n > INT_MAX) {
        struct ss_buf *b = fail_begin(c, f);
        ss_buf_str(b, rc == -1 ? "is not a descriptor" : "is out of range");
        ss_buf_str(b, " (fd=N with N from 0 to ");
        ss_buf_u64(b, INT_MAX);
        ss_buf_char(b, ')');
        return -1;
    }
    r->fd = (int)n;
    return 0;
}

static int parse_list(struct ctx *c, struct span f, struct span v, const char *const *names,
                      const unsigned *bits, size_t n, const char *what, unsigned *out)
{
    struct list_iter it = {v, 0};
    struct span item;
    unsigned mask = 0;
    while (list_next(&it, &item)) {
        unsigned bit = 0;
        for (size_t k = 0; k < n; k++)
            if (eq(item, names[k]))
                bit = bits[k];
        if (!bit) {
            struct ss_buf *b = fail_begin(c, item.n ? item : f);
            ss_buf_str(b, item.n ? "is not " : "has an empty item, not ");
            ss_buf_str(b, what);
            ss_buf_str(b, " (");
            for (size_t k = 0; k < n; k++) {
                if (k)
                    ss_buf_str(b, ", ");
                ss_buf_str(b, names[k]);
            }
            ss_buf_char(b, ')');
            return -1;
        }
        mask |= bit;
    }
    *out = mask;
    return 0;
}

static int parse_peer(struct ctx *c, struct span f, struct span v, struct ss_rule *r)
{
    char addr[SS_ADDR_TEXT_MAX];
    memset(&r->peer, 0, sizeof r->peer);
    if (v.p[0] == '/') {
        struct sockaddr_un *sun = (struct sockaddr_un *)&r->peer;
        if (v.n >= sizeof sun->sun_path) {
            struct ss_buf *b = fail_begin(c, f);
            ss_buf_str(b, "is too long (a unix path of at most ");
            ss_buf_u64(b, sizeof sun->sun_path - 1);
            ss_buf_str(b, " bytes)");
            return -1;
        }
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, v.p, v.n);
        sun->sun_path[v.n] = '\0';
        r->peer_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + v.n + 1);
        return 0;
    }
    if (v.p[0] == '[') {
        struct span in = mkspan(v.p + 1, v.n - 1);
        if (!in.n || in.p[in.n - 1] != ']' || in.n - 1 >= sizeof addr)
            return fail(c, v, "is not an IPv6 address (in brackets, like [::1] or [2001:db8::1]:443)");
        memcpy(addr, in.p, in.n - 1);
        addr[in.n - 1] = '\0';
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r->peer;
        if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
            return fail(c, v, "is not an IPv6 address (in brackets, like [::1] or [2001:db8::1]:443)");
        sin6->sin6_family = AF_INET6;
        r->peer_len = sizeof *sin6;
        return 0;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)&r->peer;
    if (v.n >= sizeof addr)
        return fail(c, v, "is not a peer address " PEER_ACCEPTED);
    memcpy(addr, v.p, v.n);
    addr[v.n] = '\0';
    if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
        return fail(c, v, "is not a peer address " PEER_ACCEPTED);
    sin->sin_family = AF_INET;
    r->peer_len = sizeof *sin;
    return 0;
}

static int parse_port_value(struct ctx *c, struct span tok, struct span v, unsigned *out)
{
    uint64_t n;
    int rc = parse_u64(v, &n);
    if (rc == -1)
        return fail(c, tok, "is not a port (from 1 to 65535)");
    if (rc == -2 || n < 1 || n > SS_PORT_MAX)
        return fail(c, tok, "is out of range (a port from 1 to 65535)");
    *out = (unsigned)n;
    return 0;
}

static int parse_after(struct ctx *c, struct span f, struct span v, struct ss_rule *r)
{
    uint64_t n;
    size_t used;
    int rc = take_u64(v, &used, &n);
    if (rc == -1)
        return fail(c, f, "is not a byte count " AFTER_ACCEPTED);
    struct span suffix = mkspan(v.p + used, v.n - used);
    uint64_t mult = 0;
    for (size_t k = 0; k < NELEM(size_suffixes); k++)
        if (eq(suffix, size_suffixes[k].suffix))
            mult = size_suffixes[k].mult;
    if (!mult)
        return fail(c, f, "is not a byte count " AFTER_ACCEPTED);
    if (rc == -2 || n > UINT64_MAX / mult)
        return fail(c, f, "is out of range (at most 18446744073709551615 bytes)");
    r->after_bytes = n * mult;
    return 0;
}

/* ---- one rule --------------------------------------------------------------- */

static void put_field_text(struct ss_buf *tb, struct span f)
{
    ss_buf_char(tb, ':');
    ss_buf_mem(tb, f.p, f.n);
}

/* The pairs of actions (besides delay=) that combine (SPEC 8). */
static int combine(int a, int b)
{
    return (a == F_STALL && b == F_RESET) || (a == F_RESET && b == F_STALL) ||
           (a == F_RATE && b == F_CORRUPT) || (a == F_CORRUPT && b == F_RATE);
}

/* Action field `kind`, written as f, against the actions before it. */
static int check_exclusive(struct ctx *c, struct span f, int kind, struct rstate *st)
{
    for (unsigned i = 0; i < st->nact; i++) {
        int other = 0;
        while (st->seen[other].p != st->act[i].p)
            other++;
        if (combine(other, kind))
            continue;
        struct ss_buf *b = fail_begin(c, f);
        ss_buf_str(b, "cannot be combined with '");
        put_token(b, st->act[i]);
        ss_buf_str(b, "' " EXCL_ACCEPTED);
        return -1;
    }
    st->act[st->nact++] = f;
    return 0;
}

static int never_applies(struct ctx *c, struct span action, struct span cond, const char *what)
{
    struct ss_buf *b = fail_begin(c, action);
    ss_buf_str(b, "never applies: '");
    put_token(b, cond);
    ss_buf_str(b, "' ");
    ss_buf_str(b, what);
    return -1;
}

static int parse_field(struct ctx *c, struct span f, struct splitter *sp, struct ss_buf *tb,
                       struct ss_rule *r, struct rstate *st)
{
    size_t eqpos = find(f, '=');
    struct span name = trim(mkspan(f.p, eqpos));
    int has_value = eqpos < f.n;
    struct span v = has_value ? trim(mkspan(f.p + eqpos + 1, f.n - eqpos - 1)) : mkspan(f.p + f.n, 0);

    int kind = -1;
    for (int k = 0; k < F_COUNT; k++)
        if (eq(name, fields[k].name))
            kind = k;
    if (kind < 0) {
        if (!name.n)
            return fail(c, f, "has no field name " FIELDS_ACCEPTED);
        if (all_digits(name))
            return fail(c, name, "is not a field; a port goes right after peer=ADDR " FIELDS_ACCEPTED);
        return fail(c, name, "is not a field " FIELDS_ACCEPTED);
    }
    if (st->seen[kind].p) {
        struct ss_buf *b = fail_begin(c, f);
        ss_buf_str(b, "repeats ");
        ss_buf_str(b, fields[kind].name);
        ss_buf_str(b, kind == F_DROP ? "" : "=");
        ss_buf_str(b, " (each field at most once per rule)");
        return -1;
    }
    st->seen[kind] = f;
    if (kind == F_DROP || kind == F_RESET || kind == F_DUP) {
        if (has_value) {
            struct ss_buf *b = fail_begin(c, f);
            ss_buf_str(b, "takes no value ");
            ss_buf_str(b, fields[kind].usage);
            return -1;
        }
    } else if (!v.n) {
        struct ss_buf *b = fail_begin(c, f);
        ss_buf_str(b, "needs a value ");
        ss_buf_str(b, fields[kind].usage);
        return -1;
    }

    if (kind <= F_CORRUPT && kind != F_DELAY && check_exclusive(c, f, kind, st))
        return -1;
    switch (kind) {
    case F_ERROR:
        r->actions |= SS_ACT_ERROR;
        return parse_error(c, v, r);
    case F_SHORT:
        r->actions |= SS_ACT_SHORT;
        return parse_short(c, f, v, r);
    case F_BATCH:
        r->actions |= SS_ACT_BATCH;
        return parse_batch(c, f, v, r);
    case F_DROP:
        r->actions |= SS_ACT_DROP;
        return 0;
    case F_DELAY:
        r->actions |= SS_ACT_DELAY;
        return parse_delay(c, f, v, r, st);
    case F_RESET:
        r->actions |= SS_ACT_RESET;
        return 0;
    case F_RATE:
        r->actions |= SS_ACT_RATE;
        return parse_rate(c, f, v, r);
    case F_STALL:
        r->actions |= SS_ACT_STALL;
        return parse_stall(c, f, v, r);
    case F_DUP:
        r->actions |= SS_ACT_DUP;
        return 0;
    case F_CORRUPT:
        r->actions |= SS_ACT_CORRUPT;
        return parse_corrupt(c, f, v, r, st);
    case F_WHEN:
        r->conds |= SS_COND_WHEN;
        return parse_when(c, f, v, r);
    case F_P:
        r->conds |= SS_COND_P;
        return parse_p(c, f, v, r, st);
    case F_BURST:
        r->conds |= SS_COND_BURST;
        return parse_prob(c, f, v, &r->burst_threshold);
    case F_FD:
        r->conds |= SS_COND_FD;
        return parse_fd(c, f, v, r);
    case F_TYPE:
        r->conds |= SS_COND_TYPE;
        return parse_list(c, f, v, type_names, type_bits, NELEM(type_names), "a socket type", &r->types);
    case F_FAMILY:
        r->conds |= SS_COND_FAMILY;
        return parse_list(c, f, v, family_names, family_bits, NELEM(family_names), "a socket family",
                          &r->families);
    case F_PEER: {
        r->conds |= SS_COND_PEER;
        if (parse_peer(c, f, v, r))
            return -1;
        /* ':' separates fields too, so a digits-only segment right after
         * peer=ADDR is that peer's port. */
        struct splitter peek = *sp;
        struct span g;
        if (!split_next(&peek, &g) || !all_digits(trim(g)))
            return 0;
        *sp = peek;
        g = trim(g);
        put_field_text(tb, g);
        st->peer_port = g;
        if (r->peer.ss_family == AF_UNIX)
            return fail(c, g, "is a port, but a unix peer has none (peer=/path)");
        unsigned port;
        if (parse_port_value(c, g, g, &port))
            return -1;
        if (r->peer.ss_family == AF_INET)
            ((struct sockaddr_in *)&r->peer)->sin_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in6 *)&r->peer)->sin6_port = htons((uint16_t)port);
        return 0;
    }
    case F_PORT:
        r->conds |= SS_COND_PORT;
        return parse_port_value(c, f, v, &r->port);
    case F_AFTER:
        r->conds |= SS_COND_AFTER;
        return parse_after(c, f, v, r);
    }
    return 0;
}

/* The first action of r other than delay=, as written. */
static struct span first_action(const struct rstate *st)
{
    return st->nact ? st->act[0] : st->seen[F_DELAY];
}

/* What the new actions and calls can reach, given the rule's own fields. */
static int check_reach(struct ctx *c, const struct ss_rule *r, const struct rstate *st)
{
    if ((r->calls & SS_CALLS_TEARDOWN) && (r->actions & ~SS_ACT_DELAY)) {
        struct ss_buf *b = fail_begin(c, first_action(st));
        ss_buf_str(b, "does not apply to ");
        ss_buf_str(b, (r->calls & SS_CALL_CLOSE_BIT) ? "close" : "shutdown");
        ss_buf_str(b, " (close and shutdown take delay= only)");
        return -1;
    }
    if ((r->conds & SS_COND_BURST) && !(r->conds & SS_COND_P))
        return fail(c, st->seen[F_BURST],
                    "needs p= in the same rule (burst=Q is the probability after a fired call, p= the "
                    "one otherwise)");
    if ((r->actions & SS_ACT_RESET) && (r->conds & SS_COND_TYPE) && !(r->types & SS_TYPES_RESET))
        return never_applies(c, st->seen[F_RESET], st->seen[F_TYPE],
                             "allows no stream socket (reset acts on TCP sockets only)");
    if ((r->actions & SS_ACT_RESET) && (r->conds & SS_COND_FAMILY) && !(r->families & SS_FAMS_RESET))
        return never_applies(c, st->seen[F_RESET], st->seen[F_FAMILY],
                             "allows no TCP socket (reset acts on inet and inet6 stream sockets only)");
    if ((r->actions & SS_ACT_DUP) && (r->conds & SS_COND_TYPE) && !(r->types & SS_TYPES_DUP))
        return never_applies(c, st->seen[F_DUP], st->seen[F_TYPE],
                             "allows no datagram socket (dup acts on dgram and raw sockets only)");
    return 0;
}

static int parse_rule(struct ctx *c, struct span rule, struct ss_rule *r, int *uses_random)
{
    memset(r, 0, sizeof *r);
    r->when_first = 1;
    r->when_last = UINT64_MAX;
    r->when_step = 1;
    r->p_threshold = UINT64_MAX;
    r->fd = -1;

    struct rstate st;
    memset(&st, 0, sizeof st);
    struct ss_buf tb;
    ss_buf_init(&tb, r->text, sizeof r->text);

    struct splitter sp = {rule.p, rule.p + rule.n, 0};
    struct span f;
    split_next(&sp, &f);
    f = trim(f);
    ss_buf_mem(&tb, f.p, f.n);
    if (!f.n)
        return fail(c, rule, "has no calls before its first ':' " CALLS_ACCEPTED);
    if (parse_calls(c, f, &r->calls))
        return -1;

    while (split_next(&sp, &f)) {
        f = trim(f);
        put_field_text(&tb, f);
        if (!f.n)
            return fail(c, rule, "has an empty field (fields are separated by one ':')");
        if (parse_field(c, f, &sp, &tb, r, &st))
            return -1;
    }

    if (!r->actions)
        return fail(
            c, rule,
            "has no action (error=, short=, batch=, drop, delay=, reset, rate=, stall=, dup or corrupt=)");
    if (check_reach(c, r, &st))
        return -1;
    if ((r->actions & SS_ACT_SHORT) && (r->conds & SS_COND_TYPE) && !(r->types & SS_TYPES_SHORT))
        return never_applies(
            c, st.seen[F_SHORT], st.seen[F_TYPE],
            "allows no stream socket (short= acts on stream sockets only; a datagram is atomic)");
    if ((r->actions & SS_ACT_SHORT) && (r->conds & SS_COND_FAMILY) && !(r->families & SS_FAMS_STREAM))
        return never_applies(c, st.seen[F_SHORT], st.seen[F_FAMILY],
                             "has no stream sockets (short= acts on stream sockets only)");
    if ((r->actions & SS_ACT_DROP) && (r->conds & SS_COND_TYPE) && !(r->types & SS_TYPES_DROP))
        return never_applies(c, st.seen[F_DROP], st.seen[F_TYPE],
                             "allows no datagram socket (drop acts on dgram and raw sockets only)");
    if ((r->conds & SS_COND_PORT) && (r->conds & SS_COND_PEER)) {
        if (r->peer.ss_family == AF_UNIX)
            return fail(c, st.seen[F_PORT],
                        "cannot match a unix peer (ports belong to inet and inet6 peers)");
        if (st.peer_port.p) {
            struct ss_buf *b = fail_begin(c, st.seen[F_PORT]);
            ss_buf_str(b, "repeats the port of '");
            put_token(b, st.seen[F_PEER]);
            ss_buf_char(b, ':');
            put_token(b, st.peer_port);
            ss_buf_str(b, "' (give it once: peer=ADDR:PORT or port=N)");
            return -1;
        }
    }

    if (tb.truncated) { /* cut, and say so in log lines */
        size_t m = sizeof SS_TEXT_CUT_MARKER - 1;
        memcpy(r->text + sizeof r->text - 1 - m, SS_TEXT_CUT_MARKER, m);
    }
    if (st.uses_random)
        *uses_random = 1;
    return 0;
}

/* ---- the whole text ----------------------------------------------------------- */

/* Parse every rule of `text`; with `store`, copy rule k to store[k]. */
static int parse_all(struct ctx *c, unsigned base, const char *text, int comments, struct ss_rule *store,
                     unsigned *count, int *uses_random)
{
    unsigned k = 0;
    const char *s = text ? text : "";
    while (*s) {
        const char *start = s;
        while (*s && *s != ';' && *s != '\n' && !(comments && *s == '#'))
            s++;
        struct span rule = trim(mkspan(start, (size_t)(s - start)));
        if (*s == '#') /* a comment runs to the end of the line, ';' included */
            while (*s && *s != '\n')
                s++;
        if (*s)
            s++;
        if (!rule.n)
            continue;
        c->rule_no = (uint64_t)base + k + 1;
        if ((uint64_t)base + k >= SS_MAX_RULES) {
            struct ss_buf *b = fail_begin(c, rule);
            ss_buf_str(b, "is one rule too many (at most ");
            ss_buf_u64(b, SS_MAX_RULES);
            ss_buf_str(b, " rules in force)");
            return -1;
        }
        struct ss_rule tmp;
        if (parse_rule(c, rule, &tmp, uses_random))
            return -1;
        if (store)
            memcpy(&store[k], &tmp, sizeof tmp);
        k++;
    }
    *count = k;
    return 0;
}

int ss_rules_parse(struct ss_ruleset *set, const char *text, int comments, char *err, size_t errlen)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.err = err;
    c.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!set) {
        c.rule_no = 0;
        return fail(&c, mkspan("", 0), "has no rule set to add to");
    }
    unsigned count = 0;
    int random = 0;
    if (parse_all(&c, set->n, text, comments, NULL, &count, &random))
        return -1;
    /* Everything is valid: parse again, this time into the set. */
    c.err = NULL;
    parse_all(&c, set->n, text, comments, &set->rule[set->n], &count, &random);
    set->n += count;
    if (random)
        set->uses_random = 1;
    return 0;
}
