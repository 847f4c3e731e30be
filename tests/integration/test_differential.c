/* test_differential.c - the library against a reference model (issue 14).
 *
 * A fixed-seed generator makes a few hundred cases: a socket kind (TCP and
 * UDP over 127.0.0.1 and ::1, unix stream and datagram socketpairs), a flag
 * style (linux, or freebsd with FreeBSD's flag numbers), maybe
 * SENDSHIM_NOSIGPIPE=1, a set of fault rules drawn from a grammar of the
 * conditions and actions valid for that kind, and a script of 20 to 40 calls
 * (send, sendto, sendmsg, sendmmsg; flags 0, DONTWAIT, NOSIGNAL or both;
 * with or without a destination address). One target process per case
 * (tests/targets/diffprog) runs the script under the library, with the rules
 * from SENDSHIM_FAULTS or (one case in five) given to sendshim_set_faults
 * before the first call, and reports for each call its return value, errno, the
 * SIGPIPEs it raised and sendmmsg's msg_len values, and what the peer
 * received (bytes on a stream, tagged datagrams). Its stderr has the fault
 * log lines.
 *
 * The expected outcome of every call comes from the model below, written
 * from SPEC sections 5, 8 and 9 and README's "Fault injection" alone, and
 * deliberately simple (it shares no code with shim/): each rule has its own
 * counter, counted for every call that matches its calls, fd, type, family,
 * peer, port and after= conditions whether or not another rule fires; `when`
 * is strace's first[..last][+step] over that counter; the first rule, in
 * order, that is due, whose p= (only p=0 and p=1 here: the generator is the
 * library's) holds and whose action can act on the call fires, and only it.
 *
 * Decisions the model takes from README where the SPEC is silent:
 * - a rule fires only when its action can change the call: short= on a stream
 *   call longer than it keeps, drop on a datagram socket, batch=K on a
 *   sendmmsg of more than K messages (README "Decisions where SPEC section 8
 *   is silent");
 * - short=P% keeps floor(P% of the bytes), at least 1; on sendmmsg the
 *   messages that fit whole go out (if not even the first fits, it alone goes
 *   out cut) (README's short= row);
 * - after= counts the bytes the program was told were sent (drop's too);
 * - a unix socketpair has no peer address, so peer= and port= never match it.
 * A fault line is checked for the rule number and text, the call, fd=3, the
 * byte count and the result after "->" (the words after it are not part of
 * the contract).
 *
 * A mismatch prints the case (kind, style, rules, calls), the call, expected
 * against got, and a command line that reproduces it. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define T              20 /* seconds one target may take */
#define SEED           0x5e4d5415d1ffull
#define CASES_PER_KIND 80 /* x 6 kinds, plus the refused rule sets */
#define BAD_CASES      16
#define MIN_CALLS      20
#define MAX_CALLS      40
#define MAX_RULES      4
#define MAX_MSGS       5   /* per sendmmsg (diffprog takes up to 8) */
#define MAX_LEN        150 /* bytes of one message */
#define UNSET_MSG_LEN  77777u
#define PORT_TRIES     5
#define EXIT_PORT      77 /* diffprog: a port was taken */
#define SHOWN_FAILURES 3  /* cases printed in full per test */
#define FD_SENDER      3  /* diffprog's sending socket */
#define NO_LAST        UINT64_MAX
#define TEXT_MAX       256
#define OUT_MAX        (1 << 16)

/* ---- a generator of our own (xorshift64*), so the cases never change ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Uniform in [lo, hi]. */
static unsigned range(unsigned lo, unsigned hi)
{
    return lo + (unsigned)(rnd() % (hi - lo + 1));
}

/* 1 with probability pct/100. */
static int chance(unsigned pct)
{
    return rnd() % 100 < pct;
}

/* ---- the world: socket kinds, calls, flags, errors ----------------------- */

enum kind { K_TCP4, K_TCP6, K_UDP4, K_UDP6, K_UNIXS, K_UNIXD, K_COUNT };

/* Rule condition bits, in the rule language's own order. */
enum { TY_STREAM = 1, TY_DGRAM = 2, TY_SEQPACKET = 4, TY_RAW = 8 };
enum { FA_UNIX = 1, FA_INET = 2, FA_INET6 = 4, FA_NETLINK = 8, FA_PACKET = 16 };
static const char *const type_names[] = {"stream", "dgram", "seqpacket", "raw"};
static const char *const family_names[] = {"unix", "inet", "inet6", "netlink", "packet"};

static const struct kind_info {
    const char *name;
    unsigned type;   /* TY_ */
    unsigned family; /* FA_ */
} kinds[K_COUNT] = {
    [K_TCP4] = {"tcp4", TY_STREAM, FA_INET},   [K_TCP6] = {"tcp6", TY_STREAM, FA_INET6},
    [K_UDP4] = {"udp4", TY_DGRAM, FA_INET},    [K_UDP6] = {"udp6", TY_DGRAM, FA_INET6},
    [K_UNIXS] = {"unixs", TY_STREAM, FA_UNIX}, [K_UNIXD] = {"unixd", TY_DGRAM, FA_UNIX},
};

static int is_stream(enum kind k)
{
    return kinds[k].type == TY_STREAM;
}
static int is_udp(enum kind k)
{
    return k == K_UDP4 || k == K_UDP6;
}
static int is_inet(enum kind k)
{
    return kinds[k].family != FA_UNIX;
}
static int is_v6(enum kind k)
{
    return kinds[k].family == FA_INET6;
}

enum call { C_SEND, C_SENDTO, C_SENDMSG, C_SENDMMSG, C_COUNT };
static const char *const call_names[C_COUNT] = {"send", "sendto", "sendmsg", "sendmmsg"};
#define ALL_CALLS ((1u << C_COUNT) - 1)

/* SPEC 5's table: the two flags the scripts use, in each style's numbers. */
enum style { S_LINUX, S_FREEBSD };
static const struct style_info {
    const char *name;
    unsigned dontwait, nosignal;
} styles[] = {
    [S_LINUX] = {"linux", 0x40, 0x4000},
    [S_FREEBSD] = {"freebsd", 0x80, 0x20000},
};

static const struct {
    const char *name;
    int value;
} errors[] = {
    {"EAGAIN", EAGAIN},         {"EINTR", EINTR},       {"ENOBUFS", ENOBUFS},
    {"ECONNRESET", ECONNRESET}, {"EPIPE", EPIPE},       {"EHOSTUNREACH", EHOSTUNREACH},
    {"ETIMEDOUT", ETIMEDOUT},   {"EMSGSIZE", EMSGSIZE},
};
#define N_ERRORS  (sizeof errors / sizeof errors[0])
#define ERR_EPIPE 4 /* its index */

/* ---- a case ----------------------------------------------------------------- */

enum action { A_ERROR, A_SHORT, A_SHORT_PCT, A_DROP, A_BATCH };

/* peer= values; the ports are the case's, known only when it runs. */
enum peer_kind {
    P_NONE,
    P_V4,
    P_V4_PORT,
    P_V4_PORT2,
    P_V4_OTHER,
    P_V6,
    P_V6_PORT,
    P_V6_PORT2,
    P_V6_OTHER,
    P_UNIX
};
enum port_kind { PORT_NONE, PORT_A, PORT_B, PORT_OTHER };
#define OTHER_PORT  9     /* discard: never one of ours */
#define UNIX_PORT_A 40000 /* the ports a socketpair's rules name */

struct rule {
    unsigned calls; /* bit per enum call */
    int star;
    enum action act;
    int err;       /* index in errors[] */
    unsigned n;    /* short=N, short=P%, batch=K */
    int has_when;  /* when=... */
    int when_form; /* 0 N, 1 N..M, 2 N.., 3 N+S, 4 N..M+S */
    uint64_t first, last, step;
    int p;          /* -1 none, 0 p=0, 1 p=1 */
    int fd;         /* -1 none */
    unsigned types; /* 0 none */
    unsigned families;
    enum peer_kind peer;
    enum port_kind port;
    int after;       /* -1 none */
    int after_k;     /* written as 1k (1024) */
    int action_last; /* the action after the conditions */
    const char *bad; /* a refused rule's own text (the others are built) */
};

struct call_spec {
    enum call call;
    unsigned flags; /* in the case's style */
    int nosignal;   /* flags carry NOSIGNAL */
    int dst;        /* 0 none, 1 receiver A, 2 receiver B */
    unsigned n;     /* messages (1 unless sendmmsg) */
    unsigned len[MAX_MSGS];
};

struct dcase {
    int id;
    enum kind kind;
    enum style style;
    int nosigpipe;
    int runtime; /* rules given with sendshim_set_faults, not SENDSHIM_FAULTS */
    unsigned n_rules;
    struct rule rules[MAX_RULES];
    int bad_rule; /* 0, or the 1-based number of the rule the library must refuse */
    unsigned n_calls;
    struct call_spec calls[MAX_CALLS];
    int port_a, port_b; /* when it runs */
};

/* ---- generating ------------------------------------------------------------ */

static unsigned random_subset(unsigned n_bits, unsigned must)
{
    unsigned s = 0;
    while (!s)
        s = (unsigned)rnd() & ((1u << n_bits) - 1);
    return s | must;
}

static void gen_when(struct rule *r)
{
    r->has_when = 1;
    r->when_form = (int)range(0, 4);
    r->first = range(1, 14);
    r->last = r->first;
    r->step = 1;
    switch (r->when_form) {
    case 0:
        break;
    case 1:
        r->last = r->first + range(0, 12);
        break;
    case 2:
        r->last = NO_LAST;
        break;
    case 3:
        r->last = NO_LAST;
        r->step = range(1, 5);
        break;
    default:
        r->last = r->first + range(0, 20);
        r->step = range(1, 4);
        break;
    }
}

/* What the library refuses at load: keep the generated rules valid (the
 * refused ones have their own cases). */
static void make_valid(struct rule *r, enum kind k)
{
    if ((r->act == A_SHORT || r->act == A_SHORT_PCT) && r->types && !(r->types & TY_STREAM))
        r->types |= TY_STREAM;
    if ((r->act == A_SHORT || r->act == A_SHORT_PCT) && r->families &&
        !(r->families & (FA_UNIX | FA_INET | FA_INET6)))
        r->families |= kinds[k].family;
    if (r->act == A_DROP && r->types && !(r->types & (TY_DGRAM | TY_RAW)))
        r->types |= TY_DGRAM;
}

static void gen_rule(struct rule *r, enum kind k)
{
    memset(r, 0, sizeof *r);
    r->p = r->fd = r->after = -1;
    /* Calls: '*', or a list. */
    if (chance(30)) {
        r->star = 1;
        r->calls = ALL_CALLS;
    } else {
        r->calls = random_subset(C_COUNT, 0);
    }
    /* The action: any of them on any kind; one that cannot act on this
     * socket (short= on a datagram, drop on a stream) still counts its calls
     * and lets a later rule fire. */
    unsigned a = range(0, 99);
    if (a < 40) {
        r->act = A_ERROR;
        r->err = chance(20) ? ERR_EPIPE : (int)range(0, N_ERRORS - 1); /* EPIPE and its SIGPIPE, often */
    } else if (a < 60) {
        r->act = A_SHORT;
        r->n = chance(50) ? range(1, 8) : range(9, 200);
    } else if (a < 72) {
        r->act = A_SHORT_PCT;
        r->n = range(1, 99);
    } else if (a < 87) {
        r->act = A_DROP;
    } else {
        r->act = A_BATCH; /* a rule of sendmmsg alone */
        r->star = 0;
        r->calls = 1u << C_SENDMMSG;
        r->n = range(1, 4);
    }
    if (chance(55))
        gen_when(r);
    if (chance(8))
        r->p = chance(75);
    if (chance(15))
        r->fd = chance(70) ? FD_SENDER : (int)range(4, 6);
    /* type= and family=, mostly naming the socket's own kind (both at once
     * on TCP and unix datagrams are what tells a swapped type and family). */
    if (chance(30))
        r->types = random_subset(4, chance(65) ? kinds[k].type : 0);
    if (chance(30))
        r->families = random_subset(5, chance(65) ? kinds[k].family : 0);
    if (chance(12)) {
        static const enum peer_kind v4[] = {P_V4, P_V4_PORT, P_V4_PORT2, P_V4_OTHER, P_V6, P_UNIX};
        static const enum peer_kind v6[] = {P_V6, P_V6_PORT, P_V6_PORT2, P_V6_OTHER, P_V4, P_UNIX};
        static const enum peer_kind ux[] = {P_UNIX, P_V4, P_V6_PORT};
        r->peer = is_inet(k) ? (is_v6(k) ? v6 : v4)[range(0, 5)] : ux[range(0, 2)];
    }
    int peer_has_port =
        r->peer == P_V4_PORT || r->peer == P_V4_PORT2 || r->peer == P_V6_PORT || r->peer == P_V6_PORT2;
    if (chance(10) && !peer_has_port && r->peer != P_UNIX)
        r->port = (enum port_kind)range(PORT_A, PORT_OTHER);
    if (chance(15)) {
        /* 0 (anything sent), the edge right after the first calls, a later
         * one, 1k (1024). */
        unsigned w = range(0, 9);
        r->after_k = w == 9;
        r->after = w < 3 ? 0 : w < 6 ? (int)range(1, 20) : w < 9 ? (int)range(21, 600) : 1;
    }
    r->action_last = chance(30);
    make_valid(r, k);
}

static void gen_calls(struct dcase *c)
{
    c->n_calls = range(MIN_CALLS, MAX_CALLS);
    const struct style_info *st = &styles[c->style];
    for (unsigned i = 0; i < c->n_calls; i++) {
        struct call_spec *s = &c->calls[i];
        memset(s, 0, sizeof *s);
        s->call = (enum call)range(0, C_COUNT - 1);
        unsigned f = range(0, 3);
        s->flags = ((f & 1) ? st->dontwait : 0) | ((f & 2) ? st->nosignal : 0);
        s->nosignal = (f & 2) != 0;
        if (is_udp(c->kind) && s->call != C_SEND) {
            unsigned d = range(0, 99);
            s->dst = d < 55 ? 0 : d < 80 ? 1 : 2;
        }
        s->n = s->call == C_SENDMMSG ? range(1, MAX_MSGS) : 1;
        for (unsigned m = 0; m < s->n; m++)
            s->len[m] = chance(30) ? range(1, 8) : range(9, MAX_LEN);
    }
}

static void gen_case(struct dcase *c, int id, enum kind k)
{
    memset(c, 0, sizeof *c);
    c->id = id;
    c->kind = k;
    c->style = chance(30) ? S_FREEBSD : S_LINUX;
    c->nosigpipe = chance(15);
    c->n_rules = range(1, MAX_RULES);
    for (unsigned i = 0; i < c->n_rules; i++)
        gen_rule(&c->rules[i], k);
    /* Often a first rule naming both the socket's type and family: on TCP
     * and unix datagram sockets, where SOCK_STREAM/SOCK_DGRAM and
     * AF_UNIX/AF_INET coincide numerically the other way round, this is what
     * tells a swapped type and family. */
    if (chance(k == K_TCP4 || k == K_UNIXD ? 35 : 20)) {
        struct rule *r = &c->rules[0];
        r->types = kinds[k].type;
        r->families = kinds[k].family;
        r->peer = P_NONE;
        r->port = PORT_NONE;
        if (r->act == A_DROP && is_stream(k)) {
            r->act = A_SHORT;
            r->n = range(1, 8);
        }
        if ((r->act == A_SHORT || r->act == A_SHORT_PCT) && !is_stream(k))
            r->act = A_DROP;
    }
    /* Often two rules with the same calls and conditions (each its own
     * schedule still), which the library may count together. */
    if (c->n_rules > 1 && chance(30)) {
        const struct rule *from = &c->rules[0];
        struct rule *to = &c->rules[range(1, c->n_rules - 1)];
        if (to->act != A_BATCH || from->calls == to->calls) {
            to->star = from->star;
            to->calls = from->calls;
            to->fd = from->fd;
            to->types = from->types;
            to->families = from->families;
            to->peer = from->peer;
            to->port = from->port;
            to->after = from->after;
            to->after_k = from->after_k;
            make_valid(to, k);
        }
    }
    c->runtime = chance(20);
    gen_calls(c);
}

/* ---- rule text -------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t cap, n;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (w > 0)
        b->n = b->n + (size_t)w < b->cap ? b->n + (size_t)w : b->cap - 1;
}

static void put_action(struct sbuf *b, const struct rule *r)
{
    switch (r->act) {
    case A_ERROR:
        sb_printf(b, ":error=%s", errors[r->err].name);
        break;
    case A_SHORT:
        sb_printf(b, ":short=%u", r->n);
        break;
    case A_SHORT_PCT:
        sb_printf(b, ":short=%u%%", r->n);
        break;
    case A_DROP:
        sb_printf(b, ":drop");
        break;
    case A_BATCH:
        sb_printf(b, ":batch=%u", r->n);
        break;
    }
}

static void put_list(struct sbuf *b, const char *field, unsigned bits, const char *const *names, unsigned n)
{
    sb_printf(b, ":%s=", field);
    const char *sep = "";
    for (unsigned i = 0; i < n; i++)
        if (bits & (1u << i)) {
            sb_printf(b, "%s%s", sep, names[i]);
            sep = ",";
        }
}

static void rule_text(const struct rule *r, const struct dcase *c, char *out, size_t cap)
{
    if (r->bad) {
        snprintf(out, cap, "%s", r->bad);
        return;
    }
    struct sbuf b = {out, cap, 0};
    out[0] = '\0';
    if (r->star) {
        sb_printf(&b, "*");
    } else {
        const char *sep = "";
        for (unsigned i = 0; i < C_COUNT; i++)
            if (r->calls & (1u << i)) {
                sb_printf(&b, "%s%s", sep, call_names[i]);
                sep = ",";
            }
    }
    if (!r->action_last)
        put_action(&b, r);
    if (r->has_when) {
        static const char *const forms[] = {"%" PRIu64, "%" PRIu64 "..%" PRIu64, "%" PRIu64 "..",
                                            "%" PRIu64 "+%" PRIu64, "%" PRIu64 "..%" PRIu64 "+%" PRIu64};
        sb_printf(&b, ":when=");
        switch (r->when_form) {
        case 0:
        case 2:
            sb_printf(&b, forms[r->when_form], r->first);
            break;
        case 1:
            sb_printf(&b, forms[1], r->first, r->last);
            break;
        case 3:
            sb_printf(&b, forms[3], r->first, r->step);
            break;
        default:
            sb_printf(&b, forms[4], r->first, r->last, r->step);
            break;
        }
    }
    if (r->p >= 0)
        sb_printf(&b, ":p=%d", r->p);
    if (r->fd >= 0)
        sb_printf(&b, ":fd=%d", r->fd);
    if (r->types)
        put_list(&b, "type", r->types, type_names, 4);
    if (r->families)
        put_list(&b, "family", r->families, family_names, 5);
    switch (r->peer) {
    case P_NONE:
        break;
    case P_V4:
        sb_printf(&b, ":peer=127.0.0.1");
        break;
    case P_V4_PORT:
        sb_printf(&b, ":peer=127.0.0.1:%d", c->port_a);
        break;
    case P_V4_PORT2:
        sb_printf(&b, ":peer=127.0.0.1:%d", c->port_b);
        break;
    case P_V4_OTHER:
        sb_printf(&b, ":peer=127.0.0.2");
        break;
    case P_V6:
        sb_printf(&b, ":peer=[::1]");
        break;
    case P_V6_PORT:
        sb_printf(&b, ":peer=[::1]:%d", c->port_a);
        break;
    case P_V6_PORT2:
        sb_printf(&b, ":peer=[::1]:%d", c->port_b);
        break;
    case P_V6_OTHER:
        sb_printf(&b, ":peer=[::2]");
        break;
    case P_UNIX:
        sb_printf(&b, ":peer=/tmp/sendshim-differential.sock");
        break;
    }
    if (r->port != PORT_NONE)
        sb_printf(&b, ":port=%d", r->port == PORT_A ? c->port_a : r->port == PORT_B ? c->port_b : OTHER_PORT);
    if (r->after >= 0)
        sb_printf(&b, r->after_k ? ":after=%dk" : ":after=%d", r->after);
    if (r->action_last)
        put_action(&b, r);
}

/* SENDSHIM_FAULTS=RULES, or DIFF_RULES=RULES for diffprog to give them to
 * sendshim_set_faults. */
static void rules_env(const struct dcase *c, char *out, size_t cap)
{
    struct sbuf b = {out, cap, 0};
    sb_printf(&b, c->runtime ? "DIFF_RULES=" : "SENDSHIM_FAULTS=");
    for (unsigned i = 0; i < c->n_rules; i++) {
        char t[TEXT_MAX];
        rule_text(&c->rules[i], c, t, sizeof t);
        sb_printf(&b, "%s%s", i ? ";" : "", t);
    }
}

/* ---- the model -------------------------------------------------------------- */

struct outcome {
    long ret;
    int err;
    int sigpipe;
    unsigned n_msglen;
    unsigned msglen[MAX_MSGS];
    char got[MAX_MSGS * (MAX_LEN + 3) + 1]; /* what the peer receives, diffprog's notation */
    int rule;                               /* the model's: the rule that fires (0-based), or -1 */
    uint64_t rule_count;                    /* and its counter */
};

struct expected {
    struct outcome call[MAX_CALLS];
    unsigned n_lines;
    struct {
        unsigned call;
        char head[2 * TEXT_MAX]; /* "fault rule K (TEXT): NAME(fd=3, " */
        uint64_t bytes;
        char result[32]; /* "-1 EAGAIN" or "5" */
    } line[MAX_CALLS];
};

static char letter(unsigned call, unsigned msg, unsigned j)
{
    return (char)('a' + (5 * call + 11 * msg + j) % 26);
}

/* The destination of a call: 0 none (a socketpair), 1 receiver A (the
 * connected peer), 2 receiver B. */
static int destination(const struct dcase *c, const struct call_spec *s)
{
    if (!is_inet(c->kind))
        return 0;
    return s->dst == 2 ? 2 : 1;
}

static int peer_matches(const struct rule *r, const struct dcase *c, int dest)
{
    if (r->peer == P_NONE)
        return 1;
    if (!dest)
        return 0; /* unnamed socketpair: no address to match */
    int v6 = is_v6(c->kind);
    switch (r->peer) {
    case P_V4:
        return !v6;
    case P_V4_PORT:
        return !v6 && dest == 1;
    case P_V4_PORT2:
        return !v6 && dest == 2;
    case P_V6:
        return v6;
    case P_V6_PORT:
        return v6 && dest == 1;
    case P_V6_PORT2:
        return v6 && dest == 2;
    default:
        return 0; /* 127.0.0.2, ::2, a unix path */
    }
}

static int port_matches(const struct rule *r, int dest)
{
    switch (r->port) {
    case PORT_NONE:
        return 1;
    case PORT_A:
        return dest == 1;
    case PORT_B:
        return dest == 2;
    default:
        return 0;
    }
}

/* Calls and fd/type/family/peer/port/after: what makes a rule count a call. */
static int rule_matches(const struct rule *r, const struct dcase *c, const struct call_spec *s, uint64_t sent)
{
    const struct kind_info *k = &kinds[c->kind];
    int dest = destination(c, s);
    uint64_t after = r->after_k ? (uint64_t)r->after * 1024 : (uint64_t)r->after;
    return (r->calls & (1u << s->call)) && (r->fd < 0 || r->fd == FD_SENDER) &&
           (!r->types || (r->types & k->type)) && (!r->families || (r->families & k->family)) &&
           peer_matches(r, c, dest) && port_matches(r, dest) && (r->after < 0 || sent > after);
}

static int when_holds(const struct rule *r, uint64_t count)
{
    if (!r->has_when)
        return 1;
    return count >= r->first && count <= r->last && (count - r->first) % r->step == 0;
}

static uint64_t short_keeps(const struct rule *r, uint64_t bytes)
{
    if (r->act == A_SHORT)
        return r->n;
    uint64_t k = bytes * r->n / 100;
    return k ? k : 1;
}

/* Whether the action changes this call (README: else the rule does not fire). */
static int acts(const struct rule *r, const struct dcase *c, const struct call_spec *s, uint64_t bytes)
{
    switch (r->act) {
    case A_ERROR:
        return 1;
    case A_SHORT:
    case A_SHORT_PCT:
        return is_stream(c->kind) && short_keeps(r, bytes) < bytes;
    case A_DROP:
        return !is_stream(c->kind);
    default:
        return s->call == C_SENDMMSG && s->n > r->n;
    }
}

static void got_message(struct outcome *o, const struct dcase *c, const struct call_spec *s, unsigned call,
                        unsigned m, unsigned len)
{
    size_t n = strlen(o->got);
    if (!is_stream(c->kind)) {
        n += (size_t)sprintf(o->got + n, "%s%c:", n ? "|" : "", s->dst == 2 ? 'B' : 'A');
    }
    for (unsigned j = 0; j < len; j++)
        o->got[n++] = letter(call, m, j);
    o->got[n] = '\0';
}

/* What the model saw fire over a test's cases, so that a generator that
 * stopped producing some action or condition cannot pass unnoticed. */
static struct {
    unsigned fired[A_BATCH + 1];
    unsigned fired_when;        /* by a rule with when= */
    unsigned fired_type_family; /* by a rule with type= and family= */
    unsigned fired_after;
    unsigned fired_peer_port; /* with peer= or port= */
    unsigned passed_over;     /* calls where a due rule could not act and a later one fired */
    unsigned sigpipes;
} seen;

static void model(const struct dcase *c, struct expected *e)
{
    uint64_t count[MAX_RULES] = {0};
    uint64_t sent = 0; /* the descriptor's bytes, for after= */
    memset(e, 0, sizeof *e);
    for (unsigned i = 0; i < c->n_calls; i++) {
        const struct call_spec *s = &c->calls[i];
        struct outcome *o = &e->call[i];
        uint64_t bytes = 0;
        for (unsigned m = 0; m < s->n; m++)
            bytes += s->len[m];
        /* Every rule counts the call it matches, fired or not. */
        int fired = -1, due = 0;
        for (unsigned r = 0; r < c->n_rules; r++) {
            const struct rule *ru = &c->rules[r];
            if (!rule_matches(ru, c, s, sent))
                continue;
            count[r]++;
            if (fired >= 0 || !when_holds(ru, count[r]) || ru->p == 0)
                continue;
            if (acts(ru, c, s, bytes))
                fired = (int)r;
            else
                due = 1;
        }
        /* What is really sent: messages [0, whole) and `cut` bytes of the first. */
        unsigned whole = s->n, cut = 0;
        int drop = 0;
        o->ret = s->call == C_SENDMMSG ? (long)s->n : (long)bytes;
        const struct rule *f = fired >= 0 ? &c->rules[fired] : NULL;
        o->rule = fired;
        o->rule_count = fired >= 0 ? count[fired] : 0;
        if (f && f->act == A_ERROR) {
            o->ret = -1;
            o->err = errors[f->err].value;
            o->sigpipe = o->err == EPIPE && is_stream(c->kind) && !s->nosignal && !c->nosigpipe;
            whole = 0;
        } else if (f && f->act == A_DROP) {
            drop = 1;
        } else if (f && f->act == A_BATCH) {
            whole = f->n;
            o->ret = f->n;
        } else if (f) { /* short= */
            uint64_t keep = short_keeps(f, bytes), sum = 0;
            if (s->call != C_SENDMMSG) {
                whole = 0;
                cut = (unsigned)keep;
                o->ret = (long)keep;
            } else {
                whole = 0;
                while (whole < s->n && sum + s->len[whole] <= keep)
                    sum += s->len[whole++];
                if (!whole)
                    cut = (unsigned)keep;
                o->ret = whole ? whole : 1;
            }
        }
        if (s->call == C_SENDMMSG) {
            o->n_msglen = s->n;
            for (unsigned m = 0; m < s->n; m++)
                o->msglen[m] = o->ret >= 0 && m < (unsigned)o->ret ? s->len[m] : UNSET_MSG_LEN;
            if (cut)
                o->msglen[0] = cut;
        }
        if (!drop) {
            for (unsigned m = 0; m < whole; m++)
                got_message(o, c, s, i, m, s->len[m]);
            if (cut)
                got_message(o, c, s, i, 0, cut);
        }
        /* after= counts what the program was told was sent. */
        if (o->ret > 0 && s->call != C_SENDMMSG)
            sent += (uint64_t)o->ret;
        for (long m = 0; s->call == C_SENDMMSG && m < o->ret; m++)
            sent += o->msglen[m];
        if (f) {
            seen.fired[f->act]++;
            seen.fired_when += f->has_when;
            seen.fired_type_family += f->types && f->families;
            seen.fired_after += f->after >= 0;
            seen.fired_peer_port += f->peer != P_NONE || f->port != PORT_NONE;
            seen.passed_over += due;
            seen.sigpipes += o->sigpipe;
            char text[TEXT_MAX];
            rule_text(f, c, text, sizeof text);
            unsigned l = e->n_lines++;
            e->line[l].call = i;
            snprintf(e->line[l].head, sizeof e->line[l].head, "fault rule %d (%s): %s(fd=%d, ", fired + 1,
                     text, call_names[s->call], FD_SENDER);
            e->line[l].bytes = bytes;
            if (o->ret < 0)
                snprintf(e->line[l].result, sizeof e->line[l].result, "-1 %s", errors[f->err].name);
            else
                snprintf(e->line[l].result, sizeof e->line[l].result, "%ld", o->ret);
        }
    }
}

/* ---- running a case and comparing ------------------------------------------ */

static void call_text(const struct call_spec *s, char *out, size_t cap)
{
    struct sbuf b = {out, cap, 0};
    out[0] = '\0';
    sb_printf(&b, "%s,%x,%d,", call_names[s->call], s->flags, s->dst);
    for (unsigned m = 0; m < s->n; m++)
        sb_printf(&b, "%s%u", m ? "+" : "", s->len[m]);
}

/* One free port of the kind's protocol on its loopback address, bound once
 * and released (diffprog's exit 77 covers a race). A socketpair has no
 * port: its rules name an arbitrary one, which cannot match. */
static int free_port(enum kind k, int second)
{
    if (!is_inet(k))
        return UNIX_PORT_A + second;
    struct sockaddr_storage ss;
    socklen_t len = is_v6(k) ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memset(&ss, 0, sizeof ss);
    if (is_v6(k)) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
    } else {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    int s = socket(ss.ss_family, is_stream(k) ? SOCK_STREAM : SOCK_DGRAM, 0);
    cr_assert_geq(s, 0, "socket: %s", strerror(errno));
    cr_assert_eq(bind(s, (struct sockaddr *)&ss, len), 0, "bind: %s", strerror(errno));
    cr_assert_eq(getsockname(s, (struct sockaddr *)&ss, &len), 0);
    int port =
        ntohs(is_v6(k) ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    close(s);
    return port;
}

/* The case as a shell command line. */
static void describe(const struct dcase *c, struct sbuf *b)
{
    char env[MAX_RULES * TEXT_MAX + 32];
    rules_env(c, env, sizeof env);
    sb_printf(b, "case %d: kind=%s style=%s nosigpipe=%d ports %d/%d, rules %s\n  rules: ", c->id,
              kinds[c->kind].name, styles[c->style].name, c->nosigpipe, c->port_a, c->port_b,
              c->runtime ? "given at run time (sendshim_set_faults)" : "from the environment");
    for (unsigned i = 0; i < c->n_rules; i++) {
        char t[TEXT_MAX];
        rule_text(&c->rules[i], c, t, sizeof t);
        sb_printf(b, "%s[%u] %s", i ? "  " : "", i + 1, t);
    }
    sb_printf(b,
              "\n  reproduce: %s '%s' SENDSHIM_FLAGS=%s%s LD_PRELOAD=build/libsendshim.so "
              "build/targets/diffprog %s %d %d",
              "env", env, styles[c->style].name, c->nosigpipe ? " SENDSHIM_NOSIGPIPE=1" : "",
              kinds[c->kind].name, c->port_a, c->port_b);
    for (unsigned i = 0; i < c->n_calls; i++) {
        char t[64];
        call_text(&c->calls[i], t, sizeof t);
        sb_printf(b, " %s", t);
    }
    sb_printf(b, "\n");
}

/* Run the case's script; preload 0 runs it without the library (and without
 * configuration). Returns 0, or -1 when it could not run. */
static int run_case(struct dcase *c, int preload, struct run_result *r)
{
    for (int tries = 0; tries < PORT_TRIES; tries++) {
        c->port_a = free_port(c->kind, 0);
        do
            c->port_b = free_port(c->kind, 1);
        while (c->port_b == c->port_a);
        static char env_rules[MAX_RULES * TEXT_MAX + 32];
        char env_flags[64];
        rules_env(c, env_rules, sizeof env_rules);
        snprintf(env_flags, sizeof env_flags, "SENDSHIM_FLAGS=%s", styles[c->style].name);
        const char *env[] = {env_rules, env_flags, c->nosigpipe ? "SENDSHIM_NOSIGPIPE=1" : NULL, NULL};
        static char argbuf[MAX_CALLS][64];
        char pa[16], pb[16];
        snprintf(pa, sizeof pa, "%d", c->port_a);
        snprintf(pb, sizeof pb, "%d", c->port_b);
        const char *argv[MAX_CALLS + 6] = {target_path("diffprog"), kinds[c->kind].name, pa, pb};
        for (unsigned i = 0; i < c->n_calls; i++) {
            call_text(&c->calls[i], argbuf[i], sizeof argbuf[i]);
            argv[4 + i] = argbuf[i];
        }
        argv[4 + c->n_calls] = NULL;
        if (run(r, argv, preload ? env : NULL, preload, NULL, T))
            return -1;
        if (!(r->exited && r->status == EXIT_PORT))
            return 0;
        run_free(r);
    }
    return -1;
}

/* The fault lines of stderr, "sendshim[PID]: " removed, in order. */
static unsigned fault_lines(char *err, char **lines, unsigned max)
{
    unsigned n = 0;
    for (char *p = strtok(err, "\n"); p; p = strtok(NULL, "\n")) {
        char *body = strstr(p, "]: ");
        if (!strncmp(p, "sendshim[", 9) && body && !strncmp(body + 3, "fault rule ", 11) && n < max)
            lines[n++] = body + 3;
    }
    return n;
}

/* Whether a fault line says what the model expects: its head, the request's
 * byte count as the last figure before ") -> ", and the result right after. */
static int line_ok(const char *got, const char *head, uint64_t bytes, const char *result)
{
    size_t hn = strlen(head), rn = strlen(result);
    if (strncmp(got, head, hn))
        return 0;
    const char *arrow = strstr(got + hn, ") -> ");
    if (!arrow)
        return 0;
    char want[48];
    int wn = snprintf(want, sizeof want, "%" PRIu64 " %s", bytes, bytes == 1 ? "byte" : "bytes");
    if (arrow - (got + hn) < wn || strncmp(arrow - wn, want, (size_t)wn) ||
        (arrow - wn > got + hn && arrow[-wn - 1] != ' '))
        return 0;
    const char *res = arrow + 5;
    return !strncmp(res, result, rn) && (res[rn] == '\0' || res[rn] == ' ');
}

static const char *errname(int e)
{
    for (size_t i = 0; i < N_ERRORS; i++)
        if (errors[i].value == e)
            return errors[i].name;
    return e ? strerror(e) : "0";
}

static void outcome_text(const struct outcome *o, int mmsg, int model, struct sbuf *b)
{
    if (model)
        sb_printf(b, o->rule >= 0 ? "(rule %d fires, its count %" PRIu64 ") " : "(no rule fires) ",
                  o->rule + 1, o->rule_count);
    sb_printf(b, "ret=%ld errno=%s sigpipes=%d", o->ret, errname(o->err), o->sigpipe);
    if (mmsg) {
        sb_printf(b, " msg_len=");
        for (unsigned m = 0; m < o->n_msglen; m++)
            sb_printf(b, "%s%u", m ? "," : "", o->msglen[m]);
    }
    sb_printf(b, " peer got '%s'", o->got[0] ? o->got : "");
}

/* Parse diffprog's output into outcomes; the `end` line goes to *tail.
 * Returns the number of call lines, or -1 when the output is malformed. */
static int parse_output(char *out, struct outcome *o, unsigned max, char **tail)
{
    int n = 0;
    *tail = NULL;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "fd ", 3)) {
            if (atoi(line + 3) != FD_SENDER)
                return -1;
            continue;
        }
        if (!strncmp(line, "end ", 4)) {
            *tail = strcmp(line + 4, "-") ? line + 4 : line + 4 + 1;
            continue;
        }
        unsigned i;
        int used = 0;
        struct outcome tmp;
        memset(&tmp, 0, sizeof tmp);
        char lens[128], got[sizeof tmp.got];
        if (sscanf(line, "call %u %ld %d %d %127s %n", &i, &tmp.ret, &tmp.err, &tmp.sigpipe, lens, &used) !=
                5 ||
            i >= max || (unsigned)n != i)
            return -1;
        snprintf(got, sizeof got, "%s", line + used);
        snprintf(tmp.got, sizeof tmp.got, "%s", strcmp(got, "-") ? got : "");
        if (strcmp(lens, "-"))
            for (char *p = lens; *p && tmp.n_msglen < MAX_MSGS;) {
                tmp.msglen[tmp.n_msglen++] = (unsigned)strtoul(p, &p, 10);
                if (*p == ',')
                    p++;
            }
        o[n++] = tmp;
    }
    return n;
}

/* Stream: everything the peer got, in order. Datagrams: the same, as a list. */
static void joined(const struct outcome *o, unsigned n, const char *tail, int stream, struct sbuf *b)
{
    b->n = 0;
    b->p[0] = '\0';
    for (unsigned i = 0; i < n; i++)
        if (o[i].got[0])
            sb_printf(b, "%s%s", !stream && b->n ? "|" : "", o[i].got);
    if (tail && tail[0])
        sb_printf(b, "%s%s", !stream && b->n ? "|" : "", tail);
}

/* Compare one run with the model. Returns 1 when they agree; else 0 with the
 * first difference in *why. */
static int compare(const struct dcase *c, struct run_result *r, const struct expected *e, int with_lines,
                   struct sbuf *why)
{
    static struct outcome got[MAX_CALLS];
    char *tail;
    if (r->timed_out || !r->exited || r->status != 0) {
        sb_printf(why, "  diffprog: status %d%s; stderr:\n%.2000s\n", r->status,
                  r->timed_out ? " (timed out)" : "", r->err);
        return 0;
    }
    int n = parse_output(r->out, got, MAX_CALLS, &tail);
    if (n != (int)c->n_calls || !tail) {
        sb_printf(why, "  diffprog's output is not one line per call and an end line (%d calls read)\n", n);
        return 0;
    }
    /* Return value, errno, SIGPIPE, msg_len: call by call. */
    for (unsigned i = 0; i < c->n_calls; i++) {
        const struct outcome *x = &e->call[i], *g = &got[i];
        int same = x->ret == g->ret && x->err == g->err && x->sigpipe == g->sigpipe &&
                   x->n_msglen == g->n_msglen &&
                   !memcmp(x->msglen, g->msglen, sizeof x->msglen[0] * x->n_msglen);
        if (!same) {
            char t[64];
            call_text(&c->calls[i], t, sizeof t);
            sb_printf(why, "  call %u (%s): expected ", i, t);
            outcome_text(x, c->calls[i].call == C_SENDMMSG, 1, why);
            sb_printf(why, "\n  %*s got      ", (int)strlen(t) + 10, "");
            outcome_text(g, c->calls[i].call == C_SENDMMSG, 0, why);
            sb_printf(why, "\n");
            return 0;
        }
    }
    /* What the peer received: all of it, in order (when the kernel delivers
     * a piece after the call that sent it, it counts all the same). */
    static char want_buf[OUT_MAX], got_buf[OUT_MAX];
    struct sbuf want_all = {want_buf, sizeof want_buf, 0}, got_all = {got_buf, sizeof got_buf, 0};
    joined(e->call, c->n_calls, NULL, is_stream(c->kind), &want_all);
    joined(got, c->n_calls, tail, is_stream(c->kind), &got_all);
    if (strcmp(want_buf, got_buf)) {
        for (unsigned i = 0; i < c->n_calls; i++)
            if (strcmp(e->call[i].got, got[i].got)) {
                char t[64];
                call_text(&c->calls[i], t, sizeof t);
                sb_printf(why, "  call %u (%s): the peer should get '%s', got '%s'\n", i, t, e->call[i].got,
                          got[i].got);
                break;
            }
        size_t d = 0;
        while (want_buf[d] && want_buf[d] == got_buf[d])
            d++;
        size_t from = d > 40 ? d - 40 : 0;
        sb_printf(why,
                  "  everything the peer got differs from character %zu:\n    expected ...'%.100s'\n"
                  "    got      ...'%.100s'\n",
                  d, want_buf + from, got_buf + from);
        return 0;
    }
    if (!with_lines)
        return 1;
    /* The fault log: one line per fired rule, in call order. */
    char *lines[MAX_CALLS + 1];
    unsigned nl = fault_lines(r->err, lines, MAX_CALLS + 1);
    for (unsigned l = 0; l < e->n_lines || l < nl; l++) {
        if (l < e->n_lines && l < nl &&
            line_ok(lines[l], e->line[l].head, e->line[l].bytes, e->line[l].result))
            continue;
        if (l < e->n_lines) {
            char t[64];
            call_text(&c->calls[e->line[l].call], t, sizeof t);
            sb_printf(why, "  fault line %u, call %u (%s): expected '%s... %" PRIu64 " bytes) -> %s'\n",
                      l + 1, e->line[l].call, t, e->line[l].head, e->line[l].bytes, e->line[l].result);
        } else {
            sb_printf(why, "  fault line %u: expected none\n", l + 1);
        }
        sb_printf(why, "  %*s got '%s'\n", 20, "", l < nl ? lines[l] : "(no line)");
        return 0;
    }
    return 1;
}

static int newlines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- the tests --------------------------------------------------------------- */

static char report_buf[1 << 16];

/* Run the kind's generated cases; the first linux-style one also without the
 * library against the model with no rules (the kernel as the model sees it). */
static void run_kind(enum kind k)
{
    rng_state = SEED ^ ((uint64_t)(k + 1) * 0x9e3779b97f4a7c15ull);
    memset(&seen, 0, sizeof seen);
    int failed = 0, shown = 0, baseline = 0;
    for (int i = 0; i < CASES_PER_KIND; i++) {
        static struct dcase c;
        static struct expected e;
        gen_case(&c, i, k);
        struct run_result r;
        if (!baseline && c.style == S_LINUX) {
            static struct dcase bare;
            bare = c;
            bare.n_rules = 0;
            bare.nosigpipe = 0;
            cr_assert_eq(run_case(&bare, 0, &r), 0, "could not run diffprog");
            model(&bare, &e);
            struct sbuf why = {report_buf, sizeof report_buf, 0};
            report_buf[0] = '\0';
            int ok = compare(&bare, &r, &e, 0, &why);
            if (!ok)
                describe(&bare, &why);
            cr_expect(ok, "without the library, the kernel is not what the model says:\n%s", report_buf);
            run_free(&r);
            baseline = 1;
        }
        cr_assert_eq(run_case(&c, 1, &r), 0, "could not run diffprog");
        model(&c, &e);
        struct sbuf why = {report_buf, sizeof report_buf, 0};
        report_buf[0] = '\0';
        if (!compare(&c, &r, &e, 1, &why)) {
            failed++;
            if (shown++ < SHOWN_FAILURES) {
                describe(&c, &why);
                cr_expect(0, "library and model differ:\n%s", report_buf);
            }
        }
        run_free(&r);
    }
    cr_expect_eq(failed, 0, "%s: %d of %d cases differ from the model", kinds[k].name, failed,
                 CASES_PER_KIND);
    cr_log_info("%s: faults error=%u short=%u short%%=%u drop=%u batch=%u; with when= %u, type=+family= %u, "
                "after= %u, peer=/port= %u; a due rule passed over %u; SIGPIPE %u",
                kinds[k].name, seen.fired[A_ERROR], seen.fired[A_SHORT], seen.fired[A_SHORT_PCT],
                seen.fired[A_DROP], seen.fired[A_BATCH], seen.fired_when, seen.fired_type_family,
                seen.fired_after, seen.fired_peer_port, seen.passed_over, seen.sigpipes);
    /* The cases exercise what they are for. */
    cr_expect(seen.fired[A_ERROR] && seen.fired[A_BATCH] && seen.fired_when && seen.fired_type_family &&
                  seen.fired_after && (seen.fired_peer_port || !is_inet(k)) && seen.passed_over,
              "%s: the generated cases no longer exercise every rule feature", kinds[k].name);
    cr_expect(is_stream(k) ? seen.fired[A_SHORT] && seen.fired[A_SHORT_PCT] && seen.sigpipes
                           : seen.fired[A_DROP],
              "%s: the generated cases no longer exercise the kind's actions", kinds[k].name);
}

TestSuite(differential, .timeout = 120);

Test(differential, tcp_over_127_0_0_1)
{
    run_kind(K_TCP4);
}

Test(differential, tcp_over_ipv6_loopback)
{
    run_kind(K_TCP6);
}

Test(differential, udp_over_127_0_0_1)
{
    run_kind(K_UDP4);
}

Test(differential, udp_over_ipv6_loopback)
{
    run_kind(K_UDP6);
}

Test(differential, unix_stream_socketpair)
{
    run_kind(K_UNIXS);
}

Test(differential, unix_datagram_socketpair)
{
    run_kind(K_UNIXD);
}

/* Rule sets with one rule the library must refuse: from the environment, at
 * load, exit status 2 and one line naming SENDSHIM_FAULTS and that rule's
 * number; given to sendshim_set_faults, -1 EINVAL and the same line naming
 * sendshim_set_faults (diffprog then exits 4). */
Test(differential, refused_rule_sets_stop_the_program)
{
    static const char *const bad[] = {
        "sendto:short=5:type=dgram",                   /* short= with no stream socket allowed */
        "send:short=10%:type=dgram,raw",               /* the same, as a percentage */
        "*:drop:type=stream",                          /* drop with no datagram socket allowed */
        "send,sendmmsg:batch=2",                       /* batch= on a call other than sendmmsg */
        "*:batch=2",                                   /* the same, through '*' */
        "send:short=0",                                /* the kernel never returns 0 for bytes */
        "sendmmsg:batch=0",                            /* nor 0 messages */
        "send:error=EAGAIN:when=0",                    /* counts start at 1 */
        "send:error=EAGAIN:when=5..3",                 /* an empty window */
        "send:error=EAGAIN:when=1+0",                  /* a step of 0 */
        "send:error=EAGAIN:p=2",                       /* not a probability */
        "send:error=EISDIR",                           /* not an error send can return */
        "send:error=EAGAIN:short=3",                   /* two actions that exclude each other */
        "send:error=EAGAIN:peer=127.0.0.1:80:port=80", /* the port twice */
        "send:error=EAGAIN:peer=/tmp/x.sock:port=80",  /* a port on a unix peer */
        "send:fd=3",                                   /* no action */
    };
    rng_state = SEED ^ 0xbadull;
    for (int i = 0; i < BAD_CASES; i++) {
        static struct dcase c;
        gen_case(&c, i, (enum kind)(i % K_COUNT));
        unsigned at = range(0, c.n_rules < MAX_RULES ? c.n_rules : MAX_RULES - 1);
        if (at == c.n_rules)
            c.n_rules++;
        memset(&c.rules[at], 0, sizeof c.rules[at]);
        c.rules[at].bad = bad[(unsigned)i % (sizeof bad / sizeof bad[0])];
        struct run_result r;
        cr_assert_eq(run_case(&c, 1, &r), 0, "could not run diffprog");
        char want[64];
        snprintf(want, sizeof want, "%s rule %u: ", c.runtime ? "sendshim_set_faults" : "SENDSHIM_FAULTS",
                 at + 1);
        const char *out = c.runtime ? "sendshim_set_faults -1 EINVAL\n" : "";
        struct sbuf why = {report_buf, sizeof report_buf, 0};
        report_buf[0] = '\0';
        describe(&c, &why);
        cr_expect(r.exited && r.status == (c.runtime ? 4 : 2),
                  "'%s' (rule %u) was not refused: status %d\n%s", c.rules[at].bad, at + 1, r.status,
                  report_buf);
        cr_expect(newlines(r.err) == 1 && strstr(r.err, want) && !strcmp(r.out, out),
                  "'%s' (rule %u): expected one line with '%s' and the output '%s', got:\n%s%s",
                  c.rules[at].bad, at + 1, want, out, r.err, r.out);
        run_free(&r);
    }
}
