/* test_fault_plan.c - the send path's prepared rule set (ss_faults_plan with
 * shared counters, ss_faults_count, ss_faults_pick): the same decisions and
 * the same per-rule counts as the per-rule reference (ss_faults_decide), one
 * counter per group of rules with equal match conditions, and no pick when no
 * counter reached its `when`. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "faults.h"
#include "rules.h"

#define CALLS 3000

static struct ss_ruleset set;
static struct ss_rule_state ref_st[SS_MAX_RULES], plan_st[SS_MAX_RULES];
static struct ss_fault_plan plan;

static void load(const char *text)
{
    char err[256];
    memset(&set, 0, sizeof set);
    memset(ref_st, 0, sizeof ref_st);
    memset(plan_st, 0, sizeof plan_st);
    cr_assert_eq(ss_rules_parse(&set, text, 0, err, sizeof err), 0, "%s: %s", text, err);
    ss_faults_plan(&plan, set.rule, plan_st, set.n, 7, 1);
}

static int plan_decide(const struct ss_fault_call *c, struct ss_fault_decision *d)
{
    struct ss_fault_counts counts;
    d->rule = -1;
    if (ss_faults_count(&plan, c, &counts))
        ss_faults_pick(&plan, c, &counts, d);
    return d->rule;
}

/* A varied call: kind, socket type and family, descriptor and bytes sent
 * change with i. */
static struct ss_fault_call call_at(int i)
{
    static const enum ss_call calls[] = {SS_CALL_SEND, SS_CALL_SENDTO, SS_CALL_SENDMSG, SS_CALL_SENDMMSG,
                                         SS_CALL_WRITE};
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, 0};
    static const int families[] = {AF_UNIX, AF_INET, AF_INET6};
    struct ss_fault_call c = {
        .call = calls[i % 5],
        .fd = 3 + i % 2,
        .type = types[i / 5 % 4],
        .family = families[i / 7 % 3],
        .sent = (uint64_t)(i % 11) * 10,
        .bytes = 100,
        .vlen = 4,
    };
    return c;
}

/* The shared plan and the reference decide every call alike and agree on
 * every rule's matched and fired counts. */
static void same_as_reference(const char *rules)
{
    load(rules);
    for (int i = 0; i < CALLS; i++) {
        struct ss_fault_call c = call_at(i);
        struct ss_fault_decision want, got;
        ss_faults_decide(set.rule, ref_st, set.n, 7, &c, &want);
        plan_decide(&c, &got);
        cr_assert_eq(got.rule, want.rule, "%s: call %d: rule %d, reference %d", rules, i, got.rule,
                     want.rule);
        if (want.rule >= 0) {
            cr_assert_eq(got.error, want.error);
            cr_assert_eq(got.keep, want.keep);
            cr_assert_eq(got.delay_ns, want.delay_ns);
        }
    }
    for (unsigned r = 0; r < set.n; r++) {
        cr_assert_eq(ss_faults_matched(&plan, r), ref_st[r].count, "%s: rule %u matched %llu, reference %llu",
                     rules, r + 1, (unsigned long long)ss_faults_matched(&plan, r),
                     (unsigned long long)ref_st[r].count);
        cr_assert_eq(plan_st[r].fired, ref_st[r].fired, "%s: rule %u fired", rules, r + 1);
    }
}

Test(fault_plan, shared_counters_decide_like_the_reference)
{
    same_as_reference("*:error=EAGAIN:when=5+7;*:error=EINTR:when=3..9;*:error=ENOBUFS:p=0.3");
    same_as_reference("send:error=EAGAIN:when=4;send,sendto:error=EINTR:when=2+5;send:error=EPIPE:when=6");
    same_as_reference(
        "*:drop:type=dgram:when=2+3;*:short=50%:type=stream:when=3+4;*:error=EAGAIN:type=dgram:when=9+9");
    same_as_reference("*:delay=1ms:family=unix,inet:when=10+10;*:error=EAGAIN:family=inet6:p=0.5;"
                      "*:error=EINTR:family=unix,inet:when=7+3");
    same_as_reference("*:error=ECONNREFUSED:after=40:when=2+2;*:error=EAGAIN:after=40:p=0.5;"
                      "*:error=EINTR:after=60");
    same_as_reference("*:error=EAGAIN:fd=3:when=2+2;*:error=EINTR:fd=4:when=3+3;*:error=ENOBUFS:fd=3:p=0.25;"
                      "write,writev:error=EAGAIN:when=1+4;sendmmsg:batch=2:when=2+2");
}

Test(fault_plan, equal_match_conditions_share_one_counter)
{
    load("*:error=EAGAIN:when=100;*:error=EINTR:when=200;send:error=EPIPE;*:drop:type=dgram;"
         "*:error=ENOBUFS:type=dgram:when=50");
    /* Rules 1 and 2 are one group, rules 4 and 5 another. */
    cr_assert_eq(plan.group_of[0], plan.group_of[1]);
    cr_assert_neq(plan.group_of[0], plan.group_of[2]);
    cr_assert_eq(plan.group_of[3], plan.group_of[4]);
    cr_assert_neq(plan.group_of[0], plan.group_of[3]);
    cr_assert_eq(plan.fire_after[plan.group_of[0]], 99, "when=100 and when=200: the 100th call may fire");
    cr_assert_eq(plan.fire_after[plan.group_of[3]], 0, "no when=: from the first call");

    struct ss_fault_call c = {.call = SS_CALL_SENDTO, .fd = 3, .type = SOCK_STREAM, .family = AF_INET};
    struct ss_fault_counts counts;
    for (int i = 0; i < 10; i++)
        cr_assert(!ss_faults_count(&plan, &c, &counts), "no rule of a sendto on a stream can fire yet");
    cr_assert_eq(ss_faults_matched(&plan, 0), 10);
    cr_assert_eq(ss_faults_matched(&plan, 1), 10);
    cr_assert_eq(ss_faults_matched(&plan, 2), 0, "send only");
    cr_assert_eq(ss_faults_matched(&plan, 3), 0, "dgram only");
    cr_assert_eq(ss_faults_matched(&plan, 4), 0);
}

Test(fault_plan, needs_are_per_call_kind)
{
    load("send:short=10:when=5;sendto:error=EAGAIN:after=100;sendmsg:error=EAGAIN:port=53");
    cr_assert_eq(plan.needs[SS_CALL_SEND], SS_NEED_SOCK | SS_NEED_BYTES);
    cr_assert_eq(plan.needs[SS_CALL_SENDTO], SS_NEED_SENT);
    cr_assert_eq(plan.needs[SS_CALL_SENDMSG], SS_NEED_DEST);
    cr_assert_eq(plan.needs[SS_CALL_SENDMMSG], 0);
    cr_assert_eq(plan.calls[SS_CALL_SENDMMSG], 0, "no rule names sendmmsg");
}

Test(fault_plan, write_matches_sockets_only)
{
    load("*:error=EAGAIN");
    struct ss_fault_call c = {.call = SS_CALL_WRITE, .fd = 1};
    struct ss_fault_counts counts;
    cr_assert(!ss_faults_count(&plan, &c, &counts));
    cr_assert_eq(ss_faults_matched(&plan, 0), 0);
    c.type = SOCK_STREAM;
    c.family = AF_UNIX;
    cr_assert(ss_faults_count(&plan, &c, &counts));
    cr_assert_eq(ss_faults_matched(&plan, 0), 1);
}

Test(fault_plan, after_counts_only_past_each_rules_bytes)
{
    /* Two after= groups: a descriptor past the larger one skips the per-group
     * test (after_max); below it, each group still tests its own bytes. */
    load("send:error=EAGAIN:after=100:when=1000;send:error=EINTR:after=10:when=1000");
    cr_assert_eq(plan.after_max, 100);
    struct ss_fault_call c = {.call = SS_CALL_SEND, .fd = 3, .type = SOCK_STREAM, .family = AF_INET};
    struct ss_fault_counts counts;
    static const uint64_t sent[] = {0, 10, 11, 100, 101, 5000};
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++) {
        c.sent = sent[i];
        cr_assert(!ss_faults_count(&plan, &c, &counts));
    }
    cr_assert_eq(ss_faults_matched(&plan, 0), 2, "after=100: 101 and 5000 bytes");
    cr_assert_eq(ss_faults_matched(&plan, 1), 4, "after=10: 11, 100, 101 and 5000 bytes");
}

/* The counts at which a plan's group says "a rule may fire" (the pending
 * bit of ss_faults_count): exactly its rules' `when` windows, so a rule not
 * yet due or already past sends no call on to the pick. Counts 1..n of one
 * send on a datagram socket; out[k] is 1 when call k+1 was pending. */
static void pending_counts(const char *text, int *out, int n)
{
    load(text);
    struct ss_fault_call c = {.call = SS_CALL_SEND, .fd = 3, .type = SOCK_DGRAM, .family = AF_INET};
    for (int k = 0; k < n; k++) {
        struct ss_fault_counts counts;
        out[k] = ss_faults_count(&plan, &c, &counts);
    }
}

Test(fault_plan, a_group_is_pending_only_inside_its_when_window)
{
    int got[40];
    pending_counts("*:when=5:error=EAGAIN", got, 40);
    for (int k = 0; k < 40; k++)
        cr_expect_eq(got[k], k + 1 == 5, "when=5, call %d", k + 1);
    pending_counts("*:when=10..12:error=EAGAIN", got, 40);
    for (int k = 0; k < 40; k++)
        cr_expect_eq(got[k], k + 1 >= 10 && k + 1 <= 12, "when=10..12, call %d", k + 1);
    pending_counts("*:when=3+4:error=EAGAIN", got, 40);
    for (int k = 0; k < 40; k++)
        cr_expect_eq(got[k], k + 1 >= 3 && (k + 1 - 3) % 4 == 0, "when=3+4, call %d", k + 1);
    /* Open-ended windows far away: nothing pending now (a window that ends
     * at the largest count must not take counts below its start). */
    pending_counts("*:when=1000000000000..:error=EINTR", got, 40);
    for (int k = 0; k < 40; k++)
        cr_expect_eq(got[k], 0, "when=10^12.., call %d", k + 1);
    /* Rules of one group (same calls and conditions): the union of their
     * windows, the steps left to the pick. */
    pending_counts("*:when=1000000000000:error=EAGAIN;*:error=EINTR:when=1000000000000..;"
                   "*:error=ENOBUFS:when=1000000000000+2",
                   got, 40);
    for (int k = 0; k < 40; k++)
        cr_expect_eq(got[k], 0, "three far windows, call %d", k + 1);
    pending_counts("*:when=7:error=EAGAIN;*:when=20..22:error=EINTR", got, 40);
    for (int k = 0; k < 40; k++)
        cr_expect_eq(got[k], k + 1 >= 7 && k + 1 <= 22, "when=7 and when=20..22 share a counter, call %d",
                     k + 1);
    /* No when=: every call. */
    pending_counts("*:p=0.5:error=EAGAIN", got, 40);
    for (int k = 0; k < 40; k++)
        cr_expect_eq(got[k], 1, "p= alone, call %d", k + 1);
}
