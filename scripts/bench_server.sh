#!/usr/bin/env bash
# bench_server.sh - wall clock on a real server (SPEC 13): redis-server under
# redis-benchmark, the client never preloaded, side by side in one run.
#
#   scripts/bench_server.sh          (what `make bench-server` runs; ~5 minutes)
#   BENCH_QUICK=1 scripts/bench_server.sh   (a ~40 s smoke run)
#
# Environment: SENDSHIM_LIB (default build/libsendshim.so), BENCH_ROUNDS
# (interleaved rounds, default 15, quick 3), BENCH_REQUESTS (requests per
# round, default 50000: below strace's 65535 `when` limit, see below),
# BENCH_OUT (directory for the data and the chart, default build/bench).
#
# Configurations, each a fresh redis-server per round:
#   bare    no library
#   idle    the library preloaded, nothing configured
#   busy    SENDSHIM_NOSIGPIPE=1, SENDSHIM_FLAGS=freebsd and the 8 never-firing
#           rules of scripts/bench.sh (redis replies with write(2) on its
#           sockets: under NOSIGPIPE each becomes a send with MSG_NOSIGNAL)
#   fiu     libfiu's fiu-run -x with write's failure point at probability 0
#   strace  strace --seccomp-bpf -e inject=write:error=EAGAIN:when=65535, which
#           never fires: a round makes fewer writes than that
# Rounds are interleaved (round r runs every configuration once, in an order
# rotated by r) so a slow stretch of the machine hits all of them alike, and
# each configuration is judged by its paired ratios: round r's time per
# request over bare's in the same round. The verdict takes the median of
# those ratios with its distribution-free 95% confidence interval (order
# statistics k and n+1-k of the n ratios, k from the binomial): it meets the
# target when the whole interval is at or below it, misses it when the whole
# interval is above, and is inconclusive otherwise (the machine's noise
# decides, not the library).
# Prints a markdown table (median requests/s, spread, ratio to bare) and
# writes $BENCH_OUT/redis.dat and, when gnuplot is installed, redis.png.
# redis-server, redis-benchmark (Debian redis-server, redis-tools), fiu-run
# (fiu-utils) and gnuplot (gnuplot-nox) are installed when missing and we are
# root. Exit status 0 when every figure could be measured, 1 otherwise; never
# on a timing.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lib=$(realpath "${SENDSHIM_LIB:-$top/build/libsendshim.so}")
out_dir=${BENCH_OUT:-$top/build/bench}
quick=${BENCH_QUICK:-0}
if [[ $quick == 1 ]]; then
    rounds=${BENCH_ROUNDS:-3} requests=${BENCH_REQUESTS:-20000}
else
    rounds=${BENCH_ROUNDS:-15} requests=${BENCH_REQUESTS:-50000}
fi
clients=50
t_idle=1.01 # SPEC 13: idle within 1% of bare
t_busy=1.03 # busy within 3%

die() {
    echo "bench-server: $*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

[[ -r $lib ]] || die "no library at $lib (run make)"
((requests < 65535)) || die "BENCH_REQUESTS must stay below 65535 (strace's when= limit)"

# The packages, installed when missing (as root), else named.
need=()
have redis-server || need+=(redis-server)
have redis-benchmark || need+=(redis-tools)
have fiu-run || need+=(fiu-utils)
have gnuplot || need+=(gnuplot-nox)
if ((${#need[@]})); then
    if [[ $(id -u) == 0 ]] && have apt-get; then
        echo "bench-server: installing ${need[*]}" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null ||
            die "could not install ${need[*]}"
    fi
fi
if ! have redis-server || ! have redis-benchmark; then
    die "redis-server and redis-benchmark are needed (apt-get install redis-server redis-tools)"
fi

unset LD_PRELOAD
for v in $(compgen -e); do
    [[ $v == SENDSHIM_* ]] && unset "$v"
done

# shellcheck source=tests/bench/busy_rules.sh
source "$top/tests/bench/busy_rules.sh"

cfgs=(bare idle busy)
problems=()
if have fiu-run; then cfgs+=(fiu); else problems+=("fiu-run missing: no libfiu reference"); fi
if have strace; then cfgs+=(strace); else problems+=("strace missing: no strace reference"); fi

work=$(mktemp -d)
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill -9 "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# A free TCP port on 127.0.0.1, chosen by the kernel.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# With two CPUs or more the server (and whatever wraps it) runs on CPU 0 and
# the client on CPU 1, so neither takes the other's CPU: on 2 cores the
# spread between rounds is otherwise larger than the effects measured.
pin_server=() pin_client=()
if (($(nproc) >= 2)) && have taskset; then
    pin_server=(taskset -c 0) pin_client=(taskset -c 1)
fi

# start_server CFG PORT: redis-server under CFG, in the background.
start_server() {
    local cfg=$1 port=$2
    local args=("${pin_server[@]}" redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no
        --protected-mode no --daemonize no --loglevel warning --dir "$work")
    case $cfg in
    bare) "${args[@]}" >"$work/server.log" 2>&1 & ;;
    idle) env "LD_PRELOAD=$lib" "${args[@]}" >"$work/server.log" 2>&1 & ;;
    busy)
        env "LD_PRELOAD=$lib" SENDSHIM_NOSIGPIPE=1 SENDSHIM_FLAGS=freebsd "SENDSHIM_FAULTS=$busy_rules" \
            "${args[@]}" >"$work/server.log" 2>&1 &
        ;;
    fiu)
        "${pin_server[@]}" fiu-run -x -c "enable_random name=posix/io/rw/write,probability=0" \
            "${args[@]}" >"$work/server.log" 2>&1 &
        ;;
    strace)
        "${pin_server[@]}" strace -f -qq -o /dev/null --seccomp-bpf -e trace=write -e inject=write:error=EAGAIN:when=65535 \
            "${args[@]}" >"$work/server.log" 2>&1 &
        ;;
    esac
    server_pid=$!
    local i
    for ((i = 0; i < 100; i++)); do
        redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}

# stop_server PORT: asked to shut down (under strace, a SIGTERM to strace
# itself would leave the server running); killed if it does not.
stop_server() {
    local port=$1 i
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    pkill -9 -P "$server_pid" 2>/dev/null || true
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# one_round CFG: requests per second of SET and GET together (the mean of
# the two), or nothing when the run failed.
one_round() {
    local cfg=$1 port csv
    port=$(free_port)
    if ! start_server "$cfg" "$port"; then
        stop_server "$port"
        return 0
    fi
    csv=$("${pin_client[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -n "$requests" -c "$clients" -t set,get --csv 2>/dev/null) || csv=
    stop_server "$port"
    # "SET","123456.79",... and "GET",...: the mean of the two rates.
    awk -F'"' '/^"(SET|GET)"/ { s += $4; n++ } END { if (n == 2) printf "%.1f\n", s / 2 }' <<<"$csv"
}

declare -A samples round_of
for ((r = 0; r < rounds; r++)); do
    n=${#cfgs[@]}
    for ((k = 0; k < n; k++)); do
        cfg=${cfgs[$(((k + r) % n))]}
        v=$(one_round "$cfg")
        if [[ -z $v ]]; then
            problems+=("round $r: $cfg did not run")
            continue
        fi
        samples[$cfg]+="$v "
        round_of[$cfg,$r]=$v
    done
done

# paired CFG: round by round, bare's rate over CFG's (time per request
# relative to bare), for the rounds both ran.
paired() {
    local cfg=$1 r
    for ((r = 0; r < rounds; r++)); do
        [[ -n ${round_of[bare,$r]:-} && -n ${round_of[$cfg,$r]:-} ]] || continue
        awk -v b="${round_of[bare,$r]}" -v c="${round_of[$cfg,$r]}" 'BEGIN { printf "%.4f\n", b / c }'
    done
}

# median_ci V...: the median of the values and its distribution-free 95%
# confidence interval (order statistics k and n+1-k, the largest k with
# 2 P(Binomial(n, 1/2) <= k-1) <= 0.05), or "- -" for the interval when n
# is too small to have one.
median_ci() {
    printf '%s\n' "$@" | { grep . || true; } | sort -g | awk '{ v[NR] = $1 } END {
        n = NR
        if (n == 0) { print "- - -"; exit }
        m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        k = 0; c = 0; p = 0.5 ^ n; term = p
        for (j = 0; j < n; j++) {
            c += term
            if (2 * c > 0.05) break
            k = j + 1
            term = term * (n - j) / (j + 1)
        }
        if (k < 1) printf "%.4f - -\n", m
        else printf "%.4f %.4f %.4f\n", m, v[k], v[n + 1 - k] }'
}

# stats V...: median min max of the values.
stats() {
    printf '%s\n' "$@" | { grep . || true; } | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "- - -"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.1f %.1f %.1f\n", m, v[1], v[NR] }'
}

mkdir -p "$out_dir"
dat="$out_dir/redis.dat"
read -ra vals <<<"${samples[bare]:-}"
read -r bare_med _ _ <<<"$(stats "${vals[@]}")"
echo "## Wall clock on redis-server (redis-benchmark -n $requests -c $clients -t set,get, $rounds interleaved rounds)"
echo
echo "$(uname -r), $(nproc) CPUs, load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| configuration | median requests/s | min .. max | time per request vs bare (median of paired rounds) | 95% interval | target | result |"
echo "|---|---|---|---|---|---|---|"
printf '# cfg median min max ratio\n' >"$dat"
for cfg in "${cfgs[@]}"; do
    read -ra vals <<<"${samples[$cfg]:-}"
    read -r med lo hi <<<"$(stats "${vals[@]}")"
    if [[ $med == - || $bare_med == - ]]; then
        echo "| $cfg | - | - | - | - | - | could not run |"
        continue
    fi
    # Time per request is the inverse of the rate: bare/cfg > 1 means slower.
    ratio=1.0000 ci_lo=- ci_hi=-
    if [[ $cfg != bare ]]; then
        mapfile -t ratios < <(paired "$cfg")
        read -r ratio ci_lo ci_hi <<<"$(median_ci "${ratios[@]}")"
    fi
    target=- result=reference
    case $cfg in
    bare) result=- ;;
    idle) target=$t_idle ;;
    busy) target=$t_busy ;;
    esac
    if [[ $target != - ]]; then
        if [[ $ci_lo == - ]]; then
            result="inconclusive: too few rounds for an interval"
        elif awk -v h="$ci_hi" -v t="$target" 'BEGIN { exit !(h <= t) }'; then
            result=meets
        elif awk -v l="$ci_lo" -v t="$target" 'BEGIN { exit !(l > t) }'; then
            result="MISSES $target"
        else
            result="inconclusive: the interval holds $target"
        fi
    fi
    echo "| $cfg | $med | $lo .. $hi | $ratio | $ci_lo .. $ci_hi | $target | $result |"
    printf '%s %s %s %s %s\n' "$cfg" "$med" "$lo" "$hi" "$ratio" >>"$dat"
done
echo
echo "busy rules: \`$busy_rules\`"

if have gnuplot; then
    gnuplot <<EOF || problems+=("gnuplot failed")
set terminal pngcairo size 800,450 font ",11"
set output "$out_dir/redis.png"
set title "redis-server under redis-benchmark (SET+GET, -c $clients, $rounds rounds): median, min..max"
set ylabel "requests per second"
set style fill solid 0.6 border -1
set boxwidth 0.6
set yrange [0:*]
set grid ytics
unset key
plot "$dat" using 0:2:xtic(1) with boxes lc rgb "#4a7fb5", \
     "" using 0:2:3:4 with yerrorbars lc rgb "black" pt 0
EOF
    [[ -f $out_dir/redis.png ]] && echo && echo "chart: $out_dir/redis.png"
else
    problems+=("gnuplot missing: no chart")
fi

if ((${#problems[@]})); then
    printf 'bench-server: %s\n' "${problems[@]}" >&2
    exit 1
fi
