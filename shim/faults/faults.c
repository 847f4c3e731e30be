/* faults.c - the fault decision (SPEC section 8), see faults.h.
 *
 * Decisions where SPEC section 8 is silent:
 * - A rule fires only when its action can act on the call: short= needs a
 *   stream socket and a request longer than the bytes it keeps (short=100 on
 *   a 10-byte send changes nothing, so nothing is logged and a later rule may
 *   fire); batch= needs a sendmmsg of more than K messages; drop needs a
 *   datagram or raw socket. error= and delay= act on every call. A rule that
 *   combines delay= with another action fires only when that action acts.
 *   The counter still counts the call: it matched.
 * - write and writev match only on sockets (type known and nonzero).
 * - An IPv4 peer= also matches the IPv4-mapped IPv6 destination
 *   (::ffff:a.b.c.d) of a dual-stack socket: it is the same host.
 * - A unix peer= matches path sockets only; abstract and unnamed ones have no
 *   path to name.
 * - sendmmsg is one call: its destination is the first message's msg_name (or
 *   the connected peer).
 * - reset acts on TCP only (stream sockets of inet/inet6), dup on datagram
 *   and raw sockets; rate= and stall= on any socket.
 * - corrupt=N acts only when the data holds at least N bits; on sendmmsg
 *   the message it corrupts is the first of the batch, and it acts only
 *   when that message holds N bits. Its N positions are distinct, drawn
 *   from the rule's generator right after the p= draw (Floyd's sampling:
 *   exactly N draws), so the same seed gives the same positions.
 * - burst=Q: the rule keeps one bit, "the last draw fired"; while it is set
 *   the draw is tested against Q instead of p. Only calls that reach the
 *   draw (when= holds, the action acts) move it. */
#include "faults.h"

#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#define SS_PCT_DIV 100 /* short=P% */

static unsigned type_bit(int type)
{
    switch (type) {
    case SOCK_STREAM:
        return SS_TYPE_STREAM;
    case SOCK_DGRAM:
        return SS_TYPE_DGRAM;
    case SOCK_SEQPACKET:
        return SS_TYPE_SEQPACKET;
    case SOCK_RAW:
        return SS_TYPE_RAW;
    default:
        return 0;
    }
}

static unsigned family_bit(int family)
{
    switch (family) {
    case AF_UNIX:
        return SS_FAM_UNIX;
    case AF_INET:
        return SS_FAM_INET;
    case AF_INET6:
        return SS_FAM_INET6;
    case AF_NETLINK:
        return SS_FAM_NETLINK;
    case AF_PACKET:
        return SS_FAM_PACKET;
    default:
        return 0;
    }
}

/* The facts a rule needs about the calls it names (ss_fault_needs). */
static unsigned rule_needs(const struct ss_rule *r)
{
    unsigned needs = 0;
    /* write/writev match on sockets only; short= and drop act by type. */
    if ((r->conds & (SS_COND_TYPE | SS_COND_FAMILY)) ||
        (r->calls & (SS_CALL_BIT(SS_CALL_WRITE) | SS_CALL_BIT(SS_CALL_WRITEV))) ||
        (r->actions & (SS_ACT_SHORT | SS_ACT_DROP | SS_ACT_RESET | SS_ACT_RATE | SS_ACT_STALL | SS_ACT_DUP |
                       SS_ACT_CORRUPT)))
        needs |= SS_NEED_SOCK;
    if (r->actions & SS_ACT_STALL)
        needs |= SS_NEED_STALL;
    if (r->conds & (SS_COND_PEER | SS_COND_PORT))
        needs |= SS_NEED_DEST;
    if (r->conds & SS_COND_AFTER)
        needs |= SS_NEED_SENT;
    if (r->actions & (SS_ACT_SHORT | SS_ACT_CORRUPT))
        needs |= SS_NEED_BYTES;
    return needs;
}

unsigned ss_faults_needs(const struct ss_rule *rules, unsigned n)
{
    unsigned needs = 0;
    for (unsigned i = 0; i < n; i++)
        needs |= rule_needs(&rules[i]);
    return needs;
}

/* The IPv4 address inside an IPv4-mapped IPv6 address, if it is one. */
static int v4_mapped(const struct sockaddr_in6 *a, struct in_addr *out)
{
    if (!IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
        return 0;
    memcpy(&out->s_addr, &a->sin6_addr.s6_addr[12], sizeof out->s_addr);
    return 1;
}

/* Destination port in host order, or -1 when dest has none. */
static int dest_port(const struct sockaddr *dest, socklen_t len)
{
    if (!dest)
        return -1;
    if (dest->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        return ntohs(((const struct sockaddr_in *)dest)->sin_port);
    if (dest->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        return ntohs(((const struct sockaddr_in6 *)dest)->sin6_port);
    return -1;
}

int ss_peer_matches(const struct ss_rule *r, const struct sockaddr *dest, socklen_t len)
{
    if (!dest || len < (socklen_t)sizeof(sa_family_t))
        return 0;
    switch (r->peer.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *want = (const struct sockaddr_in *)&r->peer;
        struct in_addr addr;
        if (dest->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
            addr = ((const struct sockaddr_in *)dest)->sin_addr;
        else if (!(dest->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6) &&
                   v4_mapped((const struct sockaddr_in6 *)dest, &addr)))
            return 0;
        if (addr.s_addr != want->sin_addr.s_addr)
            return 0;
        return !want->sin_port || dest_port(dest, len) == ntohs(want->sin_port);
    }
    case AF_INET6: {
        const struct sockaddr_in6 *want = (const struct sockaddr_in6 *)&r->peer;
        if (dest->sa_family != AF_INET6 || len < (socklen_t)sizeof(struct sockaddr_in6))
            return 0;
        const struct sockaddr_in6 *got = (const struct sockaddr_in6 *)dest;
        if (memcmp(&got->sin6_addr, &want->sin6_addr, sizeof want->sin6_addr))
            return 0;
        return !want->sin6_port || got->sin6_port == want->sin6_port;
    }
    case AF_UNIX: {
        const struct sockaddr_un *want = (const struct sockaddr_un *)&r->peer;
        const size_t off = offsetof(struct sockaddr_un, sun_path);
        if (dest->sa_family != AF_UNIX || (size_t)len <= off)
            return 0;
        const char *path = ((const struct sockaddr_un *)dest)->sun_path;
        size_t max = (size_t)len - off, n = 0;
        if (max > sizeof want->sun_path)
            max = sizeof want->sun_path;
        while (n < max && path[n]) /* the kernel allows a path without its NUL */
            n++;
        if (!n) /* abstract (leading NUL) or unnamed */
            return 0;
        return strlen(want->sun_path) == n && !memcmp(path, want->sun_path, n);
    }
    default:
        return 0;
    }
}

int ss_rule_matches(const struct ss_rule *r, const struct ss_fault_call *c)
{
    return ss_rule_matches_place(r, c->fd, c->dest, c->destlen) && ss_rule_matches_but_place(r, c);
}

int ss_rule_matches_but_place(const struct ss_rule *r, const struct ss_fault_call *c)
{
    if (!(r->calls & SS_CALL_BIT(c->call)))
        return 0;
    if ((c->call == SS_CALL_WRITE || c->call == SS_CALL_WRITEV) && !c->type)
        return 0;
    if (!r->conds)
        return 1;
    if ((r->conds & SS_COND_TYPE) && !(r->types & type_bit(c->type)))
        return 0;
    if ((r->conds & SS_COND_FAMILY) && !(r->families & family_bit(c->family)))
        return 0;
    if ((r->conds & SS_COND_AFTER) && !(c->sent > r->after_bytes))
        return 0;
    return 1;
}

int ss_rule_matches_place(const struct ss_rule *r, int fd, const struct sockaddr *dest, socklen_t destlen)
{
    if ((r->conds & SS_COND_FD) && r->fd != fd)
        return 0;
    if ((r->conds & SS_COND_PEER) && !ss_peer_matches(r, dest, destlen))
        return 0;
    if ((r->conds & SS_COND_PORT) && dest_port(dest, destlen) != (int)r->port)
        return 0;
    return 1;
}

/* P% of n, at least 1, without overflow for any 64-bit n. */
static uint64_t percent_of(uint64_t n, unsigned pct)
{
    uint64_t v = n / SS_PCT_DIV * pct + n % SS_PCT_DIV * pct / SS_PCT_DIV;
    return v ? v : 1;
}

int ss_faults_acts_on_call(const struct ss_rule *r, const struct ss_fault_call *c, uint64_t *keep)
{
    if (r->actions & SS_ACT_SHORT) {
        if (!(type_bit(c->type) & SS_TYPES_SHORT))
            return 0;
        uint64_t k = r->short_pct ? percent_of(c->bytes, r->short_pct) : r->short_bytes;
        if (k >= c->bytes)
            return 0;
        *keep = k;
    }
    if ((r->actions & SS_ACT_BATCH) && !(c->call == SS_CALL_SENDMMSG && c->vlen > r->batch))
        return 0;
    if ((r->actions & SS_ACT_DROP) && !(type_bit(c->type) & SS_TYPES_DROP))
        return 0;
    if ((r->actions & SS_ACT_DUP) && !(type_bit(c->type) & SS_TYPES_DUP))
        return 0;
    if ((r->actions & SS_ACT_RESET) &&
        !((type_bit(c->type) & SS_TYPES_RESET) && (family_bit(c->family) & SS_FAMS_RESET)))
        return 0;
    if ((r->actions & (SS_ACT_RATE | SS_ACT_STALL | SS_ACT_CORRUPT)) && !c->type)
        return 0; /* not a socket (or unknown) */
    if ((r->actions & SS_ACT_CORRUPT) && c->unit_bytes < (r->corrupt_bits + 7u) / 8u)
        return 0;
    return 1;
}

/* ---- the plan ------------------------------------------------------------------ */

/* Whether a and b match exactly the same calls. */
static int same_match(const struct ss_rule *a, const struct ss_rule *b)
{
    unsigned conds = a->conds & SS_MATCH_CONDS;
    if (a->calls != b->calls || conds != (b->conds & SS_MATCH_CONDS))
        return 0;
    if ((conds & SS_COND_FD) && a->fd != b->fd)
        return 0;
    if ((conds & SS_COND_TYPE) && a->types != b->types)
        return 0;
    if ((conds & SS_COND_FAMILY) && a->families != b->families)
        return 0;
    if ((conds & SS_COND_PEER) && (a->peer_len != b->peer_len || a->peer_len > sizeof a->peer ||
                                   memcmp(&a->peer, &b->peer, a->peer_len)))
        return 0;
    if ((conds & SS_COND_PORT) && a->port != b->port)
        return 0;
    if ((conds & SS_COND_AFTER) && a->after_bytes != b->after_bytes)
        return 0;
    return 1;
}

static int uses_generator(const struct ss_rule *r)
{
    return r->p_threshold != UINT64_MAX || (r->conds & SS_COND_BURST) || r->delay_min_ns != r->delay_max_ns ||
           (r->actions & SS_ACT_CORRUPT);
}

void ss_faults_plan_seed(struct ss_fault_plan *p, uint64_t seed)
{
    p->seed = seed;
    for (unsigned i = 0; i < p->n; i++)
        p->base[i] = uses_generator(&p->rule[i]) ? ss_prng_base(seed, (uint64_t)i + 1) : 0;
}

/* The count before a call from which the rule may fire on it. */
static uint64_t fire_after(const struct ss_rule *r)
{
    return r->when_first ? r->when_first - 1 : 0;
}

/* The last count before a call on which it may: a stall rule keeps firing on
 * a stalled descriptor whatever `when` says (ss_faults_pick), so its window
 * never closes. */
static uint64_t fire_until(const struct ss_rule *r)
{
    if ((r->actions & SS_ACT_STALL) || r->when_last == UINT64_MAX)
        return UINT64_MAX;
    return r->when_last ? r->when_last - 1 : 0;
}

/* Whether a rule tests where the call goes (its group is numbered first). */
static int tests_place(const struct ss_rule *r)
{
    return (r->conds & (SS_COND_FD | SS_COND_PEER | SS_COND_PORT)) != 0;
}

/* The span of the window lo..hi (inclusive) as ss_faults_count_group tests
 * it: count - 1 - lo < span. A window that holds every count is
 * UINT64_MAX; one that ends at UINT64_MAX otherwise is exact, so that a
 * count below lo (which wraps to a large number) stays outside. */
static uint64_t window_span(uint64_t lo, uint64_t hi)
{
    if (hi < lo)
        return 0;
    return hi - lo == UINT64_MAX ? UINT64_MAX : hi - lo + 1;
}

/* The last count - 1 of group g's window (only when its span is not 0). */
static uint64_t window_last(const struct ss_fault_plan *p, unsigned g)
{
    return p->fire_span[g] == UINT64_MAX ? UINT64_MAX : p->fire_after[g] + p->fire_span[g] - 1;
}

/* Open group g with rule i as its first. */
static void new_group(struct ss_fault_plan *p, unsigned g, unsigned i, struct ss_rule_state *st)
{
    const struct ss_rule *r = &p->rule[i];
    uint64_t bit = 1ull << g;
    p->count[g] = &st[i].count;
    p->fire_after[g] = fire_after(r);
    p->fire_span[g] = window_span(fire_after(r), fire_until(r));
    p->fire_step[g] = r->when_step > 1 ? r->when_step : 1;
    p->after_bytes[g] = r->after_bytes;
    p->match[g] = r;
    for (unsigned c = 0; c < SS_NCALLS; c++)
        if (r->calls & SS_CALL_BIT(c))
            p->calls[c] |= bit;
    for (int t = 0; t < SS_TYPE_INDEXES; t++)
        if (!(r->conds & SS_COND_TYPE) || (r->types & type_bit(t)))
            p->type_ok[t] |= bit;
    for (int f = 0; f < SS_FAMILY_INDEXES; f++)
        if (!(r->conds & SS_COND_FAMILY) || (r->families & family_bit(f)))
            p->family_ok[f] |= bit;
    if (r->conds & SS_COND_AFTER) {
        p->after |= bit;
        p->count_bytes = 1;
        if (r->after_bytes > p->after_max)
            p->after_max = r->after_bytes;
    }
    if (tests_place(r))
        p->other |= bit;
    if (r->conds & (SS_COND_PEER | SS_COND_PORT))
        p->named |= bit;
}

/* Widen group g's window for another of its rules, r. */
static void join_group(struct ss_fault_plan *p, unsigned g, const struct ss_rule *r)
{
    uint64_t rlo = fire_after(r), rhi = fire_until(r);
    if (rhi < rlo) /* a window that holds no call adds nothing */
        return;
    uint64_t lo = rlo, hi = rhi;
    if (p->fire_span[g]) {
        uint64_t glo = p->fire_after[g], ghi = window_last(p, g);
        lo = glo < lo ? glo : lo;
        hi = ghi > hi ? ghi : hi;
    }
    p->fire_after[g] = lo;
    p->fire_span[g] = window_span(lo, hi);
    p->fire_step[g] = 1; /* two rules' steps: ss_faults_pick tests each */
}

void ss_faults_plan(struct ss_fault_plan *p, const struct ss_rule *rules, struct ss_rule_state *st,
                    unsigned n, uint64_t seed, int share)
{
    unsigned ngroups = 0;
    memset(p, 0, sizeof *p);
    p->rule = rules;
    p->st = st;
    p->n = n > SS_MAX_RULES ? SS_MAX_RULES : n;
    ss_faults_plan_seed(p, seed);
    p->id = 1;
    for (unsigned i = 0; i < p->n; i++) {
        const struct ss_rule *r = &rules[i];
        for (unsigned c = 0; c < SS_NCALLS; c++)
            if (r->calls & SS_CALL_BIT(c))
                p->needs[c] |= rule_needs(r);
        p->teardown |= r->calls & SS_CALLS_TEARDOWN;
        /* peer= and port= too: a call without an address is decided by
         * the descriptor's cached verdict on its connected peer. */
        if ((r->conds & (SS_COND_TYPE | SS_COND_FAMILY | SS_COND_AFTER | SS_COND_PEER | SS_COND_PORT)) ||
            (r->actions & (SS_ACT_SHORT | SS_ACT_DROP)))
            p->by_descriptor |= r->calls;
        if (r->actions & SS_ACTS_SOMETIMES)
            p->pick_reads |= r->calls;
    }
    p->by_descriptor |= SS_CALL_BIT(SS_CALL_WRITE) | SS_CALL_BIT(SS_CALL_WRITEV);
    /* Two passes: the groups that test where a call goes first (their
     * numbers are the low bits of a descriptor's verdict), then the rest. */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < p->n; i++) {
            const struct ss_rule *r = &rules[i];
            if (tests_place(r) != (pass == 0))
                continue;
            unsigned g = 0;
            while (g < ngroups && !(share && same_match(p->match[g], r)))
                g++;
            p->group_of[i] = (unsigned char)g;
            if (g < ngroups) {
                join_group(p, g, r);
                continue;
            }
            ngroups++;
            new_group(p, g, i, st);
        }
    }
}

uint64_t ss_faults_narrow(const struct ss_fault_plan *p, const struct ss_fault_call *c, uint64_t m)
{
    for (uint64_t rest = m & p->other; rest; rest &= rest - 1) {
        unsigned g = (unsigned)__builtin_ctzll(rest);
        if (!ss_rule_matches(p->match[g], c))
            m &= ~(1ull << g);
    }
    return m;
}

/* corrupt=N: N distinct bit offsets below `bits`, ascending, by Floyd's
 * sampling (N draws for N positions, whatever the collisions). */
void ss_faults_corrupt_positions(const struct ss_fault_decision *d, uint64_t *out)
{
    unsigned k = 0, n = d->ncorrupt;
    uint64_t bits = d->unit_bits;
    for (uint64_t j = bits - n; j < bits; j++) {
        uint64_t t = ss_prng_range(ss_prng_at(d->corrupt_base, d->corrupt_k0 + k), 0, j);
        unsigned i = 0;
        while (i < k && out[i] != t)
            i++;
        uint64_t v = i < k ? j : t;
        /* insert v keeping out[0..k] ascending */
        unsigned at = k;
        while (at && out[at - 1] > v) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = v;
        k++;
    }
}

void ss_faults_pick_teardown(const struct ss_fault_plan *p, unsigned bit, const struct ss_fault_call *c,
                             struct ss_fault_decision *d)
{
    uint64_t counted = 0, count[SS_MAX_RULES];
    d->rule = -1;
    for (unsigned i = 0; i < p->n; i++) {
        const struct ss_rule *r = &p->rule[i];
        unsigned g = p->group_of[i];
        if (!(r->calls & bit))
            continue;
        if (!(counted & (1ull << g))) {
            struct ss_fault_call any = *c;
            struct ss_rule only = *p->match[g];
            /* the calls are the teardown's: test the conditions alone */
            only.calls = SS_CALL_BIT(SS_CALL_SEND);
            any.call = SS_CALL_SEND;
            if (!ss_rule_matches(&only, &any))
                continue;
            counted |= 1ull << g;
            count[g] = __atomic_add_fetch(p->count[g], 1, __ATOMIC_RELAXED);
        }
        uint64_t base = p->base[i];
        if (d->rule >= 0 || !ss_when_holds(r, count[g]) || !ss_faults_draw_fires(r, &p->st[i], base))
            continue;
        ss_faults_fire(p, i, c, 0, base, d);
    }
}

void ss_faults_decide(const struct ss_rule *rules, struct ss_rule_state *st, unsigned n, uint64_t seed,
                      const struct ss_fault_call *c, struct ss_fault_decision *d)
{
    struct ss_fault_plan p;
    struct ss_fault_counts counts;
    ss_faults_plan(&p, rules, st, n, seed, 0);
    d->rule = -1;
    if (ss_faults_count(&p, c, &counts))
        ss_faults_pick(&p, c, &counts, d);
}
