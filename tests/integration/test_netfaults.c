/* test_netfaults.c - the network-realistic actions of issue 16 (reset,
 * rate=, stall=, dup, corrupt=, burst=, slow close), each observed from the
 * other end of a real socket: the peer's recv, its errno, the bytes it got,
 * the time its EOF came. The oracle is the same program run without the
 * library, and, for corrupt=, the bit positions the fault line names. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define T          30        /* seconds a spawned program may take */
#define RATE_BYTES (4 << 20) /* the rate= transfer: 4 MiB at 1 MiB/s */
#define RATE_MS    4000.0
#define RATE_TOL   0.10 /* within 10% */

static void run_net(struct run_result *r, const char *rules, const char *const argv[], const char *extra)
{
    char var[512];
    snprintf(var, sizeof var, "SENDSHIM_FAULTS=%s", rules);
    const char *env[] = {var, extra, NULL};
    cr_assert_eq(run(r, argv, rules ? env : NULL, rules != NULL, NULL, T), 0, "could not run %s", argv[0]);
    cr_assert(!r->timed_out, "%s timed out", argv[0]);
    cr_assert(r->exited && r->status == 0, "%s failed: %s", argv[0], r->err);
}

/* The number after `key` in text, or -1e9. */
static double num_after(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1e9;
}

/* --- dup ---------------------------------------------------------------------- */

Test(net_dup, udp_datagram_arrives_twice_reported_once)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "dup", "udp", "5", NULL};
    run_net(&r, NULL, argv, NULL);
    cr_expect_str_eq(r.out, "reported 5 received 5\n", "oracle: %s", r.out);
    run_free(&r);
    run_net(&r, "send:dup", argv, NULL);
    cr_expect_str_eq(r.out, "reported 5 received 10\n");
    cr_expect_eq(count_lines(r.err, "(send:dup): send(fd=4, 4 bytes) -> 4 (dup: sent twice)"), 5, "%s",
                 r.err);
    run_free(&r);
}

Test(net_dup, unix_dgram_and_sendmmsg)
{
    struct run_result r;
    const char *unix_argv[] = {target_path("netfault"), "dup", "unix-dgram", "3", NULL};
    run_net(&r, "send:dup:type=dgram", unix_argv, NULL);
    cr_expect_str_eq(r.out, "reported 3 received 6\n");
    run_free(&r);
    const char *mmsg_argv[] = {target_path("netfault"), "dupmmsg", "4", NULL};
    run_net(&r, "sendmmsg:dup", mmsg_argv, NULL);
    cr_expect_str_eq(r.out, "reported 4 received 8 len0 4\n");
    run_free(&r);
}

Test(net_dup, never_on_a_stream)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "reset", NULL};
    run_net(&r, "send:dup", argv, NULL);
    cr_expect(strstr(r.out, "send3 5 ok") != NULL, "%s", r.out);
    cr_expect_eq(count_lines(r.err, "fault rule"), 0, "%s", r.err);
    run_free(&r);
}

/* --- corrupt= ------------------------------------------------------------------ */

/* The receiver's flipped bit offsets ("at ...") must be exactly those the
 * fault line names ("bits ... flipped"). */
static void expect_positions_logged(const struct run_result *r)
{
    const char *at = strstr(r->out, "\nat ");
    const char *bits = strstr(r->err, "(corrupt: bits ");
    cr_assert(at && bits, "out: %s err: %s", r->out, r->err);
    at += 4;
    bits += strlen("(corrupt: bits ");
    size_t n = strcspn(at, "\n");
    cr_expect(n > 0 && !strncmp(at, bits, n) && !strncmp(bits + n, " flipped", 8),
              "receiver saw %.*s, log says %s", (int)n, at, bits);
}

Test(net_corrupt, udp_exactly_n_bits_at_the_logged_positions_buffer_intact)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "corrupt", "udp", "100", NULL};
    run_net(&r, NULL, argv, NULL);
    cr_expect(strstr(r.out, "sent 100 received 100 flipped 0 buffer intact") != NULL, "oracle: %s", r.out);
    run_free(&r);
    run_net(&r, "send:corrupt=5", argv, "SENDSHIM_SEED=7");
    cr_expect(strstr(r.out, "sent 100 received 100 flipped 5 buffer intact") != NULL, "%s", r.out);
    expect_positions_logged(&r);
    char first[512];
    snprintf(first, sizeof first, "%s", r.out);
    run_free(&r);
    /* Same seed: same positions. Another seed: others. */
    run_net(&r, "send:corrupt=5", argv, "SENDSHIM_SEED=7");
    cr_expect_str_eq(r.out, first);
    run_free(&r);
    run_net(&r, "send:corrupt=5", argv, "SENDSHIM_SEED=8");
    cr_expect(strstr(r.out, "flipped 5 buffer intact") != NULL, "%s", r.out);
    cr_expect_str_neq(r.out, first);
    run_free(&r);
}

Test(net_corrupt, streams_tcp_and_unix)
{
    struct run_result r;
    const char *tcp_argv[] = {target_path("netfault"), "corrupt", "tcp", "100000", NULL};
    run_net(&r, "send:corrupt=5:type=stream", tcp_argv, "SENDSHIM_SEED=3");
    cr_expect(strstr(r.out, "sent 100000 received 100000 flipped 5 buffer intact") != NULL, "%s", r.out);
    expect_positions_logged(&r);
    run_free(&r);
    /* 64 distinct bits out of 72: no position drawn twice. */
    const char *unix_argv[] = {target_path("netfault"), "corrupt", "unix-stream", "9", NULL};
    run_net(&r, "send:corrupt=64", unix_argv, "SENDSHIM_SEED=3");
    cr_expect(strstr(r.out, "sent 9 received 9 flipped 64 buffer intact") != NULL, "%s", r.out);
    expect_positions_logged(&r);
    run_free(&r);
}

Test(net_corrupt, sendmmsg_one_message_of_the_batch)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "corruptmmsg", "3", "100", NULL};
    run_net(&r, "sendmmsg:corrupt=3", argv, NULL);
    cr_expect_str_eq(r.out, "reported 3\n"
                            "message 0 len 100 got 100 flipped 3\n"
                            "message 1 len 100 got 100 flipped 0\n"
                            "message 2 len 100 got 100 flipped 0\n"
                            "buffers intact\n");
    run_free(&r);
}

/* --- burst= ---------------------------------------------------------------------- */

/* 20,000 numbered datagrams on a unix dgram pair (reliable: every loss is
 * the library's); the receiver counts loss runs from the sequence numbers. */
static double mean_run(const char *rules, const char *seed)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "burst", "20000", NULL};
    run_net(&r, rules, argv, seed);
    double lost = num_after(r.out, "lost "), runs = num_after(r.out, "runs ");
    cr_log_info("%s %s: %s", rules, seed, r.out);
    run_free(&r);
    cr_assert(runs > 50, "too few loss runs (%g) to measure", runs);
    return lost / runs;
}

Test(net_burst, mean_loss_run_is_one_over_one_minus_q, .timeout = 120)
{
    const char *seeds[] = {"SENDSHIM_SEED=1", "SENDSHIM_SEED=2", "SENDSHIM_SEED=3"};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        double m = mean_run("send:drop:p=0.01:burst=0.75", seeds[i]);
        cr_expect(m > 4 * 0.8 && m < 4 * 1.2, "%s: mean loss run %.2f, want 4 within 20%%", seeds[i], m);
        /* Without burst=, losses are independent: runs of about 1. */
        double plain = mean_run("send:drop:p=0.01", seeds[i]);
        cr_expect(plain < 1.2, "%s: p=0.01 alone gives runs of %.2f", seeds[i], plain);
    }
}

/* --- reset ------------------------------------------------------------------------ */

Test(net_reset, peer_recv_fails_econnreset_then_the_kernel_says_epipe)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "reset", NULL};
    run_net(&r, NULL, argv, NULL);
    cr_expect_str_eq(r.out, "send1 5 ok\nsend2 5 ok\nsend3 5 ok\npeer1 15 ok\npeer2 -1 EAGAIN\n",
                     "oracle: %s", r.out);
    run_free(&r);
    run_net(&r, "send:reset:when=2", argv, NULL);
    cr_expect_str_eq(r.out,
                     "send1 5 ok\nsend2 -1 ECONNRESET\nsend3 -1 EPIPE\npeer1 5 ok\npeer2 -1 ECONNRESET\n");
    cr_expect_eq(count_lines(r.err, "send(fd=4, 5 bytes) -> -1 ECONNRESET (reset: RST sent to the peer)"), 1,
                 "%s", r.err);
    run_free(&r);
}

Test(net_reset, limit_data_resets_after_n_bytes)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "reset", NULL};
    run_net(&r, "*:reset:after=9", argv, NULL);
    cr_expect_str_eq(r.out,
                     "send1 5 ok\nsend2 5 ok\nsend3 -1 ECONNRESET\npeer1 10 ok\npeer2 -1 ECONNRESET\n");
    run_free(&r);
}

/* --- stall= ------------------------------------------------------------------------ */

Test(net_stall, blocking_call_holds_then_resumes)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "stall", NULL};
    run_net(&r, "send:stall=500ms:when=2", argv, NULL);
    double ms = num_after(r.out, "send2 3 ok ");
    cr_expect(ms >= 480 && ms < 1500, "send2 took %g ms: %s", ms, r.out);
    cr_expect(num_after(r.out, "send3 5 ok ") < 100, "%s", r.out);
    cr_expect(strstr(r.out, "peer got 'onetwothree'") != NULL, "%s", r.out);
    cr_expect_eq(count_lines(r.err, "-> 3 (stall 500ms)"), 1, "%s", r.err);
    run_free(&r);
}

Test(net_stall, nonblocking_calls_fail_eagain_until_it_ends)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "stall", "nb", NULL};
    run_net(&r, "send:stall=500ms:when=2", argv, "SENDSHIM_LOG=none");
    double ms = num_after(r.out, "send2 3 ok ");
    cr_expect(ms >= 480 && ms < 1500, "send2 passed after %g ms: %s", ms, r.out);
    cr_expect(num_after(r.out, "eagain ") >= 10, "%s", r.out);
    cr_expect(strstr(r.out, "peer got 'onetwothree'") != NULL, "%s", r.out);
    run_free(&r);
}

Test(net_stall, with_reset_is_toxiproxy_timeout)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "stall", NULL};
    run_net(&r, "send:stall=300ms:reset:when=2", argv, NULL);
    double ms = num_after(r.out, "send2 -1 ECONNRESET ");
    cr_expect(ms >= 280 && ms < 1500, "send2 reset after %g ms: %s", ms, r.out);
    cr_expect(strstr(r.out, "send3 -1 EPIPE") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "peer ECONNRESET\npeer got 'one'") != NULL, "%s", r.out);
    cr_expect_eq(count_lines(r.err, "(stall 300ms then reset)"), 1, "%s", r.err);
    run_free(&r);
    const char *nb_argv[] = {target_path("netfault"), "stall", "nb", NULL};
    run_net(&r, "send:stall=300ms:reset:when=2", nb_argv, "SENDSHIM_LOG=none");
    cr_expect(strstr(r.out, "send2 -1 ECONNRESET") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "peer ECONNRESET") != NULL, "%s", r.out);
    run_free(&r);
}

/* --- close and shutdown with delay= (slow close) --------------------------------- */

Test(net_teardown, close_and_shutdown_delay_the_peers_eof)
{
    struct run_result r;
    const char *close_argv[] = {target_path("netfault"), "teardown", "close", NULL};
    run_net(&r, NULL, close_argv, NULL);
    cr_expect(num_after(r.out, "eof after ") < 100, "oracle: %s", r.out);
    run_free(&r);
    run_net(&r, "close:delay=400ms:fd=4", close_argv, NULL);
    double ms = num_after(r.out, "eof after ");
    cr_expect(ms >= 390 && ms < 1500, "EOF after %g ms: %s", ms, r.out);
    cr_expect_eq(count_lines(r.err, "(close:delay=400ms:fd=4): close(fd=4) delayed 400ms -> 0"), 1, "%s",
                 r.err);
    run_free(&r);
    const char *shut_argv[] = {target_path("netfault"), "teardown", "shutdown", NULL};
    run_net(&r, "shutdown:delay=300ms", shut_argv, NULL);
    ms = num_after(r.out, "eof after ");
    cr_expect(ms >= 290 && ms < 1500, "EOF after %g ms: %s", ms, r.out);
    cr_expect_eq(count_lines(r.err, "shutdown(fd=4) delayed 300ms -> 0"), 1, "%s", r.err);
    run_free(&r);
}

/* --- rate= -------------------------------------------------------------------------- */

static double rate_ms(const char *const argv[], const char *key)
{
    struct run_result r;
    run_net(&r, "*:rate=1MiB/s:type=stream:family=inet", argv, "SENDSHIM_LOG=none");
    double ms = num_after(r.out, key);
    cr_log_info("%s: %s", argv[0], r.out);
    run_free(&r);
    return ms;
}

static void expect_rate(double ms, const char *who)
{
    cr_expect(ms > RATE_MS * (1 - RATE_TOL) && ms < RATE_MS * (1 + RATE_TOL),
              "%s: 4 MiB at 1 MiB/s took %.0f ms, want 4000 within 10%%", who, ms);
}

Test(net_rate, four_mib_at_one_mib_per_second_takes_four_seconds, .timeout = 120)
{
    struct tcp_sink sink;
    char path[] = "/tmp/sendshim-rate-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    char port[16], bytes[16];
    snprintf(bytes, sizeof bytes, "%d", RATE_BYTES);

    cr_assert_eq(tcp_sink_start(&sink, path), 0);
    snprintf(port, sizeof port, "%d", sink.port);
    const char *block[] = {target_path("netfault"), "rate", "block", bytes, port, NULL};
    expect_rate(rate_ms(block, " in "), "blocking C sender");
    tcp_sink_finish(&sink);

    cr_assert_eq(tcp_sink_start(&sink, path), 0);
    snprintf(port, sizeof port, "%d", sink.port);
    const char *nb[] = {target_path("netfault"), "rate", "poll", bytes, port, NULL};
    expect_rate(rate_ms(nb, " in "), "non-blocking C sender with poll");
    tcp_sink_finish(&sink);
    unlink(path);
}

Test(net_rate, python3_sendall_takes_four_seconds, .timeout = 60)
{
    struct tcp_sink sink;
    char path[] = "/tmp/sendshim-rate-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    if (have_program("python3")) {
        cr_assert_eq(tcp_sink_start(&sink, path), 0);
        char py[512];
        snprintf(
            py, sizeof py,
            "import socket,time\n"
            "s=socket.create_connection(('127.0.0.1',%d))\n"
            "t=time.monotonic(); s.sendall(bytes(%d)); print('took %%.0f ms'%%((time.monotonic()-t)*1e3))\n"
            "s.close()\n",
            sink.port, RATE_BYTES);
        const char *pyargv[] = {"python3", "-c", py, NULL};
        expect_rate(rate_ms(pyargv, "took "), "python3 sendall");
        tcp_sink_finish(&sink);
    } else {
        cr_log_info("python3 not found: its rate= case skipped");
    }
    unlink(path);
}

/* --- the writability edge after an EAGAIN the library made ------------------------- */

/* An edge-triggered epoll sender writes until EAGAIN, then waits for
 * EPOLLOUT. After an injected EAGAIN the send buffer is not full, so no
 * drain would ever wake it: the library must give the edge itself. */
Test(net_wakeup, edge_triggered_epoll_wakes_after_injected_eagain, .timeout = 60)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "epoll", "200000", NULL};
    run_net(&r, NULL, argv, NULL);
    cr_expect(strstr(r.out, "sent 200000 waits 1 peer got 200000") != NULL, "oracle: %s", r.out);
    run_free(&r);
    run_net(&r, "send:error=EAGAIN:p=0.2", argv, "SENDSHIM_SEED=5");
    cr_expect(strstr(r.out, "sent 200000 waits") != NULL && strstr(r.out, "peer got 200000") != NULL, "%s",
              r.out);
    cr_expect(num_after(r.out, "waits ") > 10, "%s", r.out);
    run_free(&r);
    /* A slow reader: injected EAGAINs come while the send buffer is nearly
     * full, when no edge can be given at once; the kernel's own wakeup
     * must come when it drains. */
    const char *slow_argv[] = {target_path("netfault"), "epoll", "4000000", "slow", NULL};
    run_net(&r, "send:error=EAGAIN:p=0.2", slow_argv, "SENDSHIM_SEED=5");
    cr_expect(strstr(r.out, "sent 4000000 waits") != NULL && strstr(r.out, "peer got 4000000") != NULL, "%s",
              r.out);
    run_free(&r);
    /* stall= on a non-blocking socket: EAGAIN, then edges, until it ends. */
    run_net(&r, "send:stall=300ms:when=3", argv, "SENDSHIM_LOG=none");
    cr_expect(strstr(r.out, "peer got 200000") != NULL, "%s", r.out);
    run_free(&r);
}

/* Threads sharing a descriptor share its bucket: 2 MiB from 4 threads at
 * 4 MiB/s takes half a second, not an eighth. */
Test(net_rate, threads_share_one_bucket, .timeout = 60)
{
    struct run_result r;
    const char *argv[] = {target_path("netfault"), "ratethreads", "4", "2097152", NULL};
    run_net(&r, "*:rate=4MiB/s:type=stream", argv, "SENDSHIM_LOG=none");
    cr_expect(strstr(r.out, "sent 2097152 received 2097152 in ") != NULL, "%s", r.out);
    double ms = num_after(r.out, " in ");
    cr_expect(ms > 450 && ms < 550, "2 MiB at 4 MiB/s over 4 threads took %.0f ms, want 500 within 10%%", ms);
    run_free(&r);
}

/* --- nginx: a real edge-triggered epoll server ----------------------------------- */

#define NGINX_FILE_BYTES (16u << 20)

static const char nginx_script[] =
    "set -u\n"
    "LD_PRELOAD=\"$SHIM\" SENDSHIM_LOG=\"$D/shim.log\" SENDSHIM_SEED=3 SENDSHIM_FAULTS=\"$NG_FAULTS\" \\\n"
    "  nginx -e \"$D/error.log\" -c \"$D/nginx.conf\" -p \"$D/\" 2>\"$D/nginx.err\" &\n"
    "pid=$!\n"
    "for i in $(seq 100); do curl -s -o /dev/null \"http://127.0.0.1:$PORT/\"; [ $? -ne 7 ] && break; "
    "sleep 0.1; done\n"
    "start=$(date +%s%N)\n"
    "curl -s --max-time 60 -o \"$D/got\" \"http://127.0.0.1:$PORT/big\"; rc=$?\n"
    "end=$(date +%s%N)\n"
    "kill $pid; wait $pid\n"
    "echo \"curl $rc ms $(( (end - start) / 1000000 )) faults $(grep -c 'fault rule' \"$D/shim.log\")\"\n";

/* nginx (sendfile off, so it writes with writev) serves a 16 MiB file to
 * curl under `rules` on its TCP sockets; returns the transfer's ms, or -1
 * when nginx or curl is missing (the caller skips, logged). */
static double nginx_serves(const char *rules, long *faults)
{
    if (!have_program("nginx") || !have_program("curl")) {
        cr_log_info("nginx or curl not installed (apt-get install nginx-light curl): nginx case skipped");
        return -1;
    }
    char dir[] = "/tmp/sendshim-nginx-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256], conf[4096], port[16];
    snprintf(path, sizeof path, "%s/big", dir);
    cr_assert_eq(write_pattern_file(path, NGINX_FILE_BYTES), 0);
    /* A free port: bound and released (nginx binds it right after). */
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    cr_assert(bind(probe, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(probe, (struct sockaddr *)&a, &al) == 0);
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    close(probe);
    snprintf(conf, sizeof conf,
             "daemon off; master_process off; worker_processes 1; pid %s/nginx.pid;\n"
             "error_log %s/error.log info;\n"
             "events { worker_connections 64; use epoll; }\n"
             "http { access_log off; sendfile off;\n"
             "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
             "  uwsgi_temp_path %s; scgi_temp_path %s;\n"
             "  server { listen 127.0.0.1:%s; root %s; } }\n",
             dir, dir, dir, dir, dir, dir, dir, port, dir);
    char confpath[256];
    snprintf(confpath, sizeof confpath, "%s/nginx.conf", dir);
    FILE *f = fopen(confpath, "w");
    cr_assert(f);
    fputs(conf, f);
    fclose(f);

    char shim[4200], d[300], ng[600], portvar[32];
    snprintf(shim, sizeof shim, "SHIM=%s", lib_path());
    snprintf(d, sizeof d, "D=%s", dir);
    snprintf(ng, sizeof ng, "NG_FAULTS=%s", rules);
    snprintf(portvar, sizeof portvar, "PORT=%s", port);
    const char *env[] = {shim, d, ng, portvar, NULL};
    const char *argv[] = {"sh", "-c", nginx_script, NULL};
    struct run_result r;
    cr_assert_eq(run(&r, argv, env, 0, NULL, 120), 0);
    cr_assert(!r.timed_out, "nginx run timed out");
    cr_log_info("nginx under '%s': %s", rules, r.out);
    cr_expect(strstr(r.out, "curl 0 ") != NULL, "curl failed under '%s': %s %s", rules, r.out, r.err);
    char got[256];
    snprintf(got, sizeof got, "%s/got", dir);
    char *want = sha256_file(path), *have = sha256_file(got);
    cr_expect(want && have && !strcmp(want, have), "the file served under '%s' differs", rules);
    free(want);
    free(have);
    double ms = num_after(r.out, " ms ");
    *faults = (long)num_after(r.out, "faults ");
    run_free(&r);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
    return ms;
}

Test(net_nginx, serves_16_mib_intact_under_eagain_rate_and_stall, .timeout = 300)
{
    long faults = 0;
    double ms = nginx_serves("*:error=EAGAIN:p=0.2:type=stream:family=inet", &faults);
    if (ms < 0)
        return;
    cr_expect(faults > 10, "only %ld EAGAINs injected", faults);
    ms = nginx_serves("*:rate=4MiB/s:type=stream:family=inet", &faults);
    cr_expect(ms > 4000 * 0.9 && ms < 4000 * 1.25, "16 MiB at 4 MiB/s took %.0f ms", ms);
    ms = nginx_serves("*:stall=500ms:when=3:type=stream:family=inet", &faults);
    cr_expect(ms >= 450, "a 500 ms stall, and the transfer took %.0f ms", ms);
}

/* --- real programs ---------------------------------------------------------------- */

/* python3 http.server (preloaded) serving 512 KiB to curl (not preloaded)
 * under rate=256KiB/s: the same bytes, at the rate. The script prints the
 * seconds curl took and whether the bytes matched. */
static const char py_rate_http[] =
    "import functools, hashlib, http.server, os, subprocess, sys, tempfile, threading, time\n"
    "d = tempfile.mkdtemp()\n"
    "body = bytes((i * 7 + i // 251) & 255 for i in range(512 * 1024))\n"
    "open(os.path.join(d, 'f'), 'wb').write(body)\n"
    "class Q(http.server.SimpleHTTPRequestHandler):\n"
    "    def log_message(self, *a): pass\n"
    "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Q, directory=d))\n"
    "threading.Thread(target=s.serve_forever, daemon=True).start()\n"
    "env = {k: v for k, v in os.environ.items() if k != 'LD_PRELOAD' and not k.startswith('SENDSHIM_')}\n"
    "t = time.monotonic()\n"
    "got = subprocess.run(['curl', '-s', 'http://127.0.0.1:%d/f' % s.server_address[1]],\n"
    "                     env=env, capture_output=True, timeout=20).stdout\n"
    "print('seconds=%.3f same=%d' % (time.monotonic() - t, got == body))\n";

Test(net_programs, python3_http_server_under_rate_serves_the_same_bytes_slower, .timeout = 60)
{
    if (!have_program("python3") || !have_program("curl"))
        cr_skip_test("needs python3 and curl");
    const char *argv[] = {"python3", "-c", py_rate_http, NULL};
    struct run_result r;
    /* Oracle: the same server without the library. */
    run_net(&r, NULL, argv, NULL);
    cr_expect(strstr(r.out, "same=1"), "without the library: %s", r.out);
    double bare = num_after(r.out, "seconds=");
    run_free(&r);
    /* 512 KiB at 256 KiB/s: 2 s, less the bucket's 100 ms of burst at most. */
    run_net(&r, "*:rate=256KiB/s:type=stream:family=inet", argv, NULL);
    cr_expect(strstr(r.out, "same=1"), "under rate=: %s %s", r.out, r.err);
    double s = num_after(r.out, "seconds=");
    cr_expect(s >= 1.8 && s <= 2.0 * 1.5, "512 KiB at 256KiB/s took %.3f s (without the library %.3f s)", s,
              bare);
    cr_expect(bare < 1.0, "without the library it took %.3f s", bare);
    run_free(&r);
}

/* socat (preloaded) sends one 1000-byte datagram read from its stdin under
 * corrupt=3: the receiver gets 1000 bytes that differ in exactly 3 bits. */
static const char py_socat_corrupt[] =
    "import socket, subprocess\n"
    "r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(('127.0.0.1', 0)); r.settimeout(10)\n"
    "body = bytes((i * 13 + 5) & 255 for i in range(1000))\n"
    "subprocess.run(['socat', '-u', 'STDIN', 'UDP-SENDTO:127.0.0.1:%d' % r.getsockname()[1]],\n"
    "               input=body, timeout=10, check=True)\n"
    "got = r.recv(65536)\n"
    "print('len=%d bits=%d' % (len(got), sum(bin(a ^ b).count('1') for a, b in zip(got, body))))\n";

Test(net_programs, socat_udp_under_corrupt_same_count_n_bits_differ, .timeout = 60)
{
    if (!have_program("python3") || !have_program("socat"))
        cr_skip_test("needs python3 and socat");
    const char *argv[] = {"python3", "-c", py_socat_corrupt, NULL};
    struct run_result r;
    run_net(&r, NULL, argv, NULL);
    cr_expect(strstr(r.out, "len=1000 bits=0"), "without the library: %s", r.out);
    run_free(&r);
    run_net(&r, "*:corrupt=3:type=dgram:family=inet", argv, NULL);
    cr_expect(strstr(r.out, "len=1000 bits=3"), "under corrupt=3: %s %s", r.out, r.err);
    run_free(&r);
}
