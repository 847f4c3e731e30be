/* stats.c - SENDSHIM_STATS counters and their summary. */
#include "stats.h"

#include "faults.h"
#include "fdtable.h"
#include "log.h"
#include "state.h"

struct ss_stats ss_stats_own;
struct ss_stats *ss_stats_home = &ss_stats_own;

void ss_stats_count(const struct ss_request *rq, ssize_t ret)
{
    uint64_t sent = 0;
    if (ret > 0 && rq->call == SS_CALL_SENDMMSG)
        for (ssize_t i = 0; i < ret; i++)
            sent += rq->vec[i].msg_len;
    else if (ret > 0)
        sent = (uint64_t)ret;
    ss_stats_add(rq->call, ret, sent, rq->flags != rq->flags_in);
}

int ss_calls_seen_on(int fd)
{
    return (ss_cfg.trace || ss_cfg.count) && ss_fd_is_socket(ss_fd_probe(fd));
}

static uint64_t get(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void ss_stats_report(void)
{
    char line[SS_LINE_MAX];
    struct ss_buf b;
    for (int c = 0; c < SS_NCALLS_SEEN; c++) {
        const struct ss_call_stats *s = &ss_stats_home->call[c];
        ss_log_begin(&b, line, sizeof line);
        ss_buf_str(&b, "stats: ");
        ss_buf_str(&b, ss_call_name((enum ss_call)c));
        ss_buf_str(&b, " calls=");
        ss_buf_u64(&b, get(&s->calls));
        ss_buf_str(&b, " failed=");
        ss_buf_u64(&b, get(&s->failed));
        ss_buf_str(&b, " bytes=");
        ss_buf_u64(&b, get(&s->bytes));
        ss_log_end(&b);
    }
    ss_log_begin(&b, line, sizeof line);
    ss_buf_str(&b, "stats: flags_rewritten=");
    ss_buf_u64(&b, get(&ss_stats_home->flags_rewritten));
    ss_buf_str(&b, " normalized=");
    ss_buf_u64(&b, get(&ss_stats_home->normalized));
    ss_buf_str(&b, " faults=");
    ss_buf_u64(&b, get(&ss_stats_home->faults));
    ss_log_end(&b);
    ss_faults_stats_report();
}
