/* test_faults.c - the fault decision (shim/faults/faults.c) without sockets: when in
 * all its forms, p and its reproducibility, first-wins, counters that count
 * every matching call, the conditions, and when an action acts. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "faults.h"
#include "rules.h"

#define CALLS   2000
#define SIGMA5X 5.0 /* statistical tolerance: five standard deviations */

static struct ss_ruleset set;
static struct ss_rule_state st[SS_MAX_RULES];

static void load(const char *text)
{
    char err[256];
    memset(&set, 0, sizeof set);
    memset(st, 0, sizeof st);
    cr_assert_eq(ss_rules_parse(&set, text, 0, err, sizeof err), 0, "%s: %s", text, err);
}

static struct ss_fault_call stream_send(void)
{
    struct ss_fault_call c = {
        .call = SS_CALL_SEND, .fd = 5, .type = SOCK_STREAM, .family = AF_INET, .bytes = 100};
    return c;
}

static struct ss_fault_call dgram_send(void)
{
    struct ss_fault_call c = {
        .call = SS_CALL_SEND, .fd = 6, .type = SOCK_DGRAM, .family = AF_INET, .bytes = 100};
    return c;
}

/* Decide one call; the 0-based rule that fired or -1. */
static int decide(const struct ss_fault_call *c, uint64_t seed, struct ss_fault_decision *d)
{
    ss_faults_decide(set.rule, st, set.n, seed, c, d);
    return d->rule;
}

static int fires(const struct ss_fault_call *c)
{
    struct ss_fault_decision d;
    return decide(c, 1, &d) >= 0;
}

/* The 1-based calls (of the first `calls`) on which rule 0 fired, as a bitmap. */
static void schedule(const char *rule, int calls, char *fired)
{
    load(rule);
    struct ss_fault_call c = stream_send();
    for (int i = 1; i <= calls; i++)
        fired[i] = (char)fires(&c);
}

/* --- when ---------------------------------------------------------------------- */

Test(faults, when_forms)
{
    static const struct {
        const char *when;
        const char *expect; /* calls 1..12: 'x' fires */
    } cases[] = {
        {"", "xxxxxxxxxxxx"},
        {":when=3", "..x........."},
        {":when=2..4", ".xxx........"},
        {":when=10..", ".........xxx"},
        {":when=2+3", ".x..x..x..x."},
        {":when=2+", ".xxxxxxxxxxx"},
        {":when=2..8+3", ".x..x..x...."},
        {":when=1..1", "x..........."},
        {":when=5..5+2", "....x......."},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char rule[64], fired[13];
        snprintf(rule, sizeof rule, "send:error=EAGAIN%s", cases[k].when);
        schedule(rule, 12, fired);
        for (int i = 1; i <= 12; i++)
            cr_expect_eq(fired[i], cases[k].expect[i - 1] == 'x', "%s: call %d fired=%d", rule, i, fired[i]);
    }
}

Test(faults, when_counts_past_65535)
{
    /* strace caps its counters at 65535; ours are 64-bit. */
    char fired[70002];
    schedule("send:error=EAGAIN:when=70000", 70001, fired);
    for (int i = 1; i <= 70001; i++)
        if (fired[i] != (i == 70000))
            cr_assert_fail("call %d fired=%d", i, fired[i]);

    load("send:error=EAGAIN:when=5000000000..5000000001");
    struct ss_fault_call c = stream_send();
    st[0].count = 4999999998ull;
    cr_assert(!fires(&c)); /* 4999999999 */
    cr_assert(fires(&c));  /* 5000000000 */
    cr_assert(fires(&c));  /* 5000000001 */
    cr_assert(!fires(&c));
    cr_assert_eq(st[0].count, 5000000002ull);
}

Test(faults, when_holds_directly)
{
    struct ss_rule r = {.when_first = 3, .when_last = UINT64_MAX, .when_step = 4};
    cr_assert(!ss_when_holds(&r, 2));
    cr_assert(ss_when_holds(&r, 3));
    cr_assert(!ss_when_holds(&r, 4));
    cr_assert(ss_when_holds(&r, 7));
    cr_assert(ss_when_holds(&r, 3 + 4 * 1000000000000ull));
    cr_assert(!ss_when_holds(&r, 0));
}

/* --- p ------------------------------------------------------------------------- */

static int run_p(const char *rule, uint64_t seed, char *pattern, int calls)
{
    load(rule);
    struct ss_fault_call c = stream_send();
    struct ss_fault_decision d;
    int n = 0;
    for (int i = 0; i < calls; i++) {
        pattern[i] = (char)(decide(&c, seed, &d) >= 0);
        n += pattern[i];
    }
    return n;
}

Test(faults, p_is_reproducible_from_the_seed)
{
    static char a[CALLS], b[CALLS], other[CALLS];
    int na = run_p("send:error=EAGAIN:p=0.3", 12345, a, CALLS);
    int nb = run_p("send:error=EAGAIN:p=0.3", 12345, b, CALLS);
    run_p("send:error=EAGAIN:p=0.3", 54321, other, CALLS);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(a, b, CALLS), 0, "same seed, different faults");
    cr_assert_neq(memcmp(a, other, CALLS), 0, "another seed gave the same faults");
    double sd = __builtin_sqrt(CALLS * 0.3 * 0.7);
    cr_assert(na > CALLS * 0.3 - SIGMA5X * sd && na < CALLS * 0.3 + SIGMA5X * sd, "p=0.3 fired %d/%d", na,
              CALLS);
}

Test(faults, p_zero_never_p_one_always)
{
    static char pat[CALLS];
    cr_assert_eq(run_p("send:error=EAGAIN:p=0", 1, pat, CALLS), 0);
    cr_assert_eq(run_p("send:error=EAGAIN:p=1", 1, pat, CALLS), CALLS);
    cr_assert_eq(run_p("send:error=EAGAIN:p=1.0", 1, pat, CALLS), CALLS);
}

Test(faults, p_is_drawn_only_when_when_holds)
{
    load("send:error=EAGAIN:p=0.5:when=3..4");
    struct ss_fault_call c = stream_send();
    for (int i = 0; i < 10; i++)
        fires(&c);
    cr_assert_eq(st[0].count, 10);
    cr_assert_eq(st[0].prng.drawn, 2, "drew %llu times", (unsigned long long)st[0].prng.drawn);
}

Test(faults, generator_depends_on_the_rule_position)
{
    /* The same rule at position 1 and at position 2 (behind a rule that
     * never matches) follows a different stream. */
    static char first[CALLS], second[CALLS];
    run_p("send:error=EAGAIN:p=0.5", 7, first, CALLS);
    run_p("sendto:error=EAGAIN;send:error=EAGAIN:p=0.5", 7, second, CALLS);
    cr_assert_neq(memcmp(first, second, CALLS), 0);
}

/* --- first wins, every rule counts ------------------------------------------------ */

Test(faults, first_firing_rule_wins_and_later_rules_draw_nothing)
{
    load("send:error=EAGAIN;send:error=EINTR:p=0.5;*:error=ENOBUFS");
    struct ss_fault_call c = stream_send();
    struct ss_fault_decision d;
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(decide(&c, 3, &d), 0);
        cr_assert_eq(d.error, EAGAIN);
    }
    for (int i = 0; i < 3; i++)
        cr_assert_eq(st[i].count, 100, "rule %d counted %llu", i + 1, (unsigned long long)st[i].count);
    cr_assert_eq(st[0].fired, 100);
    cr_assert_eq(st[1].fired, 0);
    cr_assert_eq(st[2].fired, 0);
    cr_assert_eq(st[1].prng.drawn, 0, "a later rule drew");
}

Test(faults, counters_count_calls_another_rule_fired_on)
{
    /* Rule 2's third call is taken by rule 1 (when=3 too): rule 2 does not
     * get it later, because each rule is its own schedule. */
    load("send:error=EAGAIN:when=3;send:error=EINTR:when=3..4");
    struct ss_fault_call c = stream_send();
    struct ss_fault_decision d;
    int got[6];
    for (int i = 1; i <= 5; i++)
        got[i] = decide(&c, 1, &d);
    cr_assert_eq(got[1], -1);
    cr_assert_eq(got[2], -1);
    cr_assert_eq(got[3], 0);
    cr_assert_eq(got[4], 1);
    cr_assert_eq(got[5], -1);
    cr_assert_eq(st[0].count, 5);
    cr_assert_eq(st[1].count, 5);
    cr_assert_eq(st[1].fired, 1);
}

Test(faults, a_rule_that_does_not_match_does_not_count)
{
    load("sendto:error=EAGAIN:when=2;send:error=EINTR:fd=9");
    struct ss_fault_call c = stream_send();
    for (int i = 0; i < 4; i++)
        cr_assert(!fires(&c));
    cr_assert_eq(st[0].count, 0);
    cr_assert_eq(st[1].count, 0);
    c.call = SS_CALL_SENDTO;
    cr_assert(!fires(&c));
    cr_assert(fires(&c)); /* sendto's own second call */
}

/* --- conditions -------------------------------------------------------------------- */

Test(faults, fd_type_family)
{
    load("send:error=EAGAIN:fd=5:type=stream:family=inet,inet6");
    struct ss_fault_call c = stream_send();
    cr_assert(fires(&c));
    c.fd = 4;
    cr_assert(!fires(&c));
    c = stream_send();
    c.type = SOCK_DGRAM;
    cr_assert(!fires(&c));
    c = stream_send();
    c.family = AF_UNIX;
    cr_assert(!fires(&c));
    c.family = AF_INET6;
    cr_assert(fires(&c));
    c.type = 0; /* unknown */
    cr_assert(!fires(&c));

    load("*:error=EAGAIN:type=seqpacket,raw:family=unix,netlink,packet");
    c = stream_send();
    c.type = SOCK_SEQPACKET;
    c.family = AF_UNIX;
    cr_assert(fires(&c));
    c.type = SOCK_RAW;
    c.family = AF_PACKET;
    cr_assert(fires(&c));
    c.family = AF_NETLINK;
    cr_assert(fires(&c));
}

Test(faults, write_and_writev_match_only_sockets)
{
    load("write,writev:error=EAGAIN");
    struct ss_fault_call c = {.call = SS_CALL_WRITE, .fd = 3, .bytes = 10};
    cr_assert(!fires(&c));
    c.call = SS_CALL_WRITEV;
    cr_assert(!fires(&c));
    cr_assert_eq(st[0].count, 0);
    c.type = SOCK_STREAM;
    c.family = AF_UNIX;
    cr_assert(fires(&c));
    c.call = SS_CALL_WRITE;
    cr_assert(fires(&c));
    c.call = SS_CALL_SEND;
    cr_assert(!fires(&c));
}

static struct sockaddr_in v4(const char *addr, int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, addr, &a.sin_addr);
    return a;
}

static struct sockaddr_in6 v6(const char *addr, int port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, addr, &a.sin6_addr);
    return a;
}

static int fires_to(const struct sockaddr *dest, socklen_t len)
{
    struct ss_fault_call c = dgram_send();
    c.dest = dest;
    c.destlen = len;
    return fires(&c);
}

#define FIRES_TO(a) fires_to((const struct sockaddr *)&(a), sizeof(a))

Test(faults, peer_ipv4_with_and_without_port)
{
    struct sockaddr_in a = v4("10.0.0.1", 53), b = v4("10.0.0.2", 53), a2 = v4("10.0.0.1", 54);
    struct sockaddr_in6 mapped = v6("::ffff:10.0.0.1", 53), other6 = v6("2001:db8::1", 53);
    load("send:drop:peer=10.0.0.1");
    cr_assert(FIRES_TO(a));
    cr_assert(FIRES_TO(a2));
    cr_assert(!FIRES_TO(b));
    cr_assert(FIRES_TO(mapped));
    cr_assert(!FIRES_TO(other6));
    cr_assert(!fires_to(NULL, 0));
    load("send:drop:peer=10.0.0.1:53");
    cr_assert(FIRES_TO(a));
    cr_assert(!FIRES_TO(a2));
    cr_assert(FIRES_TO(mapped));
    /* A truncated address never matches (and is never read past its length). */
    cr_assert(!fires_to((const struct sockaddr *)&a, sizeof a - 4));
}

Test(faults, peer_ipv6)
{
    struct sockaddr_in6 a = v6("2001:db8::1", 443), b = v6("2001:db8::2", 443), a2 = v6("2001:db8::1", 80);
    struct sockaddr_in four = v4("10.0.0.1", 443);
    load("send:drop:peer=[2001:db8::1]");
    cr_assert(FIRES_TO(a));
    cr_assert(FIRES_TO(a2));
    cr_assert(!FIRES_TO(b));
    cr_assert(!FIRES_TO(four));
    load("send:drop:peer=[2001:db8::1]:443");
    cr_assert(FIRES_TO(a));
    cr_assert(!FIRES_TO(a2));
}

Test(faults, peer_unix_path)
{
    struct sockaddr_un a, abstract;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, "/run/app.sock");
    socklen_t with_nul = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1);
    load("send:drop:peer=/run/app.sock");
    cr_assert(fires_to((struct sockaddr *)&a, with_nul));
    cr_assert(fires_to((struct sockaddr *)&a, with_nul - 1)); /* the kernel allows no NUL */
    cr_assert(fires_to((struct sockaddr *)&a, sizeof a));
    cr_assert(!fires_to((struct sockaddr *)&a, with_nul - 2)); /* "/run/app.soc" */
    strcpy(a.sun_path, "/run/app.sock2");
    cr_assert(!fires_to((struct sockaddr *)&a, sizeof a));
    memset(&abstract, 0, sizeof abstract);
    abstract.sun_family = AF_UNIX;
    memcpy(abstract.sun_path, "\0/run/app.sock", 14);
    cr_assert(
        !fires_to((struct sockaddr *)&abstract, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 14)));
}

Test(faults, port_condition)
{
    struct sockaddr_in a = v4("127.0.0.1", 5353), b = v4("127.0.0.1", 53);
    struct sockaddr_in6 a6 = v6("::1", 5353);
    struct sockaddr_un u;
    memset(&u, 0, sizeof u);
    u.sun_family = AF_UNIX;
    strcpy(u.sun_path, "/x");
    load("send:drop:port=5353");
    cr_assert(FIRES_TO(a));
    cr_assert(FIRES_TO(a6));
    cr_assert(!FIRES_TO(b));
    cr_assert(!FIRES_TO(u));
    cr_assert(!fires_to(NULL, 0));
}

Test(faults, after_bytes_is_strictly_more_than)
{
    load("send:error=ECONNRESET:after=1K");
    struct ss_fault_call c = stream_send();
    c.sent = 0;
    cr_assert(!fires(&c));
    c.sent = 1024;
    cr_assert(!fires(&c));
    cr_assert_eq(st[0].count, 0, "after= is a matching condition: no count before it holds");
    c.sent = 1025;
    cr_assert(fires(&c));
    cr_assert_eq(st[0].count, 1);
}

Test(faults, needs_follow_the_conditions)
{
    load("send:error=EAGAIN");
    cr_assert_eq(ss_faults_needs(set.rule, set.n), 0);
    load("send:error=EAGAIN:fd=3:when=2:p=0.5");
    cr_assert_eq(ss_faults_needs(set.rule, set.n), 0);
    load("send:error=EAGAIN:type=stream");
    cr_assert_eq(ss_faults_needs(set.rule, set.n), SS_NEED_SOCK);
    load("send:short=3");
    cr_assert_eq(ss_faults_needs(set.rule, set.n), SS_NEED_SOCK | SS_NEED_BYTES);
    load("send:drop");
    cr_assert_eq(ss_faults_needs(set.rule, set.n), SS_NEED_SOCK);
    load("write:error=EAGAIN");
    cr_assert_eq(ss_faults_needs(set.rule, set.n), SS_NEED_SOCK);
    load("send:error=EAGAIN:port=80;send:error=EAGAIN:after=10");
    cr_assert_eq(ss_faults_needs(set.rule, set.n), SS_NEED_DEST | SS_NEED_SENT);
}

/* --- when an action acts ----------------------------------------------------------------- */

/* Decide `c` with seed 1 and check that the 0-based rule `want` fired (-1:
 * that none did); `what` names the case. Returns the decision. */
static struct ss_fault_decision expect_fired(const struct ss_fault_call *c, int want, const char *what)
{
    struct ss_fault_decision d;
    int got = decide(c, 1, &d);
    cr_assert_eq(got, want, "%s: rule %d fired, expected %d", what, got, want);
    return d;
}

/* Rule 0, a short= rule, fires on `c` and cuts it to `keep` bytes. */
static void expect_keep(const struct ss_fault_call *c, uint64_t keep, const char *what)
{
    struct ss_fault_decision d = expect_fired(c, 0, what);
    cr_assert_eq(d.keep, keep, "%s: keeps %llu of %llu bytes, expected %llu", what,
                 (unsigned long long)d.keep, (unsigned long long)c->bytes, (unsigned long long)keep);
}

Test(faults, short_acts_on_streams_longer_than_what_it_keeps)
{
    load("send:short=10");
    struct ss_fault_call c = stream_send();
    expect_keep(&c, 10, "short=10 of 100 bytes");
    c.bytes = 10;
    expect_fired(&c, -1, "nothing to cut");
    c = dgram_send();
    expect_fired(&c, -1, "a datagram is atomic");
    c.type = SOCK_SEQPACKET;
    expect_fired(&c, -1, "a record is atomic");
    cr_assert_eq(st[0].count, 4, "every call matched");

    load("send:short=25%");
    c = stream_send();
    expect_keep(&c, 25, "short=25% of 100 bytes");
    c.bytes = 3;
    expect_keep(&c, 1, "short=25% of 3 bytes is 0: at least one byte");
    c.bytes = 1;
    expect_fired(&c, -1, "short=25% of 1 byte");
    c.bytes = UINT64_MAX;
    expect_keep(&c, UINT64_MAX / 100 * 25 + UINT64_MAX % 100 * 25 / 100,
                "short=25% of UINT64_MAX, no overflow");
    load("send:short=100%");
    c = stream_send();
    expect_fired(&c, -1, "short=100% keeps every byte");
}

Test(faults, a_rule_that_cannot_act_lets_the_next_one_fire)
{
    load("send:short=1000;send:error=EAGAIN");
    struct ss_fault_call c = stream_send();
    struct ss_fault_decision d = expect_fired(&c, 1, "short=1000 of 100 bytes");
    cr_assert_eq(d.error, EAGAIN);
}

Test(faults, batch_acts_on_larger_batches_only)
{
    load("sendmmsg:batch=3");
    struct ss_fault_call c = {.call = SS_CALL_SENDMMSG, .fd = 3, .type = SOCK_DGRAM, .vlen = 5, .bytes = 50};
    struct ss_fault_decision d = expect_fired(&c, 0, "batch=3 of 5 messages");
    cr_assert_eq(d.batch, 3);
    c.vlen = 3;
    expect_fired(&c, -1, "batch=3 of 3 messages");
    /* The parser takes batch= only on sendmmsg-only rules; the decision
     * would not act on other calls anyway. */
    struct ss_rule r = {.calls = SS_CALLS_ALL, .actions = SS_ACT_BATCH, .batch = 2};
    uint64_t keep;
    c = stream_send();
    cr_assert(!ss_rule_acts(&r, &c, &keep));
}

Test(faults, drop_acts_on_datagrams_only)
{
    load("*:drop");
    struct ss_fault_call c = dgram_send();
    struct ss_fault_decision d = expect_fired(&c, 0, "datagram");
    cr_assert(d.actions & SS_ACT_DROP);
    c.type = SOCK_RAW;
    expect_fired(&c, 0, "raw");
    c.type = SOCK_SEQPACKET;
    expect_fired(&c, -1, "seqpacket is reliable");
    c = stream_send();
    expect_fired(&c, -1, "stream");
}

Test(faults, delay_fixed_and_drawn)
{
    load("send:delay=15ms");
    struct ss_fault_call c = stream_send();
    struct ss_fault_decision d = expect_fired(&c, 0, "delay=15ms");
    cr_assert_eq(d.delay_ns, 15000000);
    cr_assert_eq(st[0].prng.drawn, 0, "a fixed delay draws nothing");

    uint64_t first[50];
    load("send:delay=10ms..50ms:error=EINTR");
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(decide(&c, 77, &d), 0);
        cr_assert(d.delay_ns >= 10000000 && d.delay_ns <= 50000000, "%llu", (unsigned long long)d.delay_ns);
        cr_assert_eq(d.error, EINTR);
        first[i] = d.delay_ns;
    }
    load("send:delay=10ms..50ms:error=EINTR");
    int distinct = 0;
    for (int i = 0; i < 50; i++) {
        decide(&c, 77, &d);
        cr_assert_eq(d.delay_ns, first[i], "delay %d not reproduced", i);
        distinct += i && first[i] != first[i - 1];
    }
    cr_assert_gt(distinct, 40);
}
