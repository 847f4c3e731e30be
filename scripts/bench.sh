#!/usr/bin/env bash
# bench.sh - the benchmarks of SPEC section 13, side by side in one run.
#
#   scripts/bench.sh            (what `make bench` runs; ~3-5 minutes on 2 cores)
#   BENCH_QUICK=1 scripts/bench.sh   (a ~30 s smoke run: fewer calls and rounds)
#
# Environment: SENDSHIM_LIB (default build/libsendshim.so), SENDBENCH (default
# build/bench/sendbench), BENCH_ROUNDS (wall-clock rounds, default 7, quick 3).
#
# Configurations, each a separate process running tests/bench/sendbench:
#   none    no library
#   idle    the library preloaded, nothing configured
#   busy    SENDSHIM_NOSIGPIPE=1, SENDSHIM_FLAGS=freebsd and 8 rules that match
#           every call but never fire (when= beyond any run)
#   fire    one rule firing on every call (*:error=EAGAIN), SENDSHIM_LOG=none
#   fiu     libfiu's fiu-run -x with the call's failure point at probability 0
#   strace  strace -e inject on the call's system call, never firing (its
#           --seccomp-bpf mode, so only that system call stops the tracee)
#
# Figures, one markdown table each, every row marked "meets" or "MISSES <target>":
#   1. callgrind instructions per call (Ir of bench_loop / N), library minus none
#   2. wall-clock ns per call, median of interleaved rounds, ratio to none
#   3. system calls: per sendmmsg batch, and the ones the library adds to a
#      whole run of N1 and of N2 calls (the difference must not grow with N)
#   4. the library's memory with 100 and 100,000 descriptors in use
#   5. live control: the cost of an attached control file (the version check)
#
# Exit status: 0 when every figure could be measured (whatever the numbers
# say), 1 when something could not run (a missing tool or a failed run is
# also reported in place, and the other figures still run).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lib=${SENDSHIM_LIB:-$top/build/libsendshim.so}
bin=${SENDBENCH:-$top/build/bench/sendbench}
quick=${BENCH_QUICK:-0}

die() {
    echo "bench: $*" >&2
    exit 1
}

[[ -r $lib ]] || die "no library at $lib (run make)"
[[ -x $bin ]] || die "no benchmark program at $bin (run make build/bench/sendbench)"
lib=$(realpath "$lib")
bin=$(realpath "$bin")

# The runs must see only the configuration we give them.
unset LD_PRELOAD
for v in $(compgen -e); do
    [[ $v == SENDSHIM_* ]] && unset "$v"
done

# --- parameters ---------------------------------------------------------------

if [[ $quick == 1 ]]; then
    n_one=10000 n_mmsg=500    # wall clock: calls per run (sendmmsg: batches)
    cg_one=2000 cg_mmsg=200   # callgrind
    st_one=1000 st_mmsg=100   # strace -e inject (every call stops the tracee)
    sc1_one=100 sc2_one=1000  # syscall counts: two run lengths
    sc1_mmsg=10 sc2_mmsg=100
    rounds=${BENCH_ROUNDS:-3}
else
    n_one=100000 n_mmsg=6000
    cg_one=20000 cg_mmsg=2000
    st_one=5000 st_mmsg=300
    sc1_one=1000 sc2_one=10000
    sc1_mmsg=100 sc2_mmsg=1000
    rounds=${BENCH_ROUNDS:-7}
fi

calls=(send sendto sendmsg sendmmsg)
socks=(unix udp)
fds_small=100
fds_large=100000
fd_slack=64        # descriptors sendbench keeps beyond NFDS (see sendbench.c)
nofile_big=1048576 # a huge RLIMIT_NOFILE: state must not grow with it
run_timeout=300    # seconds; a run that takes longer is a failure to run

# SPEC section 13 targets; never lowered.
t_idle_ir=20
t_busy_ir=150
t_wall_pct=2
t_state_kib=64

# shellcheck source=tests/bench/busy_rules.sh
source "$top/tests/bench/busy_rules.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/sendbench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# What could not run, in a file: problem() is often called in a subshell.
problems="$work/problems"
: >"$problems"
problem() {
    echo "$*" >>"$problems"
    echo "bench: $*" >&2
}

have() { command -v "$1" >/dev/null 2>&1; }

# --- configurations -------------------------------------------------------------

# cfg_env CFG: the environment assignments of a library configuration, in
# the array envs (empty for none).
cfg_env() {
    case $1 in
    none) envs=() ;;
    idle) envs=("LD_PRELOAD=$lib") ;;
    busy) envs=("LD_PRELOAD=$lib" SENDSHIM_NOSIGPIPE=1 SENDSHIM_FLAGS=freebsd "SENDSHIM_FAULTS=$busy_rules") ;;
    fire) envs=("LD_PRELOAD=$lib" "SENDSHIM_FAULTS=*:error=EAGAIN" SENDSHIM_LOG=none) ;;
    # Section 5: counting calls (what an attached process does) with and
    # without a control file, with no rules and with the busy rules.
    stats) envs=("LD_PRELOAD=$lib" SENDSHIM_STATS=1 SENDSHIM_LOG=none) ;;
    control) envs=("LD_PRELOAD=$lib" "SENDSHIM_CONTROL=$control_file" SENDSHIM_LOG=none) ;;
    stats-busy) envs=("LD_PRELOAD=$lib" SENDSHIM_STATS=1 SENDSHIM_LOG=none "SENDSHIM_FAULTS=$busy_rules") ;;
    control-busy) envs=("LD_PRELOAD=$lib" "SENDSHIM_CONTROL=$control_busy_file" SENDSHIM_LOG=none) ;;
    *) die "internal: no configuration $1" ;;
    esac
}

# The system call each call becomes (x86-64 and arm64 have no send syscall:
# glibc's send() is sendto with no address), and libfiu's failure point.
syscall_of() {
    case $1 in
    send) echo sendto ;;
    *) echo "$1" ;;
    esac
}
fiu_point() {
    case $1 in
    sendmmsg) echo "" ;; # libfiu has no sendmmsg failure point
    *) echo "posix/io/net/$1" ;;
    esac
}

# run CFG CALL SOCK N: one timed run; prints sendbench's line, or nothing
# (and records a problem) when the run failed.
run() {
    local cfg=$1 call=$2 sock=$3 n=$4 sc fp out rc=0
    local err="$work/err"
    case $cfg in
    fiu)
        fp=$(fiu_point "$call")
        out=$(timeout "$run_timeout" fiu-run -x -f "" -c "enable_random name=$fp,probability=0" \
            "$bin" "$call" "$sock" "$n" 2>"$err") || rc=$?
        ;;
    strace)
        sc=$(syscall_of "$call")
        out=$(timeout "$run_timeout" strace -f -qq -o /dev/null --seccomp-bpf -e trace="$sc" \
            -e inject="$sc":error=EAGAIN:when=65535 "$bin" "$call" "$sock" "$n" 2>"$err") || rc=$?
        ;;
    *)
        cfg_env "$cfg"
        out=$(timeout "$run_timeout" env "${envs[@]}" "$bin" "$call" "$sock" "$n" 2>"$err") || rc=$?
        ;;
    esac
    if [[ $rc != 0 || $out != call=* ]]; then
        problem "$cfg $call $sock: exit $rc: $(head -c 300 "$err")"
        return 0
    fi
    echo "$out"
}

# field NAME LINE: the value of NAME=VALUE in a sendbench line.
field() {
    local kv
    for kv in $2; do
        if [[ $kv == "$1="* ]]; then
            echo "${kv#*=}"
            return
        fi
    done
}

# check_run CFG LINE: a note when the run did not do what its configuration
# means (the fire rule must fail every call with EAGAIN; the others never fail).
check_run() {
    local cfg=$1 line=$2 n ok failed
    [[ -n $line ]] || return 0
    n=$(field n "$line")
    ok=$(field ok "$line")
    failed=$(field failed "$line")
    if [[ $cfg == fire ]]; then
        if [[ $failed != "$n" || $(field errno "$line") != EAGAIN ]]; then
            echo "rule did not fire on every call ($failed of $n failed)"
        fi
    elif [[ $ok != "$n" ]]; then
        echo "$cfg: only $ok of $n calls sent everything ($failed failed, $(field errno "$line"))"
    fi
}

join() { # ITEM... -> the items separated by "; "
    local out=$1
    shift
    for item in "$@"; do out+="; $item"; done
    echo "$out"
}

verdict_row() { # ROW MISS... -> the row, ended by "meets" or by its misses
    local row=$1
    shift
    if (($# == 0)); then
        echo "$row | meets |"
    else
        echo "$row | $(join "$@") |"
    fi
}

median() {
    sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) { print ""; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

n_for() { # CALL ONE MMSG
    if [[ $1 == sendmmsg ]]; then echo "$3"; else echo "$2"; fi
}

# --- the machine ------------------------------------------------------------------

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
[[ -n $cpu ]] || cpu=$(uname -m)
commit=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
echo "# sendshim benchmarks"
echo
echo "- command: \`${BENCH_QUICK:+BENCH_QUICK=$quick }make bench\` ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "- machine: $(nproc) CPUs, $cpu, Linux $(uname -r) $(uname -m), $(ldd --version 2>/dev/null | head -1 | sed 's/^ldd //')"
echo "- library: $lib (commit $commit)"
echo "- calls: 64-byte datagrams; sendmmsg sends a batch of 32 per call; each call is followed by one"
echo "  recv/recvmmsg(MSG_DONTWAIT) draining the receiver; unix = AF_UNIX SOCK_DGRAM socketpair,"
echo "  udp = UDP over 127.0.0.1"
echo "- busy rules: \`$busy_rules\`"
echo

# Every configuration must at least start: a rejected rule is a broken bench.
for cfg in idle busy fire; do
    cfg_env "$cfg"
    if ! out=$(env "${envs[@]}" "$bin" send unix 10 2>&1); then
        die "configuration $cfg does not run: $out"
    fi
done

# --- 1. callgrind -----------------------------------------------------------------

# Ir of bench_loop, inclusive (everything it calls), from callgrind's totals.
cg_ir() { # CFG CALL SOCK N -> Ir, or nothing
    local cfg=$1 call=$2 sock=$3 n=$4 f="$work/cg.out"
    rm -f "$f"
    cfg_env "$cfg"
    if ! timeout "$run_timeout" env "${envs[@]}" valgrind --tool=callgrind --toggle-collect=bench_loop \
        --callgrind-out-file="$f" -q "$bin" "$call" "$sock" "$n" >"$work/cg.stdout" 2>"$work/err"; then
        problem "callgrind $cfg $call $sock: $(head -c 300 "$work/err")"
        return 0
    fi
    awk '/^totals:/ {print $2; exit}' "$f"
}

added_ir() { # IR NONE N -> instructions per call, one decimal
    awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%+.1f", (a - b) / n }'
}

echo "## 1. Instructions per call (callgrind)"
echo
if have valgrind; then
    echo "valgrind --tool=callgrind --toggle-collect=bench_loop: Ir of the measured loop (the call and"
    echo "its drain) divided by its calls; the library's cost is the difference to no library. Targets"
    echo "(SPEC 13): idle adds <= $t_idle_ir, busy adds <= $t_busy_ir instructions per call. fire is a reference."
    echo
    echo "| call | socket | calls | none Ir/call | idle added | busy added | fire added | result |"
    echo "|---|---|---:|---:|---:|---:|---:|---|"
    for call in "${calls[@]}"; do
        for sock in "${socks[@]}"; do
            n=$(n_for "$call" "$cg_one" "$cg_mmsg")
            declare -A ir=()
            for cfg in none idle busy fire; do
                ir[$cfg]=$(cg_ir "$cfg" "$call" "$sock" "$n")
            done
            if [[ -z ${ir[none]} ]]; then
                echo "| $call | $sock | $n | failed | | | | could not run |"
                continue
            fi
            row="| $call | $sock | $n | $(awk -v a="${ir[none]}" -v n="$n" 'BEGIN { printf "%.1f", a / n }')"
            verdict=()
            for cfg in idle busy fire; do
                if [[ -z ${ir[$cfg]} ]]; then
                    row+=" | failed"
                    verdict+=("$cfg could not run")
                    continue
                fi
                a=$(added_ir "${ir[$cfg]}" "${ir[none]}" "$n")
                row+=" | $a"
                case $cfg in
                idle) t=$t_idle_ir ;;
                busy) t=$t_busy_ir ;;
                *) continue ;;
                esac
                if awk -v a="$a" -v t="$t" 'BEGIN { exit !(a > t) }'; then
                    verdict+=("MISSES $cfg <= $t")
                fi
            done
            verdict_row "$row" "${verdict[@]}"
            unset ir
        done
    done
else
    problem "valgrind is not installed: no instruction counts"
    echo "(skipped: valgrind is not installed)"
fi
echo

# --- 2. wall clock ------------------------------------------------------------------

cfgs=(none idle busy fire)
if have fiu-run; then
    cfgs+=(fiu)
else
    problem "fiu-run (fiu-utils) is not installed: no libfiu reference"
fi
have strace || problem "strace is not installed: no strace reference and no system call counts"

declare -A ns=() best=() notes=()
for ((r = 1; r <= rounds; r++)); do
    for call in "${calls[@]}"; do
        for sock in "${socks[@]}"; do
            n=$(n_for "$call" "$n_one" "$n_mmsg")
            for cfg in "${cfgs[@]}"; do
                [[ $cfg == fiu && -z $(fiu_point "$call") ]] && continue
                line=$(run "$cfg" "$call" "$sock" "$n")
                [[ -n $line ]] || continue
                ns[$call.$sock.$cfg]+="$(field ns_per_call "$line") "
                best[$call.$sock.$cfg]+="$(field ns_best "$line") "
                note=$(check_run "$cfg" "$line")
                [[ -n $note ]] && notes[$call.$sock]="$note"
            done
        done
    done
done
# strace stops the tracee on every traced call: one short run is enough.
if have strace; then
    for call in "${calls[@]}"; do
        for sock in "${socks[@]}"; do
            line=$(run strace "$call" "$sock" "$(n_for "$call" "$st_one" "$st_mmsg")")
            [[ -n $line ]] && ns[$call.$sock.strace]="$(field ns_per_call "$line")"
        done
    done
fi

echo "## 2. Wall clock per call"
echo
echo "ns per call (call + drain), median of $rounds interleaved rounds (round-robin over configurations),"
echo "$n_one calls per run ($n_mmsg for sendmmsg); in parentheses the ratio to none. strace: one run of"
echo "$st_one calls ($st_mmsg), \`strace -f --seccomp-bpf -e trace=SYSCALL -e inject=SYSCALL:error=EAGAIN:when=65535\`."
echo "fiu: \`fiu-run -x -c 'enable_random name=posix/io/net/CALL,probability=0'\` (libfiu has no sendmmsg point)."
echo "best slices: each run also times 10 equal slices of its calls; the median over rounds of the"
echo "fastest slice, idle against none (less disturbed by other processes on a busy machine)."
echo "Target (SPEC 13): idle within $t_wall_pct% of none (judged on the medians of whole runs)."
echo
echo "| call | socket | none | idle | busy | fire | fiu | strace inject | idle, best slices | result |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
for call in "${calls[@]}"; do
    for sock in "${socks[@]}"; do
        declare -A med=()
        for cfg in none idle busy fire fiu strace; do
            read -r -a vals <<<"${ns[$call.$sock.$cfg]:-}"
            med[$cfg]=$(printf '%s\n' "${vals[@]}" | median)
        done
        if [[ -n ${med[none]} ]]; then
            row="| $call | $sock | $(printf '%.0f' "${med[none]}")"
        else
            row="| $call | $sock | failed"
        fi
        for cfg in idle busy fire fiu strace; do
            if [[ -z ${med[$cfg]} ]]; then
                if [[ $cfg == fiu && -z $(fiu_point "$call") ]]; then row+=" | n/a"; else row+=" | -"; fi
            elif [[ -n ${med[none]} ]]; then
                row+=" | $(awk -v a="${med[$cfg]}" -v b="${med[none]}" 'BEGIN { printf "%.0f (%.3f)", a, a / b }')"
            else
                row+=" | $(printf '%.0f' "${med[$cfg]}")"
            fi
        done
        for cfg in none idle; do
            read -r -a vals <<<"${best[$call.$sock.$cfg]:-}"
            med[best.$cfg]=$(printf '%s\n' "${vals[@]}" | median)
        done
        if [[ -n ${med[best.none]} && -n ${med[best.idle]} ]]; then
            bratio=$(awk -v a="${med[best.idle]}" -v b="${med[best.none]}" 'BEGIN { printf "%.3f", a / b }')
            row+=" | $(printf '%.0f' "${med[best.idle]}") ($bratio)"
        else
            bratio=""
            row+=" | -"
        fi
        if [[ -z ${med[none]} || -z ${med[idle]} ]]; then
            result="could not run"
        elif awk -v a="${med[idle]}" -v b="${med[none]}" -v t="$t_wall_pct" \
            'BEGIN { exit !(a <= b * (1 + t / 100)) }'; then
            result="meets"
        else
            result="MISSES idle within $t_wall_pct%"
            if [[ -n $bratio ]] && awk -v r="$bratio" -v t="$t_wall_pct" 'BEGIN { exit !(r <= 1 + t / 100) }'; then
                result+=" (best slices within: noise?)"
            fi
        fi
        [[ -n ${notes[$call.$sock]:-} ]] && result+="; ${notes[$call.$sock]}"
        echo "$row | $result |"
        unset med
    done
done
echo

# --- 3. system calls ------------------------------------------------------------------

# strace -c over a whole run: prints "TOTAL SENDMMSG CALLS" (all system calls,
# the sendmmsg ones, and the calls sendbench made including warm-up).
count_syscalls() { # CFG CALL SOCK N
    local cfg=$1 call=$2 sock=$3 n=$4 e opts=() out
    cfg_env "$cfg"
    for e in "${envs[@]}"; do opts+=(-E "$e"); done
    if ! out=$(timeout "$run_timeout" strace -f -c -o "$work/sc" "${opts[@]}" "$bin" "$call" "$sock" "$n" \
        2>"$work/err"); then
        problem "strace -c $cfg $call $sock: $(head -c 300 "$work/err")"
        return 0
    fi
    awk -v made="$(field calls "$out")" '
        $NF == "total" { total = $4 } $NF == "sendmmsg" { mm = $4 }
        END { printf "%d %d %d\n", total, mm, made }' "$work/sc"
}

echo "## 3. System calls"
echo
if have strace; then
    echo "\`strace -f -c\` over whole runs (warm-up included). Targets (SPEC 13): sendmmsg keeps its batching"
    echo "(the same sendmmsg system calls per batch as without the library); idle and busy add no system call"
    echo "per call (what they add to a run of N1 and of N2 calls is the same: start-up only)."
    echo
    echo "| socket | config | sendmmsg syscalls per batch | all syscalls per batch | result |"
    echo "|---|---|---:|---:|---|"
    for sock in "${socks[@]}"; do
        base=""
        for cfg in none idle busy; do
            read -r tot mm made < <(count_syscalls "$cfg" sendmmsg "$sock" "$sc2_mmsg" || true) || true
            if [[ -z ${made:-} || $made == 0 ]]; then
                echo "| $sock | $cfg | failed | | could not run |"
                continue
            fi
            per=$(awk -v a="$mm" -v b="$made" 'BEGIN { printf "%.3f", a / b }')
            all=$(awk -v a="$tot" -v b="$made" 'BEGIN { printf "%.3f", a / b }')
            if [[ $cfg == none ]]; then
                base=$per
                result="(reference)"
            elif [[ $per == "$base" ]]; then
                result="meets"
            else
                result="MISSES same batching as none ($base)"
            fi
            echo "| $sock | $cfg | $per | $all | $result |"
            made=""
        done
    done
    echo
    echo "| call | socket | N1, N2 | idle adds (N1, N2) | busy adds (N1, N2) | result |"
    echo "|---|---|---|---:|---:|---|"
    for call in "${calls[@]}"; do
        for sock in "${socks[@]}"; do
            n1=$(n_for "$call" "$sc1_one" "$sc1_mmsg")
            n2=$(n_for "$call" "$sc2_one" "$sc2_mmsg")
            declare -A tot=()
            for cfg in none idle busy; do
                for n in "$n1" "$n2"; do
                    read -r t _ < <(count_syscalls "$cfg" "$call" "$sock" "$n" || true) || true
                    tot[$cfg.$n]=${t:-}
                    t=""
                done
            done
            row="| $call | $sock | $n1, $n2"
            verdict=()
            for cfg in idle busy; do
                if [[ -z ${tot[none.$n1]} || -z ${tot[none.$n2]} || -z ${tot[$cfg.$n1]} || -z ${tot[$cfg.$n2]} ]]; then
                    row+=" | failed"
                    verdict+=("$cfg could not run")
                    continue
                fi
                a1=$((${tot[$cfg.$n1]} - ${tot[none.$n1]}))
                a2=$((${tot[$cfg.$n2]} - ${tot[none.$n2]}))
                row+=" | $a1, $a2"
                ((a2 == a1)) || verdict+=("MISSES $cfg adds no syscall per call")
            done
            verdict_row "$row" "${verdict[@]}"
            unset tot
        done
    done
else
    echo "(skipped: strace is not installed)"
fi
echo

# --- 4. memory ------------------------------------------------------------------------

# Address-space randomization moves page boundaries and makes VmRSS vary by
# tens of KiB from run to run; without it the same run gives the same figure.
norand=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
    norand=(setarch "$(uname -m)" -R)
fi
mem_runs=1
((${#norand[@]})) || mem_runs=5 # then the median of several runs

mem() { # CFG NFDS NOFILE -> "VMRSS RSSANON LIBRO" in KiB, medians
    local cfg=$1 nfds=$2 nofile=$3 i out v=() a=() o=()
    cfg_env "$cfg"
    for ((i = 0; i < mem_runs; i++)); do
        if ! out=$(timeout "$run_timeout" env "${envs[@]}" "${norand[@]}" "$bin" fds "$nfds" "$nofile" 2>"$work/err"); then
            echo "error $(head -c 300 "$work/err")"
            return 0
        fi
        v+=("$(field vmrss_kib "$out")")
        a+=("$(field rssanon_kib "$out")")
        o+=("$(field lib_ro_rss_kib "$out")")
    done
    echo "$(printf '%s\n' "${v[@]}" | median) $(printf '%s\n' "${a[@]}" | median) $(printf '%s\n' "${o[@]}" | median)"
}

# The most descriptors this process may have: RLIMIT_NOFILE's hard limit can
# be raised only with CAP_SYS_RESOURCE (sendbench tries).
hard=$(ulimit -Hn)
big_note=""
big=$fds_large
if ! "$bin" fds 1 "$((fds_large + fd_slack))" >/dev/null 2>&1; then
    [[ $hard == unlimited ]] && hard=$nofile_big
    big=$((hard - fd_slack))
    big_note=" (the hard RLIMIT_NOFILE is $hard and cannot be raised here: $fds_large descriptors impossible)"
fi
nofile_wide=$nofile_big
nofile_note=""
if ! "$bin" fds 1 "$nofile_big" >/dev/null 2>&1; then
    nofile_wide=$hard
    nofile_note=" (the most allowed here; $nofile_big needs CAP_SYS_RESOURCE)"
fi

echo "## 4. Memory"
echo
echo "\`sendbench fds NFDS\`: descriptors 0..NFDS-1 in use (dups of one AF_UNIX datagram socket), one byte"
echo "sent on each, then /proc/self/status; address-space randomization off (\`setarch -R\`) so runs repeat"
echo "exactly. added = VmRSS with the library - VmRSS without; of it, state = RssAnon with - RssAnon without"
echo "(private pages written: the library's data, bss, tables, and the loader's record of it) and the"
echo "rest is shared file pages: the library's code and read-only data (code KiB, from smaps) and libc"
echo "pages it touches. Target (SPEC 13): state <= $t_state_kib KiB below 1024 descriptors, not growing"
echo "with RLIMIT_NOFILE."
[[ -n $big_note ]] && echo "Large case: $big descriptors$big_note."
echo
echo "| descriptors | RLIMIT_NOFILE | config | VmRSS none KiB | VmRSS with KiB | added KiB | code KiB | state KiB | result |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|---|"
declare -A small_state=() # state at fds_small descriptors, per configuration
mem_row() { # NFDS NOFILE CFG
    local nfds=$1 nofile=$2 cfg=$3 none with added state result shown
    read -r -a none < <(mem none "$nfds" "$nofile")
    read -r -a with < <(mem "$cfg" "$nfds" "$nofile")
    shown=$nofile
    ((nofile > nfds + fd_slack)) || shown=$((nfds + fd_slack))
    if [[ ${none[0]} == error || ${with[0]} == error ]]; then
        problem "memory $nfds descriptors $cfg: ${none[*]} ${with[*]}"
        echo "| $nfds | $shown | $cfg | | | | | | could not run |"
        return 0
    fi
    added=$((with[0] - none[0]))
    state=$((with[1] - none[1]))
    ((nfds != fds_small || nofile != 0)) || small_state[$cfg]=$state
    if ((nfds >= 1024)); then
        result="(no target above 1024 descriptors)"
        if [[ -n ${small_state[$cfg]:-} ]]; then
            result="(no target above 1024; growth $(((state - small_state[$cfg]) * 1024 / (nfds - fds_small))) bytes per descriptor)"
        fi
    elif ((state <= t_state_kib)); then
        result="meets"
    else
        result="MISSES state <= $t_state_kib KiB"
    fi
    echo "| $nfds | $shown | $cfg | ${none[0]} | ${with[0]} | $added | ${with[2]} | $state | $result |"
}
mem_row "$fds_small" 0 idle
mem_row "$fds_small" 0 busy
mem_row "$fds_small" "$nofile_wide" busy
mem_row "$big" 0 idle
mem_row "$big" 0 busy
[[ -n $nofile_note ]] && echo && echo "RLIMIT_NOFILE $nofile_wide$nofile_note."
echo

# --- 5. live control ----------------------------------------------------------------------

# An attached process counts every call in the control file, as
# SENDSHIM_STATS=1 counts in its own memory (both close the quick lane), and
# checks the file's version number first. So stats -> control is the price of
# the check (and of counting in a shared page); stats-busy -> control-busy
# compares the busy rules given by the environment and by `sendshim ctl set`.
ctl=$(dirname "$lib")/sendshim-ctl
control_file=$work/control
control_busy_file=$work/control-busy
t_control_ir=5
echo "## 5. Live control (callgrind)"
echo
if have valgrind && [[ -x $ctl ]] && "$ctl" "$control_file" init && "$ctl" "$control_busy_file" init &&
    "$ctl" "$control_busy_file" set "$busy_rules"; then
    echo "Ir per call added to no library, unix socket. stats = SENDSHIM_STATS=1; control = attached to a"
    echo "control file (\`sendshim ctl PATH init\`), which counts as stats does and checks the file's version"
    echo "on every call; -busy: the busy rules from SENDSHIM_FAULTS, or set with \`sendshim ctl PATH set\`."
    echo "Target: the version check costs at most $t_control_ir instructions per call (control - stats). The busy"
    echo "pair is a reference: rules set at run time, by ctl as by sendshim_set_faults, are read through the"
    echo "rule-set slots' reader counts (two sequentially consistent atomics), which rules from the environment skip."
    echo
    echo "| call | calls | stats added | control added | check | stats-busy added | control-busy added | check | result |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    for call in send sendto sendmsg; do
        n=$cg_one
        declare -A ir=()
        for cfg in none stats control stats-busy control-busy; do
            ir[$cfg]=$(cg_ir "$cfg" "$call" unix "$n")
        done
        row="| $call | $n"
        verdict=()
        for pair in "stats control" "stats-busy control-busy"; do
            read -r a b <<<"$pair"
            if [[ -z ${ir[none]} || -z ${ir[$a]} || -z ${ir[$b]} ]]; then
                row+=" | failed | failed | -"
                verdict+=("$a/$b could not run")
                continue
            fi
            ia=$(added_ir "${ir[$a]}" "${ir[none]}" "$n")
            ib=$(added_ir "${ir[$b]}" "${ir[none]}" "$n")
            d=$(added_ir "${ir[$b]}" "${ir[$a]}" "$n")
            row+=" | $ia | $ib | $d"
            # The busy pair is a reference: rules set at run time (by ctl or
            # sendshim_set_faults) are read through the rule-set slots'
            # reader counts, which rules from the environment skip.
            [[ $a == stats ]] || continue
            if awk -v d="$d" -v t="$t_control_ir" 'BEGIN { exit !(d > t) }'; then
                verdict+=("MISSES $b - $a <= $t_control_ir")
            fi
        done
        verdict_row "$row" "${verdict[@]}"
        unset ir
    done
else
    problem "live control: valgrind or $ctl missing, or the control files could not be made"
    echo "(skipped)"
fi
echo

# --- done -------------------------------------------------------------------------------

if [[ -s $problems ]]; then
    echo "## Could not run"
    echo
    sed 's/^/- /' "$problems"
    exit 1
fi
exit 0
