/* fault_log.c - the line a fault writes (SPEC section 8, "fault rule N
 * (TEXT): CALL(fd=...) -> RESULT"), for the send family (fault_actions.c
 * calls it once the call returned) and for close and shutdown. The teardown
 * line lives here rather than beside its decision (fault_actions.c): it is
 * the same line with the same parts (duration, errno name), so both lines
 * are written in one place and stay alike. */

#include "fault_internal.h"
#include "faults.h"
#include "fmt.h"
#include "log.h"

/* "10ms", "1500us", "3s": the largest unit that divides exactly. */
static void buf_duration(struct ss_buf *b, uint64_t ns)
{
    static const struct {
        uint64_t ns;
        const char *unit;
    } units[] = {{SS_NS_PER_S, "s"}, {1000000, "ms"}, {1000, "us"}, {1, "ns"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ns % units[i].ns == 0 || units[i].ns == 1) {
            ss_buf_u64(b, ns / units[i].ns);
            ss_buf_str(b, units[i].unit);
            return;
        }
    }
}

static void buf_errno(struct ss_buf *b, int err)
{
    const char *name = ss_errno_name(err);
    if (name)
        ss_buf_str(b, name);
    else
        ss_buf_i64(b, err);
}

/* corrupt='s bit offsets: its own frame (512 bytes), entered only when
 * corrupt= fired, so that every other fault line keeps the small stack
 * that reliability/stack_taken_by_a_call_is_bounded measures. */
static __attribute__((noinline)) void log_corrupt(struct ss_buf *b, const struct ss_fault *f)
{
    uint64_t at[SS_CORRUPT_MAX];
    ss_faults_corrupt_positions(&f->d, at);
    ss_buf_str(b, " (corrupt: bits");
    for (unsigned i = 0; i < f->d.ncorrupt; i++) {
        ss_buf_char(b, i ? ',' : ' ');
        ss_buf_u64(b, at[i]);
    }
    ss_buf_str(b, " flipped)");
}

/* The network actions say what they did, after the result. */
static void log_net_action(struct ss_buf *b, const struct ss_fault *f)
{
    unsigned a = f->d.actions;
    if (a & SS_ACT_STALL) {
        ss_buf_str(b, " (stall ");
        buf_duration(b, f->d.stall_ns);
        ss_buf_str(b, (a & SS_ACT_RESET) ? " then reset)" : ")");
    } else if (a & SS_ACT_RESET) {
        ss_buf_str(b, " (reset: RST sent to the peer)");
    } else if (a & SS_ACT_DUP) {
        ss_buf_str(b, " (dup: sent twice)");
    }
    if (a & SS_ACT_RATE) {
        ss_buf_str(b, " (rate ");
        ss_buf_u64(b, f->d.rate_bps);
        ss_buf_str(b, " bytes/s)");
    }
    if (a & SS_ACT_CORRUPT)
        log_corrupt(b, f);
}

void ss_faults_log_fault(const struct ss_request *rq, const struct ss_fault *f, ssize_t ret, int err)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    int mmsg = rq->call == SS_CALL_SENDMMSG;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "fault rule ");
    ss_buf_u64(&b, (uint64_t)f->d.rule + 1);
    ss_buf_str(&b, " (");
    ss_buf_str(&b, f->text);
    ss_buf_str(&b, "): ");
    ss_buf_str(&b, ss_call_name(rq->call));
    ss_buf_str(&b, "(fd=");
    ss_buf_i64(&b, rq->fd);
    ss_buf_str(&b, ", ");
    if (mmsg) {
        ss_buf_u64(&b, f->vlen);
        ss_buf_str(&b, f->vlen == 1 ? " message, " : " messages, ");
    }
    ss_buf_u64(&b, f->bytes);
    ss_buf_str(&b, f->bytes == 1 ? " byte)" : " bytes)");
    if (f->d.actions & SS_ACT_DELAY) {
        ss_buf_str(&b, " delayed ");
        buf_duration(&b, f->d.delay_ns);
    }
    ss_buf_str(&b, " -> ");
    if (ret < 0) {
        ss_buf_str(&b, "-1 ");
        buf_errno(&b, err);
        if (f->sigpipe)
            ss_buf_str(&b, " (SIGPIPE)");
    } else if (f->d.actions & SS_ACT_DROP) {
        ss_buf_i64(&b, ret);
        ss_buf_str(&b, " (dropped)");
    } else if (mmsg && (f->d.actions & (SS_ACT_BATCH | SS_ACT_SHORT))) {
        ss_buf_i64(&b, ret);
        ss_buf_str(&b, " of ");
        ss_buf_u64(&b, f->vlen);
        ss_buf_str(&b, " messages");
        if (f->d.actions & SS_ACT_SHORT) {
            uint64_t sent = 0;
            for (ssize_t i = 0; i < ret; i++)
                sent += rq->vec[i].msg_len;
            ss_buf_str(&b, ", ");
            ss_buf_u64(&b, sent);
            ss_buf_str(&b, " of ");
            ss_buf_u64(&b, f->bytes);
            ss_buf_str(&b, " bytes");
        }
    } else if (f->d.actions & SS_ACT_SHORT) {
        ss_buf_i64(&b, ret);
        ss_buf_str(&b, " of ");
        ss_buf_u64(&b, f->bytes);
        ss_buf_str(&b, " bytes");
    } else {
        ss_buf_i64(&b, ret);
    }
    log_net_action(&b, f);
    ss_log_end(&b);
}

void ss_faults_teardown_done(unsigned bit, int fd, const struct ss_teardown *t, int ret, int err)
{
    if (t->rule < 0 || !ss_log_enabled())
        return;
    char line[SS_LINE_MAX];
    struct ss_buf b;
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "fault rule ");
    ss_buf_u64(&b, (uint64_t)t->rule + 1);
    ss_buf_str(&b, " (");
    ss_buf_str(&b, t->text);
    ss_buf_str(&b, "): ");
    ss_buf_str(&b, bit == SS_CALL_CLOSE_BIT ? "close" : "shutdown");
    ss_buf_str(&b, "(fd=");
    ss_buf_i64(&b, fd);
    ss_buf_str(&b, ") delayed ");
    buf_duration(&b, t->delay_ns);
    ss_buf_str(&b, " -> ");
    if (ret < 0) {
        ss_buf_str(&b, "-1 ");
        buf_errno(&b, err);
    } else {
        ss_buf_i64(&b, ret);
    }
    ss_log_end(&b);
}
