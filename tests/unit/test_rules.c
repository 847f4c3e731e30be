/* test_rules.c - the fault rule parser (SPEC sections 8 and 10), table-driven. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include "fmt.h"
#include "rules.h"

#define ERRLEN   512 /* what the library's caller gives (SS_ERR_MAX) */
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define SEND     SS_CALL_BIT(SS_CALL_SEND)
#define SENDTO   SS_CALL_BIT(SS_CALL_SENDTO)
#define SENDMSG  SS_CALL_BIT(SS_CALL_SENDMSG)
#define SENDMMSG SS_CALL_BIT(SS_CALL_SENDMMSG)
#define WRITE    SS_CALL_BIT(SS_CALL_WRITE)
#define WRITEV   SS_CALL_BIT(SS_CALL_WRITEV)
#define MS       1000000ull
#define SEC      1000000000ull

static struct ss_ruleset set;
static char err[ERRLEN];

static int parse(const char *text, int comments)
{
    return ss_rules_parse(&set, text, comments, err, sizeof err);
}

/* ---- invalid rules: the message names the rule, the token and what fits ---- */

struct bad {
    const char *in;
    const char *token; /* quoted right after "rule 1: " */
    const char *what;  /* a substring of the rest of the line */
};

static const struct bad bad_rules[] = {
    /* calls */
    {"frobnicate:error=EAGAIN", "frobnicate",
     "is not a call (send, sendto, sendmsg, sendmmsg, write, writev, close, shutdown, *)"},
    {"SEND:drop", "SEND", "is not a call (send, sendto,"},
    {":error=EAGAIN", ":error=EAGAIN", "has no calls before its first ':' (send,"},
    {"send,,sendto:drop", "send,,sendto", "has an empty call name (send,"},
    {"*,send:drop", "*", "cannot be in a list (send,"},
    {"error=EAGAIN", "error=EAGAIN", "is not a call (send,"},
    /* actions present and compatible */
    {"send", "send",
     "has no action (error=, short=, batch=, drop, delay=, reset, rate=, stall=, dup or corrupt=)"},
    {"send:fd=3", "send:fd=3", "has no action (error=, short="},
    {"send:error=EAGAIN:drop", "drop",
     "cannot be combined with 'error=EAGAIN' (one of error=, short=, batch=, drop, reset, rate=, stall=, "
     "dup or corrupt= per rule, except stall= with reset and rate= with corrupt=; delay= combines with any)"},
    {"sendmmsg:short=10:batch=2", "batch=2", "cannot be combined with 'short=10'"},
    {"send:drop:error=EPIPE", "error=EPIPE", "cannot be combined with 'drop'"},
    /* error= */
    {"sendto:error=EISDIR", "EISDIR", "is not an error sendto can return (EACCES, EAGAIN, EALREADY, EBADF,"},
    {"write:error=EIO", "EIO", "is not an error write can return (EACCES,"},
    {"writev:error=ENOSPC", "ENOSPC", "is not an error writev can return"},
    {"send:error=EDQUOT", "EDQUOT", "is not an error send can return"},
    {"send:error=EFBIG", "EFBIG", "is not an error send can return"},
    {"send,sendto:error=21", "21", "is not an error send/sendto can return"},
    {"*:error=EFOO", "EFOO", "is not an error the send family can return ("},
    {"send:error=0", "0", "is not an error send can return"},
    {"send:error=eagain", "eagain", "is not an error send can return"},
    {"send:error=99999999999999999999", "99999999999999999999", "is not an error send can return"},
    {"send:error", "error", "needs a value (error=ERRNO"},
    {"send:error=", "error=", "needs a value (error=ERRNO"},
    /* short= */
    {"send:short=0", "short=0",
     "is out of range (short=N with N >= 1 bytes, or short=P% with P from 1 to 100)"},
    {"send:short=0%", "short=0%", "is out of range (short=N"},
    {"send:short=101%", "short=101%", "is out of range (short=N"},
    {"send:short=9223372036854775808", "short=9223372036854775808", "is out of range"},
    {"send:short=abc", "short=abc", "is not a byte count or a percentage (short=N"},
    {"send:short=10:type=dgram", "short=10", "never applies: 'type=dgram' allows no stream socket"},
    {"send:type=dgram,seqpacket:short=10", "short=10", "never applies: 'type=dgram,seqpacket'"},
    {"send:short=5%:family=netlink,packet", "short=5%",
     "never applies: 'family=netlink,packet' has no stream"},
    /* batch= */
    {"send:batch=2", "batch=2", "applies only to sendmmsg"},
    {"sendmmsg,send:batch=2", "batch=2", "applies only to sendmmsg"},
    {"*:batch=2", "batch=2", "applies only to sendmmsg"},
    {"sendmmsg:batch=0", "batch=0", "is out of range (batch=K with K from 1 to 1024"},
    {"sendmmsg:batch=1025", "batch=1025", "is out of range (batch=K with K from 1 to 1024"},
    {"sendmmsg:batch=two", "batch=two", "is not a message count (batch=K"},
    /* drop */
    {"send:drop=1", "drop=1", "takes no value (drop)"},
    {"send:drop:type=stream", "drop", "never applies: 'type=stream' allows no datagram socket"},
    {"send:type=stream,seqpacket:drop", "drop", "never applies: 'type=stream,seqpacket'"},
    /* delay= */
    {"send:delay=10", "delay=10", "is not a duration (a number with ns, us, ms or s"},
    {"send:delay=10parsecs", "delay=10parsecs", "is not a duration"},
    {"send:delay=ms", "delay=ms", "is not a duration"},
    {"send:delay=10ms..", "delay=10ms..", "is not a duration"},
    {"send:delay=50ms..10ms", "delay=50ms..10ms", "is not a range (the first duration must not exceed"},
    {"send:delay=86401s", "delay=86401s", "is out of range (at most 86400s)"},
    {"send:delay=99999999999999999999ns", "delay=99999999999999999999ns", "is out of range"},
    /* when= */
    {"send:drop:when=0", "when=0", "is out of range (when=N, N..M, N.., N+, N+S or N..M+S"},
    {"send:drop:when=5..3", "when=5..3", "is out of range (when=N"},
    {"send:drop:when=3+0", "when=3+0", "is out of range"},
    {"send:drop:when=x", "when=x", "is not a call count (when=N"},
    {"send:drop:when=3..4..5", "when=3..4..5", "is not a call count"},
    {"send:drop:when=-1", "when=-1", "is not a call count"},
    {"send:drop:when=3-", "when=3-", "is not a call count"},
    {"send:drop:when=99999999999999999999", "when=99999999999999999999", "is out of range"},
    {"send:drop:when=", "when=", "needs a value (when=N"},
    /* p= */
    {"send:drop:p=1.5", "p=1.5", "is out of range (a probability from 0 to 1)"},
    {"send:drop:p=1.0001", "p=1.0001", "is out of range (a probability from 0 to 1)"},
    {"send:drop:p=2", "p=2", "is out of range"},
    {"send:drop:p=abc", "p=abc", "is not a probability (a number from 0 to 1"},
    {"send:drop:p=-0.5", "p=-0.5", "is not a probability"},
    {"send:drop:p=0.5.5", "p=0.5.5", "is not a probability"},
    {"send:drop:p=1e-3", "p=1e-3", "is not a probability"},
    {"send:drop:p=.", "p=.", "is not a probability"},
    /* fd= */
    {"send:drop:fd=-1", "fd=-1", "is not a descriptor (fd=N with N from 0 to 2147483647)"},
    {"send:drop:fd=2147483648", "fd=2147483648", "is out of range (fd=N with N from 0 to 2147483647)"},
    {"send:drop:fd=3x", "fd=3x", "is not a descriptor"},
    /* type= and family= */
    {"send:drop:type=stream,bogus", "bogus", "is not a socket type (stream, dgram, seqpacket, raw)"},
    {"send:drop:type=", "type=", "needs a value (type=stream,dgram,seqpacket,raw)"},
    {"send:drop:type=dgram,,raw", "type=dgram,,raw", "has an empty item, not a socket type (stream,"},
    {"send:drop:family=ax25", "ax25", "is not a socket family (unix, inet, inet6, netlink, packet)"},
    {"send:drop:family=INET", "INET", "is not a socket family"},
    /* peer= and port= */
    {"send:drop:peer=fe80::1", "fe80",
     "is not a peer address (IPv4 like 10.0.0.1, IPv6 in brackets like [::1],"},
    {"send:drop:peer=::1", "peer=", "needs a value (IPv4 like"},
    {"send:drop:peer=[::1", "[::1", "is not an IPv6 address (in brackets"},
    {"send:drop:peer=[1.2.3.4]", "[1.2.3.4]", "is not an IPv6 address"},
    {"send:drop:peer=[]", "[]", "is not an IPv6 address"},
    {"send:drop:peer=10.0.0.256", "10.0.0.256", "is not a peer address"},
    {"send:drop:peer=localhost", "localhost", "is not a peer address"},
    {"send:drop:peer=tmp/sock", "tmp/sock",
     "is not a peer address (IPv4 like 10.0.0.1, IPv6 in brackets like [::1], or "
     "a unix path starting with /)"},
    {"send:drop:peer=10.0.0.1:0", "0", "is out of range (a port from 1 to 65535)"},
    {"send:drop:peer=10.0.0.1:70000", "70000", "is out of range (a port from 1 to 65535)"},
    {"send:drop:peer=[::1]:65536", "65536", "is out of range (a port"},
    {"send:drop:peer=/tmp/s:80", "80", "is a port, but a unix peer has none"},
    {"send:drop:port=0", "port=0", "is out of range (a port from 1 to 65535)"},
    {"send:drop:port=http", "port=http", "is not a port (from 1 to 65535)"},
    {"send:drop:peer=10.0.0.1:80:port=80", "port=80", "repeats the port of 'peer=10.0.0.1:80'"},
    {"send:drop:port=80:peer=10.0.0.1:80", "port=80", "repeats the port of 'peer=10.0.0.1:80'"},
    {"send:drop:peer=/tmp/s:port=80", "port=80", "cannot match a unix peer"},
    {"send:drop:peer=10.0.0.1:peer=10.0.0.2", "peer=10.0.0.2",
     "repeats peer= (each field at most once per rule)"},
    /* after= */
    {"send:drop:after=1T", "after=1T", "is not a byte count (after=N bytes, optionally with k, M or G"},
    {"send:drop:after=1MB", "after=1MB", "is not a byte count"},
    {"send:drop:after=-5", "after=-5", "is not a byte count"},
    {"send:drop:after=17179869184G", "after=17179869184G",
     "is out of range (at most 18446744073709551615 bytes)"},
    /* fields in general */
    {"send:drop::fd=3", "send:drop::fd=3", "has an empty field"},
    {"send:drop:", "send:drop:", "has an empty field"},
    {"send:drop:80", "80", "is not a field; a port goes right after peer=ADDR (error="},
    {"send:=5:drop", "=5", "has no field name (error=, short="},
    {"send:frob=1", "frob",
     "is not a field (error=, short=, batch=, drop, delay=, reset, rate=, stall=, dup, corrupt=, when=, p=, "
     "burst=, fd=, type=, family=, peer=, port=, after=)"},
    {"send:Error=EAGAIN", "Error", "is not a field"},
    {"send:drop:drop", "drop", "repeats drop (each field at most once per rule)"},
    {"send:delay=1ms:delay=2ms", "delay=2ms", "repeats delay="},
    {"send:drop:when=1:when=2", "when=2", "repeats when="},
    {"send:drop:p=0.5:p=0.5", "p=0.5", "repeats p="},
    {"send:error=EAGAIN:error=EPIPE", "error=EPIPE", "repeats error="},
    {"send:drop:fd=1:fd=1", "fd=1", "repeats fd="},
    {"send:drop:type=dgram:type=raw", "type=raw", "repeats type="},
    {"send:drop:after=1:after=2", "after=2", "repeats after="},
    /* the network actions (issue 16) */
    {"close:error=EAGAIN", "error=EAGAIN", "does not apply to close (close and shutdown take delay= only)"},
    {"shutdown:reset", "reset", "does not apply to shutdown (close and shutdown take delay= only)"},
    {"send,close:drop", "drop", "does not apply to close"},
    {"close,frob:delay=1s", "frob",
     "is not a call (send, sendto, sendmsg, sendmmsg, write, writev, close, "
     "shutdown, *)"},
    {"send:reset=1", "reset=1", "takes no value (reset)"},
    {"send:dup=2", "dup=2", "takes no value (dup)"},
    {"send:reset:type=dgram", "reset",
     "never applies: 'type=dgram' allows no stream socket (reset acts on TCP"},
    {"send:reset:family=unix", "reset", "never applies: 'family=unix' allows no TCP socket"},
    {"send:dup:type=stream", "dup", "never applies: 'type=stream' allows no datagram socket (dup acts on"},
    {"send:type=seqpacket:dup", "dup", "never applies: 'type=seqpacket'"},
    {"send:reset:dup", "dup", "cannot be combined with 'reset' (one of error="},
    {"send:drop:dup", "dup", "cannot be combined with 'drop'"},
    {"send:rate=1MiB/s:stall=1s", "stall=1s", "cannot be combined with 'rate=1MiB/s'"},
    {"send:corrupt=1:short=3", "short=3", "cannot be combined with 'corrupt=1'"},
    {"send:stall=1s:reset:rate=1MiB/s", "rate=1MiB/s", "cannot be combined with 'stall=1s'"},
    {"send:corrupt=2:rate=1MiB/s:dup", "dup", "cannot be combined with 'corrupt=2'"},
    {"send:error=EPIPE:reset", "reset", "cannot be combined with 'error=EPIPE'"},
    {"send:rate=1MB/s", "rate=1MB/s",
     "is not a rate (rate=R with a unit: B/s, KiB/s, MiB/s, GiB/s or bit/s,"},
    {"send:rate=10", "rate=10", "is not a rate"},
    {"send:rate=MiB/s", "rate=MiB/s", "is not a rate"},
    {"send:rate=1MiB", "rate=1MiB", "is not a rate"},
    {"send:rate=1.5.1MiB/s", "rate=1.5.1MiB/s", "is not a rate"},
    {"send:rate=0KiB/s", "rate=0KiB/s", "is out of range (rate=R"},
    {"send:rate=7bit/s", "rate=7bit/s", "is out of range (rate=R"},
    {"send:rate=1025GiB/s", "rate=1025GiB/s", "is out of range"},
    {"send:rate=99999999999999999999B/s", "rate=99999999999999999999B/s", "is out of range"},
    {"send:rate=", "rate=", "needs a value (rate=R with a unit"},
    {"send:stall=5", "stall=5", "is not a duration (a duration with ns, us, ms or s like 5s"},
    {"send:stall=0s", "stall=0s", "is out of range (a duration"},
    {"send:stall=86401s", "stall=86401s", "is out of range"},
    {"send:stall=1s..2s", "stall=1s..2s", "is not a duration"},
    {"send:corrupt=0", "corrupt=0", "is out of range (corrupt=N bits, N from 1 to 64)"},
    {"send:corrupt=65", "corrupt=65", "is out of range (corrupt=N bits, N from 1 to 64)"},
    {"send:corrupt=x", "corrupt=x", "is not a bit count (corrupt=N"},
    {"send:corrupt", "corrupt", "needs a value (corrupt=N bits"},
    {"send:drop:burst=0.5", "burst=0.5", "needs p= in the same rule"},
    {"send:drop:p=0.1:burst=1.5", "burst=1.5", "is out of range (a probability from 0 to 1)"},
    {"send:drop:p=0.1:burst=x", "burst=x", "is not a probability"},
    {"send:drop:p=0.1:burst=0.5:burst=0.5", "burst=0.5", "repeats burst="},
    {"send:dup:dup", "dup", "repeats dup"},
};

Test(rules, invalid_rules_name_token_and_what_is_accepted)
{
    cr_expect_geq(NELEM(bad_rules), 40);
    for (size_t i = 0; i < NELEM(bad_rules); i++) {
        const struct bad *b = &bad_rules[i];
        memset(&set, 0, sizeof set);
        memset(err, 'X', sizeof err);
        int rc = parse(b->in, 0);
        cr_expect_eq(rc, -1, "'%s' parsed", b->in);
        if (rc != -1)
            continue;
        char head[256];
        strcpy(head, "rule 1: '");
        strcat(head, b->token);
        strcat(head, "' ");
        cr_expect(strncmp(err, head, strlen(head)) == 0, "'%s': message '%s' does not start with \"%s\"",
                  b->in, err, head);
        cr_expect(strstr(err + strlen(head), b->what) != NULL, "'%s': message '%s' lacks \"%s\"", b->in, err,
                  b->what);
        cr_expect(strchr(err, '\n') == NULL, "'%s': message is not one line", b->in);
        cr_expect(err[strlen(err) - 1] == ')', "'%s': message '%s' does not end with what is accepted", b->in,
                  err);
        cr_expect_eq(set.n, 0, "'%s' stored a rule", b->in);
    }
}

/* ---- the network actions (issue 16): every parsed value ---- */

struct net_good {
    const char *in;
    unsigned calls, actions, conds;
    uint64_t rate_bps, stall_ns;
    unsigned corrupt_bits;
    uint64_t burst_threshold;
};

static const struct net_good net_good_rules[] = {
    {"send:reset", SEND, SS_ACT_RESET, 0, .rate_bps = 0},
    {"*:reset:after=1M", SS_CALLS_ALL, SS_ACT_RESET, SS_COND_AFTER, .rate_bps = 0},
    {"send:reset:type=stream:family=inet6", SEND, SS_ACT_RESET, SS_COND_TYPE | SS_COND_FAMILY, .rate_bps = 0},
    {"send:stall=2s:reset", SEND, SS_ACT_STALL | SS_ACT_RESET, 0, .stall_ns = 2 * SEC},
    {"send:reset:stall=250ms", SEND, SS_ACT_STALL | SS_ACT_RESET, 0, .stall_ns = 250 * MS},
    {"send:stall=1ns", SEND, SS_ACT_STALL, 0, .stall_ns = 1},
    {"send:stall=86400s", SEND, SS_ACT_STALL, 0, .stall_ns = 86400 * SEC},
    {"*:rate=64KiB/s", SS_CALLS_ALL, SS_ACT_RATE, 0, .rate_bps = 65536},
    {"*:rate=1.5MiB/s", SS_CALLS_ALL, SS_ACT_RATE, 0, .rate_bps = 1572864},
    {"*:rate=10Mbit/s", SS_CALLS_ALL, SS_ACT_RATE, 0, .rate_bps = 1250000},
    {"*:rate=500kbit/s", SS_CALLS_ALL, SS_ACT_RATE, 0, .rate_bps = 62500},
    {"*:rate=1B/s", SS_CALLS_ALL, SS_ACT_RATE, 0, .rate_bps = 1},
    {"*:rate=8bit/s", SS_CALLS_ALL, SS_ACT_RATE, 0, .rate_bps = 1},
    {"*:rate=1Gbit/s", SS_CALLS_ALL, SS_ACT_RATE, 0, .rate_bps = 125000000},
    {"*:rate=1024GiB/s", SS_CALLS_ALL, SS_ACT_RATE, 0, .rate_bps = 1ull << 40},
    {"*:rate=0.5KiB/s", SS_CALLS_ALL, SS_ACT_RATE, 0, .rate_bps = 512},
    {"*:rate=1MiB/s:corrupt=3", SS_CALLS_ALL, SS_ACT_RATE | SS_ACT_CORRUPT, 0, .rate_bps = 1 << 20,
     .corrupt_bits = 3},
    {"sendto:dup", SENDTO, SS_ACT_DUP, 0, .rate_bps = 0},
    {"sendto:dup:type=dgram,raw:delay=1ms", SENDTO, SS_ACT_DUP | SS_ACT_DELAY, SS_COND_TYPE, .rate_bps = 0},
    {"sendmmsg:corrupt=1", SENDMMSG, SS_ACT_CORRUPT, 0, .corrupt_bits = 1},
    {"send:corrupt=64:type=stream", SEND, SS_ACT_CORRUPT, SS_COND_TYPE, .corrupt_bits = 64},
    {"sendto:drop:p=0.01:burst=0.75", SENDTO, SS_ACT_DROP, SS_COND_P | SS_COND_BURST,
     .burst_threshold = 3ull << 62},
    {"sendto:drop:burst=1:p=0.5", SENDTO, SS_ACT_DROP, SS_COND_P | SS_COND_BURST,
     .burst_threshold = UINT64_MAX},
    {"sendto:drop:p=0.5:burst=0", SENDTO, SS_ACT_DROP, SS_COND_P | SS_COND_BURST, .burst_threshold = 0},
    {"close:delay=1s", SS_CALL_CLOSE_BIT, SS_ACT_DELAY, 0, .rate_bps = 0},
    {"shutdown:delay=20ms:fd=4", SS_CALL_SHUTDOWN_BIT, SS_ACT_DELAY, SS_COND_FD, .rate_bps = 0},
    {"close,shutdown:delay=5ms:peer=127.0.0.1:80", SS_CALLS_TEARDOWN, SS_ACT_DELAY, SS_COND_PEER,
     .rate_bps = 0},
    {"send,close:delay=5ms", SEND | SS_CALL_CLOSE_BIT, SS_ACT_DELAY, 0, .rate_bps = 0},
};

Test(rules, network_actions_parse_every_value)
{
    for (size_t i = 0; i < NELEM(net_good_rules); i++) {
        const struct net_good *g = &net_good_rules[i];
        memset(&set, 0, sizeof set);
        int rc = parse(g->in, 0);
        cr_assert_eq(rc, 0, "'%s': %s", g->in, err);
        const struct ss_rule *r = &set.rule[0];
        cr_expect_str_eq(r->text, g->in);
        cr_expect_eq(r->calls, g->calls, "'%s' calls %#x", g->in, r->calls);
        cr_expect_eq(r->actions, g->actions, "'%s' actions %#x", g->in, r->actions);
        cr_expect_eq(r->conds, g->conds, "'%s' conds %#x", g->in, r->conds);
        cr_expect_eq(r->rate_bps, g->rate_bps, "'%s' rate %llu", g->in, (unsigned long long)r->rate_bps);
        cr_expect_eq(r->stall_ns, g->stall_ns, "'%s' stall", g->in);
        cr_expect_eq(r->corrupt_bits, g->corrupt_bits, "'%s' corrupt", g->in);
        cr_expect_eq(r->burst_threshold, g->burst_threshold, "'%s' burst", g->in);
        /* corrupt= draws its positions: the seed matters then. */
        cr_expect_eq(set.uses_random, !!(g->conds & SS_COND_P) || !!(g->actions & SS_ACT_CORRUPT), "'%s'",
                     g->in);
    }
}

/* `*` stays the six sending calls: close and shutdown only when named. */
Test(rules, star_does_not_name_close_or_shutdown)
{
    memset(&set, 0, sizeof set);
    cr_assert_eq(parse("*:delay=1ms", 0), 0);
    cr_expect_eq(set.rule[0].calls & SS_CALLS_TEARDOWN, 0);
}

Test(rules, messages_of_the_spec_verbatim)
{
    cr_assert_eq(parse("frobnicate:error=EAGAIN", 0), -1);
    cr_expect_str_eq(err,
                     "rule 1: 'frobnicate' is not a call (send, sendto, sendmsg, sendmmsg, write, writev, "
                     "close, shutdown, *)");

    memset(&set, 0, sizeof set);
    cr_assert_eq(parse("send:drop;send:drop;send:drop:p=1.5", 0), -1);
    cr_expect_str_eq(err, "rule 3: 'p=1.5' is out of range (a probability from 0 to 1)");

    memset(&set, 0, sizeof set);
    cr_assert_eq(parse("send:drop;sendto:error=EISDIR", 0), -1);
    cr_expect_str_eq(err,
                     "rule 2: 'EISDIR' is not an error sendto can return (EACCES, EAGAIN, EALREADY, EBADF, "
                     "ECONNRESET, EDESTADDRREQ, EFAULT, EINTR, EINVAL, EISCONN, EMSGSIZE, ENOBUFS, ENOMEM, "
                     "ENOTCONN, ENOTSOCK, EOPNOTSUPP, EPIPE, EHOSTUNREACH, ENETDOWN, ENETUNREACH, EHOSTDOWN, "
                     "ECONNREFUSED, ETIMEDOUT, EADDRNOTAVAIL, or their numbers)");
}

/* ---- valid rules: every parsed field checked ---- */

struct good {
    const char *in;
    const char *text; /* the kept text */
    unsigned calls, actions, conds;
    int error;
    uint64_t short_bytes;
    unsigned short_pct, batch;
    uint64_t delay_min, delay_max;
    uint64_t when_first, when_last, when_step; /* checked when SS_COND_WHEN */
    uint64_t p_threshold;                      /* checked when SS_COND_P */
    int fd;                                    /* checked when SS_COND_FD */
    unsigned types, families;
    int peer_family;       /* AF_INET, AF_INET6, AF_UNIX when SS_COND_PEER */
    const char *peer_addr; /* inet_ntop form or the unix path */
    unsigned peer_port;    /* host order; 0 = any */
    unsigned port;
    uint64_t after;
};

#define ALLCALLS SS_CALLS_ALL
#define A_ERR    SS_ACT_ERROR
#define A_SHORT  SS_ACT_SHORT
#define A_BATCH  SS_ACT_BATCH
#define A_DROP   SS_ACT_DROP
#define A_DELAY  SS_ACT_DELAY

static const struct good good_rules[] = {
    {"send:error=EAGAIN", "send:error=EAGAIN", SEND, A_ERR, 0, .error = EAGAIN},
    {"sendto:error=EWOULDBLOCK", "sendto:error=EWOULDBLOCK", SENDTO, A_ERR, 0, .error = EAGAIN},
    {"send:error=11", "send:error=11", SEND, A_ERR, 0, .error = 11},
    {"*:error=EPIPE", "*:error=EPIPE", ALLCALLS, A_ERR, 0, .error = EPIPE},
    {"send,sendto,sendmsg:error=ECONNRESET", "send,sendto,sendmsg:error=ECONNRESET", SEND | SENDTO | SENDMSG,
     A_ERR, 0, .error = ECONNRESET},
    {"write,writev:error=EPIPE", "write,writev:error=EPIPE", WRITE | WRITEV, A_ERR, 0, .error = EPIPE},
    {"sendmsg:error=ETIMEDOUT", "sendmsg:error=ETIMEDOUT", SENDMSG, A_ERR, 0, .error = ETIMEDOUT},
    {"sendmmsg:error=EADDRNOTAVAIL", "sendmmsg:error=EADDRNOTAVAIL", SENDMMSG, A_ERR, 0,
     .error = EADDRNOTAVAIL},
    {"send:error=ENOTSUP", "send:error=ENOTSUP", SEND, A_ERR, 0, .error = EOPNOTSUPP},
    {"send:short=10", "send:short=10", SEND, A_SHORT, 0, .short_bytes = 10},
    {"send:short=9223372036854775807", "send:short=9223372036854775807", SEND, A_SHORT, 0,
     .short_bytes = 9223372036854775807ull},
    {"send:short=50%", "send:short=50%", SEND, A_SHORT, 0, .short_pct = 50},
    {"send:short=100%", "send:short=100%", SEND, A_SHORT, 0, .short_pct = 100},
    {"send:short=1%", "send:short=1%", SEND, A_SHORT, 0, .short_pct = 1},
    {"sendmmsg:batch=1", "sendmmsg:batch=1", SENDMMSG, A_BATCH, 0, .batch = 1},
    {"sendmmsg:batch=1024", "sendmmsg:batch=1024", SENDMMSG, A_BATCH, 0, .batch = 1024},
    {"sendmmsg,sendmmsg:batch=2", "sendmmsg,sendmmsg:batch=2", SENDMMSG, A_BATCH, 0, .batch = 2},
    {"send:drop", "send:drop", SEND, A_DROP, 0, .error = 0},
    {"send:delay=10ms", "send:delay=10ms", SEND, A_DELAY, 0, .delay_min = 10 * MS, .delay_max = 10 * MS},
    {"send:delay=10ms..50ms", "send:delay=10ms..50ms", SEND, A_DELAY, 0, .delay_min = 10 * MS,
     .delay_max = 50 * MS},
    {"send:delay=5ms..5ms", "send:delay=5ms..5ms", SEND, A_DELAY, 0, .delay_min = 5 * MS,
     .delay_max = 5 * MS},
    {"send:delay=1.5ms", "send:delay=1.5ms", SEND, A_DELAY, 0, .delay_min = 1500000, .delay_max = 1500000},
    {"send:delay=0.000000001s", "send:delay=0.000000001s", SEND, A_DELAY, 0, .delay_min = 1, .delay_max = 1},
    {"send:delay=0ns", "send:delay=0ns", SEND, A_DELAY, 0, .error = 0},
    {"send:delay=250us..2s", "send:delay=250us..2s", SEND, A_DELAY, 0, .delay_min = 250000,
     .delay_max = 2 * SEC},
    {"send:delay=86400s", "send:delay=86400s", SEND, A_DELAY, 0, .delay_min = 86400 * SEC,
     .delay_max = 86400 * SEC},
    {"send:error=EAGAIN:delay=5ms", "send:error=EAGAIN:delay=5ms", SEND, A_ERR | A_DELAY, 0, .error = EAGAIN,
     .delay_min = 5 * MS, .delay_max = 5 * MS},
    {"send:delay=1ms:drop", "send:delay=1ms:drop", SEND, A_DROP | A_DELAY, 0, .delay_min = MS,
     .delay_max = MS},
    {"send:drop:when=3", "send:drop:when=3", SEND, A_DROP, SS_COND_WHEN, .when_first = 3, .when_last = 3,
     .when_step = 1},
    {"send:drop:when=3..5", "send:drop:when=3..5", SEND, A_DROP, SS_COND_WHEN, .when_first = 3,
     .when_last = 5, .when_step = 1},
    {"send:drop:when=3..", "send:drop:when=3..", SEND, A_DROP, SS_COND_WHEN, .when_first = 3,
     .when_last = UINT64_MAX, .when_step = 1},
    {"send:drop:when=3+", "send:drop:when=3+", SEND, A_DROP, SS_COND_WHEN, .when_first = 3,
     .when_last = UINT64_MAX, .when_step = 1},
    {"send:drop:when=2+3", "send:drop:when=2+3", SEND, A_DROP, SS_COND_WHEN, .when_first = 2,
     .when_last = UINT64_MAX, .when_step = 3},
    {"send:drop:when=2..10+4", "send:drop:when=2..10+4", SEND, A_DROP, SS_COND_WHEN, .when_first = 2,
     .when_last = 10, .when_step = 4},
    {"send:drop:when=2..10+", "send:drop:when=2..10+", SEND, A_DROP, SS_COND_WHEN, .when_first = 2,
     .when_last = 10, .when_step = 1},
    {"send:drop:when=70000", "send:drop:when=70000", SEND, A_DROP, SS_COND_WHEN, .when_first = 70000,
     .when_last = 70000, .when_step = 1},
    {"send:drop:when=1..18446744073709551615+100000", "send:drop:when=1..18446744073709551615+100000", SEND,
     A_DROP, SS_COND_WHEN, .when_first = 1, .when_last = UINT64_MAX, .when_step = 100000},
    {"send:drop:p=0", "send:drop:p=0", SEND, A_DROP, SS_COND_P, .p_threshold = 0},
    {"send:drop:p=1", "send:drop:p=1", SEND, A_DROP, SS_COND_P, .p_threshold = UINT64_MAX},
    {"send:drop:p=1.000", "send:drop:p=1.000", SEND, A_DROP, SS_COND_P, .p_threshold = UINT64_MAX},
    {"send:drop:p=0.5", "send:drop:p=0.5", SEND, A_DROP, SS_COND_P, .p_threshold = 1ull << 63},
    {"send:drop:p=.25", "send:drop:p=.25", SEND, A_DROP, SS_COND_P, .p_threshold = 1ull << 62},
    {"send:drop:p=0.75", "send:drop:p=0.75", SEND, A_DROP, SS_COND_P, .p_threshold = 3ull << 62},
    {"send:drop:p=0.1", "send:drop:p=0.1", SEND, A_DROP, SS_COND_P, .p_threshold = 1844674407370955161ull},
    {"send:drop:fd=0", "send:drop:fd=0", SEND, A_DROP, SS_COND_FD, .fd = 0},
    {"send:drop:fd=2147483647", "send:drop:fd=2147483647", SEND, A_DROP, SS_COND_FD, .fd = 2147483647},
    {"send:short=3:type=stream", "send:short=3:type=stream", SEND, A_SHORT, SS_COND_TYPE, .short_bytes = 3,
     .types = SS_TYPE_STREAM},
    {"send:type=stream,dgram:short=3", "send:type=stream,dgram:short=3", SEND, A_SHORT, SS_COND_TYPE,
     .short_bytes = 3, .types = SS_TYPE_STREAM | SS_TYPE_DGRAM},
    {"send:drop:type=dgram,raw", "send:drop:type=dgram,raw", SEND, A_DROP, SS_COND_TYPE,
     .types = SS_TYPE_DGRAM | SS_TYPE_RAW},
    {"send:drop:type=seqpacket , dgram", "send:drop:type=seqpacket , dgram", SEND, A_DROP, SS_COND_TYPE,
     .types = SS_TYPE_SEQPACKET | SS_TYPE_DGRAM},
    {"send:drop:family=unix,inet,inet6,netlink,packet", "send:drop:family=unix,inet,inet6,netlink,packet",
     SEND, A_DROP, SS_COND_FAMILY,
     .families = SS_FAM_UNIX | SS_FAM_INET | SS_FAM_INET6 | SS_FAM_NETLINK | SS_FAM_PACKET},
    {"send:short=5:family=unix", "send:short=5:family=unix", SEND, A_SHORT, SS_COND_FAMILY, .short_bytes = 5,
     .families = SS_FAM_UNIX},
    {"send:drop:peer=127.0.0.1", "send:drop:peer=127.0.0.1", SEND, A_DROP, SS_COND_PEER,
     .peer_family = AF_INET, .peer_addr = "127.0.0.1"},
    {"send:drop:peer=127.0.0.1:8080", "send:drop:peer=127.0.0.1:8080", SEND, A_DROP, SS_COND_PEER,
     .peer_family = AF_INET, .peer_addr = "127.0.0.1", .peer_port = 8080},
    {"send:drop:peer=10.0.0.1 : 53 :fd=4", "send:drop:peer=10.0.0.1:53:fd=4", SEND, A_DROP,
     SS_COND_PEER | SS_COND_FD, .fd = 4, .peer_family = AF_INET, .peer_addr = "10.0.0.1", .peer_port = 53},
    {"send:drop:peer=[::1]", "send:drop:peer=[::1]", SEND, A_DROP, SS_COND_PEER, .peer_family = AF_INET6,
     .peer_addr = "::1"},
    {"send:drop:peer=[::1]:8080", "send:drop:peer=[::1]:8080", SEND, A_DROP, SS_COND_PEER,
     .peer_family = AF_INET6, .peer_addr = "::1", .peer_port = 8080},
    {"send:drop:peer=[2001:db8::1]:443:fd=4", "send:drop:peer=[2001:db8::1]:443:fd=4", SEND, A_DROP,
     SS_COND_PEER | SS_COND_FD, .fd = 4, .peer_family = AF_INET6, .peer_addr = "2001:db8::1",
     .peer_port = 443},
    {"send:drop:peer=/tmp/x.sock", "send:drop:peer=/tmp/x.sock", SEND, A_DROP, SS_COND_PEER,
     .peer_family = AF_UNIX, .peer_addr = "/tmp/x.sock"},
    {"send:drop:port=53", "send:drop:port=53", SEND, A_DROP, SS_COND_PORT, .port = 53},
    {"send:drop:port=65535", "send:drop:port=65535", SEND, A_DROP, SS_COND_PORT, .port = 65535},
    {"send:drop:peer=10.1.2.3:port=53", "send:drop:peer=10.1.2.3:port=53", SEND, A_DROP,
     SS_COND_PEER | SS_COND_PORT, .peer_family = AF_INET, .peer_addr = "10.1.2.3", .port = 53},
    {"send:drop:after=0", "send:drop:after=0", SEND, A_DROP, SS_COND_AFTER, .after = 0},
    {"send:drop:after=4k", "send:drop:after=4k", SEND, A_DROP, SS_COND_AFTER, .after = 4096},
    {"send:drop:after=3KiB", "send:drop:after=3KiB", SEND, A_DROP, SS_COND_AFTER, .after = 3072},
    {"send:drop:after=2M", "send:drop:after=2M", SEND, A_DROP, SS_COND_AFTER, .after = 2ull << 20},
    {"send:drop:after=1G", "send:drop:after=1G", SEND, A_DROP, SS_COND_AFTER, .after = 1ull << 30},
    {"send:drop:after=18446744073709551615", "send:drop:after=18446744073709551615", SEND, A_DROP,
     SS_COND_AFTER, .after = UINT64_MAX},
    {"  send : error = EAGAIN : when = 2  ", "send:error = EAGAIN:when = 2", SEND, A_ERR, SS_COND_WHEN,
     .error = EAGAIN, .when_first = 2, .when_last = 2, .when_step = 1},
    {"\tsend, sendto :drop", "send, sendto:drop", SEND | SENDTO, A_DROP, 0, .error = 0},
    {"send,send:drop", "send,send:drop", SEND, A_DROP, 0, .error = 0},
    {"sendmmsg:batch=3:delay=1ms..2ms:when=2+2:p=0.5:fd=7:type=dgram:family=inet:peer=10.0.0.1:9:after=1k",
     "sendmmsg:batch=3:delay=1ms..2ms:when=2+2:p=0.5:fd=7:type=dgram:family=inet:peer=10.0.0.1:9:after=1k",
     SENDMMSG, A_BATCH | A_DELAY,
     SS_COND_WHEN | SS_COND_P | SS_COND_FD | SS_COND_TYPE | SS_COND_FAMILY | SS_COND_PEER | SS_COND_AFTER,
     .batch = 3, .delay_min = MS, .delay_max = 2 * MS, .when_first = 2, .when_last = UINT64_MAX,
     .when_step = 2, .p_threshold = 1ull << 63, .fd = 7, .types = SS_TYPE_DGRAM, .families = SS_FAM_INET,
     .peer_family = AF_INET, .peer_addr = "10.0.0.1", .peer_port = 9, .after = 1024},
};

static void check_peer(const struct good *g, const struct ss_rule *r)
{
    char text[INET6_ADDRSTRLEN];
    cr_expect_eq(r->peer.ss_family, g->peer_family, "'%s': peer family", g->in);
    if (g->peer_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)&r->peer;
        cr_expect_eq(r->peer_len, sizeof *sin, "'%s'", g->in);
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
        cr_expect_str_eq(text, g->peer_addr, "'%s'", g->in);
        cr_expect_eq(ntohs(sin->sin_port), g->peer_port, "'%s': port", g->in);
    } else if (g->peer_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)&r->peer;
        cr_expect_eq(r->peer_len, sizeof *sin6, "'%s'", g->in);
        inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
        cr_expect_str_eq(text, g->peer_addr, "'%s'", g->in);
        cr_expect_eq(ntohs(sin6->sin6_port), g->peer_port, "'%s': port", g->in);
    } else {
        const struct sockaddr_un *sun = (const void *)&r->peer;
        cr_expect_str_eq(sun->sun_path, g->peer_addr, "'%s'", g->in);
        cr_expect_eq(r->peer_len, offsetof(struct sockaddr_un, sun_path) + strlen(g->peer_addr) + 1, "'%s'",
                     g->in);
    }
}

Test(rules, valid_rules_parse_every_field)
{
    cr_expect_geq(NELEM(good_rules), 40);
    for (size_t i = 0; i < NELEM(good_rules); i++) {
        const struct good *g = &good_rules[i];
        memset(&set, 0, sizeof set);
        int rc = parse(g->in, 0);
        cr_expect_eq(rc, 0, "'%s' failed: %s", g->in, err);
        if (rc)
            continue;
        cr_expect_str_eq(err, "", "'%s': err not cleared", g->in);
        cr_assert_eq(set.n, 1, "'%s'", g->in);
        const struct ss_rule *r = &set.rule[0];
        cr_expect_str_eq(r->text, g->text, "'%s': text", g->in);
        cr_expect_eq(r->calls, g->calls, "'%s': calls %#x", g->in, r->calls);
        cr_expect_eq(r->actions, g->actions, "'%s': actions %#x", g->in, r->actions);
        cr_expect_eq(r->conds, g->conds, "'%s': conds %#x", g->in, r->conds);
        cr_expect_eq(r->error, g->error, "'%s': error %d", g->in, r->error);
        cr_expect_eq(r->short_bytes, g->short_bytes, "'%s': short_bytes", g->in);
        cr_expect_eq(r->short_pct, g->short_pct, "'%s': short_pct", g->in);
        cr_expect_eq(r->batch, g->batch, "'%s': batch", g->in);
        cr_expect_eq(r->delay_min_ns, g->delay_min, "'%s': delay_min %llu", g->in,
                     (unsigned long long)r->delay_min_ns);
        cr_expect_eq(r->delay_max_ns, g->delay_max, "'%s': delay_max %llu", g->in,
                     (unsigned long long)r->delay_max_ns);
        if (g->conds & SS_COND_WHEN) {
            cr_expect_eq(r->when_first, g->when_first, "'%s': when_first", g->in);
            cr_expect_eq(r->when_last, g->when_last, "'%s': when_last", g->in);
            cr_expect_eq(r->when_step, g->when_step, "'%s': when_step", g->in);
        } else { /* neutral values: every call */
            cr_expect_eq(r->when_first, 1, "'%s'", g->in);
            cr_expect_eq(r->when_last, UINT64_MAX, "'%s'", g->in);
            cr_expect_eq(r->when_step, 1, "'%s'", g->in);
        }
        cr_expect_eq(r->p_threshold, (g->conds & SS_COND_P) ? g->p_threshold : UINT64_MAX,
                     "'%s': p_threshold %llu", g->in, (unsigned long long)r->p_threshold);
        cr_expect_eq(r->fd, (g->conds & SS_COND_FD) ? g->fd : -1, "'%s': fd", g->in);
        cr_expect_eq(r->types, g->types, "'%s': types", g->in);
        cr_expect_eq(r->families, g->families, "'%s': families", g->in);
        cr_expect_eq(r->port, g->port, "'%s': port", g->in);
        cr_expect_eq(r->after_bytes, g->after, "'%s': after", g->in);
        if (g->conds & SS_COND_PEER)
            check_peer(g, r);
        else
            cr_expect_eq(r->peer_len, 0, "'%s'", g->in);
        cr_expect_eq(set.uses_random,
                     (g->conds & SS_COND_P) || g->delay_min != g->delay_max ||
                         strstr(g->in, "delay=5ms..5ms") != NULL,
                     "'%s': uses_random", g->in);
    }
}

Test(rules, every_injectable_errno_by_name_and_number_for_every_call)
{
    static const char *const names[] = {
        "EACCES",   "EAGAIN",      "EALREADY",  "EBADF",        "ECONNRESET", "EDESTADDRREQ",
        "EFAULT",   "EINTR",       "EINVAL",    "EISCONN",      "EMSGSIZE",   "ENOBUFS",
        "ENOMEM",   "ENOTCONN",    "ENOTSOCK",  "EOPNOTSUPP",   "EPIPE",      "EHOSTUNREACH",
        "ENETDOWN", "ENETUNREACH", "EHOSTDOWN", "ECONNREFUSED", "ETIMEDOUT",  "EADDRNOTAVAIL",
    };
    static const char *const calls[] = {"send", "sendto", "sendmsg", "sendmmsg", "write", "writev", "*"};
    char rule[128], num[16];
    for (size_t c = 0; c < NELEM(calls); c++) {
        for (size_t i = 0; i < NELEM(names); i++) {
            int e = ss_errno_from_name(names[i], strlen(names[i]));
            cr_assert_neq(e, 0);
            memset(&set, 0, sizeof set);
            strcpy(rule, calls[c]);
            strcat(rule, ":error=");
            strcat(rule, names[i]);
            cr_expect_eq(parse(rule, 0), 0, "%s: %s", rule, err);
            cr_expect_eq(set.rule[0].error, e, "%s", rule);

            int k = sizeof num;
            num[--k] = '\0';
            for (int v = e; v; v /= 10)
                num[--k] = (char)('0' + v % 10);
            memset(&set, 0, sizeof set);
            strcpy(rule, calls[c]);
            strcat(rule, ":error=");
            strcat(rule, num + k);
            cr_expect_eq(parse(rule, 0), 0, "%s: %s", rule, err);
            cr_expect_eq(set.rule[0].error, e, "%s", rule);
        }
    }
    /* Errors the kernel does return from sendto but SPEC section 8 does not list. */
    memset(&set, 0, sizeof set);
    cr_expect_eq(parse("sendto:error=ENOENT", 0), -1);
    cr_expect_eq(parse("sendto:error=EAFNOSUPPORT", 0), -1);
}

/* ---- separators, comments, numbering ---- */

Test(rules, separators_and_empty_rules)
{
    cr_assert_eq(parse("send:drop;sendto:error=EPIPE\nsendmsg:delay=1ms", 0), 0, "%s", err);
    cr_expect_eq(set.n, 3);
    cr_expect_str_eq(set.rule[0].text, "send:drop");
    cr_expect_str_eq(set.rule[1].text, "sendto:error=EPIPE");
    cr_expect_str_eq(set.rule[2].text, "sendmsg:delay=1ms");

    memset(&set, 0, sizeof set);
    cr_assert_eq(parse(";;send:drop;; \t ;\n\n;", 0), 0, "%s", err);
    cr_expect_eq(set.n, 1);
    cr_expect_str_eq(set.rule[0].text, "send:drop");

    memset(&set, 0, sizeof set);
    cr_expect_eq(parse("", 0), 0);
    cr_expect_eq(parse(NULL, 0), 0);
    cr_expect_eq(parse(" ; \n ", 1), 0);
    cr_expect_eq(set.n, 0);

    /* Empty rules do not count: the bad rule is the second one. */
    cr_assert_eq(parse(";send:drop;;\n;bogus:drop", 0), -1);
    cr_expect(strncmp(err, "rule 2: 'bogus' ", 16) == 0, "%s", err);
}

Test(rules, comments_only_when_asked)
{
    const char *file = "# faults for the retry test\n"
                       "send:error=EAGAIN:when=1 # first call; not a rule\n"
                       "   # indented comment\n"
                       "\n"
                       "sendto:drop\r\n"
                       "sendmsg:delay=2ms#no space needed\r\n";
    cr_assert_eq(parse(file, 1), 0, "%s", err);
    cr_expect_eq(set.n, 3);
    cr_expect_str_eq(set.rule[0].text, "send:error=EAGAIN:when=1");
    cr_expect_eq(set.rule[0].when_last, 1);
    cr_expect_str_eq(set.rule[1].text, "sendto:drop");
    cr_expect_str_eq(set.rule[2].text, "sendmsg:delay=2ms");

    /* Without comments (SENDSHIM_FAULTS), '#' is no comment but a bad token. */
    memset(&set, 0, sizeof set);
    cr_assert_eq(parse("send:drop # x", 0), -1);
    cr_expect(strncmp(err, "rule 1: 'drop # x' is not a field", 33) == 0, "%s", err);
    cr_expect_eq(parse("# only a comment", 0), -1);
    cr_expect_eq(set.n, 0);
    cr_expect_eq(parse("# only a comment", 1), 0);
    cr_expect_eq(set.n, 0);
}

Test(rules, numbering_continues_across_calls)
{
    cr_assert_eq(parse("send:drop;sendto:drop", 0), 0);
    cr_assert_eq(set.n, 2);
    cr_assert_eq(parse("sendmsg:drop\nbogus:drop", 0), -1);
    cr_expect(strncmp(err, "rule 4: 'bogus' ", 16) == 0, "%s", err);
    cr_expect_eq(set.n, 2);
    cr_assert_eq(parse("sendmsg:drop\nwrite:drop", 0), 0, "%s", err);
    cr_expect_eq(set.n, 4);
    cr_expect_str_eq(set.rule[0].text, "send:drop");
    cr_expect_str_eq(set.rule[1].text, "sendto:drop");
    cr_expect_str_eq(set.rule[2].text, "sendmsg:drop");
    cr_expect_str_eq(set.rule[3].text, "write:drop");
    cr_assert_eq(parse("send:p=7:drop", 0), -1);
    cr_expect(strncmp(err, "rule 5: 'p=7' ", 14) == 0, "%s", err);
}

static void fill_rules(char *text, unsigned n)
{
    text[0] = '\0';
    for (unsigned i = 0; i < n; i++)
        strcat(text, "send:drop;");
}

Test(rules, max_rules_limit)
{
    static char text[(SS_MAX_RULES + 2) * 16];
    fill_rules(text, SS_MAX_RULES + 1);
    cr_assert_eq(parse(text, 0), -1);
    cr_expect_eq(set.n, 0);
    char want[128];
    strcpy(want, "rule 65: 'send:drop' is one rule too many (at most 64 rules in force)");
    cr_assert_eq(SS_MAX_RULES, 64, "update the expected message");
    cr_expect_str_eq(err, want);

    fill_rules(text, SS_MAX_RULES);
    cr_assert_eq(parse(text, 0), 0, "%s", err);
    cr_expect_eq(set.n, SS_MAX_RULES);
    cr_expect_eq(parse("sendto:drop", 0), -1);
    cr_expect_str_eq(err, "rule 65: 'sendto:drop' is one rule too many (at most 64 rules in force)");
    cr_expect_eq(set.n, SS_MAX_RULES);
    cr_expect_eq(parse(" ; # \n", 1), 0, "nothing to add is fine when full");
}

Test(rules, failed_parse_leaves_the_set_unchanged)
{
    static struct ss_ruleset before;
    cr_assert_eq(parse("send:drop;sendto:error=EPIPE:when=2", 0), 0);
    memcpy(&before, &set, sizeof set);
    /* Good rules with randomness first, then a bad one: nothing may stick,
     * not even in the unused slots or uses_random. */
    cr_assert_eq(parse("sendmsg:drop:p=0.5;write:delay=1ms..9ms;send:short=0", 0), -1);
    cr_expect(memcmp(&before, &set, sizeof set) == 0, "the set changed");
    cr_expect_eq(set.uses_random, 0);
}

Test(rules, uses_random)
{
    cr_assert_eq(parse("send:drop;send:delay=1ms;send:error=EPIPE:when=2+2", 0), 0);
    cr_expect_eq(set.uses_random, 0);
    cr_assert_eq(parse("send:delay=1ms..2ms", 0), 0);
    cr_expect_eq(set.uses_random, 1);
    cr_assert_eq(parse("send:drop", 0), 0);
    cr_expect_eq(set.uses_random, 1, "appending keeps it");

    memset(&set, 0, sizeof set);
    cr_assert_eq(parse("send:drop:p=1", 0), 0);
    cr_expect_eq(set.uses_random, 1);
}

Test(rules, long_rule_text_is_cut_visibly)
{
    char text[400] = "send:drop:peer=/";
    size_t n = strlen(text);
    memset(text + n, 'a', 100);
    text[n + 100] = '\0';
    strcat(text, ":when=1..1000+7:after=12345:fd=3");
    cr_assert_eq(parse(text, 0), 0, "%s", err);
    const char *t = set.rule[0].text;
    cr_expect_eq(strlen(t), SS_RULE_TEXT_MAX - 1);
    cr_expect(strncmp(t, text, SS_RULE_TEXT_MAX - 4) == 0);
    cr_expect_str_eq(t + SS_RULE_TEXT_MAX - 4, "...");
}

Test(rules, unix_path_limit)
{
    char text[300] = "send:drop:peer=/";
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1; /* 107 */
    memset(text + strlen(text), 'p', max - 1);
    cr_assert_eq(parse(text, 0), 0, "%s", err);
    cr_expect_eq(strlen(((struct sockaddr_un *)&set.rule[0].peer)->sun_path), max);
    strcat(text, "p");
    cr_assert_eq(parse(text, 0), -1);
    cr_expect(strstr(err, "is too long (a unix path of at most 107 bytes)") != NULL, "%s", err);
}

Test(rules, tokens_are_quoted_safely)
{
    cr_assert_eq(parse("send:error=E\001\033X", 0), -1);
    cr_expect(strncmp(err, "rule 1: 'E\\x01\\x1bX' is not an error", 36) == 0, "%s", err);

    char text[300] = "send:";
    memset(text + 5, 'z', 200);
    strcat(text, "=1");
    cr_assert_eq(parse(text, 0), -1);
    char want[128] = "rule 1: '";
    memset(want + 9, 'z', 64);
    strcpy(want + 73, "...' is not a field");
    cr_expect(strncmp(err, want, strlen(want)) == 0, "%s", err);
}

Test(rules, small_or_missing_error_buffer)
{
    char small[16];
    memset(small, 'X', sizeof small);
    cr_expect_eq(ss_rules_parse(&set, "bogus:drop", 0, small, sizeof small), -1);
    cr_expect_str_eq(small, "rule 1: 'bogus'");
    cr_expect_eq(ss_rules_parse(&set, "bogus:drop", 0, NULL, 0), -1);
    cr_expect_eq(ss_rules_parse(&set, "send:drop", 0, NULL, 0), 0);
    cr_expect_eq(set.n, 1);
    cr_expect_eq(ss_rules_parse(NULL, "send:drop", 0, small, sizeof small), -1);
}

Test(rules, field_order_does_not_matter)
{
    cr_assert_eq(parse("send:when=2:type=stream:short=50%:fd=3", 0), 0, "%s", err);
    cr_assert_eq(parse("send:fd=3:short=50%:type=stream:when=2", 0), 0, "%s", err);
    const struct ss_rule *a = &set.rule[0], *b = &set.rule[1];
    cr_expect_eq(a->actions, b->actions);
    cr_expect_eq(a->conds, b->conds);
    cr_expect_eq(a->short_pct, 50);
    cr_expect_eq(b->short_pct, 50);
    cr_expect_eq(a->fd, b->fd);
    cr_expect_eq(a->when_first, b->when_first);
    cr_expect_eq(a->types, b->types);
}
