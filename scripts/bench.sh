#!/usr/bin/env bash
# bench.sh - the benchmarks of SPEC section 13, side by side in one run.
#
#   scripts/bench.sh            (what `make bench` runs; ~4 minutes on 2 cores)
#   BENCH_QUICK=1 scripts/bench.sh   (a ~1 minute smoke run: fewer calls and rounds)
#
# Environment: SENDSHIM_LIB (default build/libsendshim.so), SENDBENCH (default
# build/bench/sendbench), BENCH_ROUNDS (wall-clock rounds, default 7, quick 3).
#
# Figure 1 runs the 15 configurations of SPEC section 13's table (r1 .. r15,
# defined in row_env below) on a connected UDP socket. Figures 2 to 5 use:
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
#   1. SPEC 13's table, row by row, each against its own target:
#      instructions added per call (callgrind: Ir of bench_loop / N, with the
#      library minus without) for send, sendto and sendmsg (sendmmsg in the
#      sendmmsg row), and the system calls added per call (strace -c over
#      runs of N1 and of N2 calls: what the library adds must not grow with N)
#   2. wall-clock ns per call, median of interleaved rounds, ratio to none
#   3. system calls of sendmmsg: per batch, and the ones the library adds to
#      a whole run of N1 and of N2 batches (the difference must not grow with N)
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
    rs1_one=50 rs2_one=500    # figure 1's syscall counts: two run lengths
    rs1_mmsg=20 rs2_mmsg=200
    sc1_mmsg=10 sc2_mmsg=100  # figure 3's syscall counts: two run lengths
    rounds=${BENCH_ROUNDS:-3}
else
    n_one=50000 n_mmsg=3000
    cg_one=20000 cg_mmsg=2000
    st_one=5000 st_mmsg=300
    rs1_one=200 rs2_one=2000
    rs1_mmsg=50 rs2_mmsg=500
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
ctl=$(dirname "$lib")/sendshim-ctl

# SPEC section 13 targets; never lowered. Figure 1's are in the rows below.
t_wall_pct=2
t_state_kib=64

# shellcheck source=tests/bench/busy_rules.sh
source "$top/tests/bench/busy_rules.sh"

# --- SPEC 13's rows (figure 1) ------------------------------------------------------
#
# Every row runs sendbench on a connected UDP socket (sock conn: 127.0.0.1 to
# 127.0.0.1, sendto naming the connected peer). error=EIO is not an error the
# send family can return (SPEC 8), so the rules that must never act say
# error=ENOBUFS.
never_due=1000000000
rule_not_due="*:when=$never_due:error=ENOBUFS"
# 8 rules none of which can match the benchmark's socket: its descriptor is
# below 999, it is a datagram, inet socket whose peer is 127.0.0.1 on an
# ephemeral port, and it is never given to sendmmsg or write.
rules_no_match="*:fd=999:error=ENOBUFS;*:type=stream:error=ENOBUFS;*:family=inet6:error=ENOBUFS\
;*:port=9:error=ENOBUFS;*:peer=127.0.0.2:error=ENOBUFS;sendmmsg:error=ENOBUFS;write:error=ENOBUFS\
;*:family=unix:error=ENOBUFS"
rows=(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
row_what=(""
    "nothing configured (\`LD_PRELOAD\` only)"
    "\`SENDSHIM_NOSIGPIPE=1\`"
    "\`SENDSHIM_NOSIGPIPE=1 SENDSHIM_FLAGS=freebsd\`"
    "8 rules none of which can match the socket (fd=, type=, family=, port=, peer=, other calls)"
    "one matching rule not yet due: \`$rule_not_due\`"
    "the same with \`peer=127.0.0.1\` (the connected peer)"
    "\`*:when=2:error=EAGAIN\`, after it fired once (2nd call, in the warm-up)"
    "after=: \`*:after=1:when=$never_due:error=ENOBUFS\`"
    "a matching p= rule: \`*:p=0.000001:error=ENOBUFS\` (SENDSHIM_SEED=1)"
    "row 5's rule given at run time by \`sendshim_set_faults\` (before the first call)"
    "row 5's rule given by live control (\`SENDSHIM_CONTROL\`, \`sendshim ctl PATH set\` before the start)"
    "\`SENDSHIM_STATS=1\`"
    "busy: NOSIGPIPE + freebsd + 8 rules of mixed conditions, none firing"
    "sendmmsg of 32 messages, busy (per batch)"
    "a rule firing on every call: \`*:error=EAGAIN\`"
)
row_target=("" 10 15 20 30 40 45 40 40 60 40 40 40 60 300 250)
row_same_as=5        # rows 10 and 11 must cost what row 5 costs:
row_same_pct=10      # within this many percent of it (and their own target)

# row_env ROW: the configuration of one row (envs, opts). Rules that fire or
# could fire log nothing: SENDSHIM_LOG=none everywhere a rule is given.
row_env() {
    envs=("LD_PRELOAD=$lib")
    case $1 in
    1) ;;
    2) envs+=(SENDSHIM_NOSIGPIPE=1) ;;
    3) envs+=(SENDSHIM_NOSIGPIPE=1 SENDSHIM_FLAGS=freebsd) ;;
    4) envs+=("SENDSHIM_FAULTS=$rules_no_match" SENDSHIM_LOG=none) ;;
    5) envs+=("SENDSHIM_FAULTS=$rule_not_due" SENDSHIM_LOG=none) ;;
    6) envs+=("SENDSHIM_FAULTS=$rule_not_due:peer=127.0.0.1" SENDSHIM_LOG=none) ;;
    7) envs+=("SENDSHIM_FAULTS=*:when=2:error=EAGAIN" SENDSHIM_LOG=none) ;;
    8) envs+=("SENDSHIM_FAULTS=*:after=1:when=$never_due:error=ENOBUFS" SENDSHIM_LOG=none) ;;
    9) envs+=("SENDSHIM_FAULTS=*:p=0.000001:error=ENOBUFS" SENDSHIM_SEED=1 SENDSHIM_LOG=none) ;;
    10)
        envs+=(SENDSHIM_LOG=none)
        opts=(-f "$rule_not_due")
        ;;
    11) envs+=("SENDSHIM_CONTROL=$(control_with "$rule_not_due")" SENDSHIM_LOG=none) ;;
    12) envs+=(SENDSHIM_STATS=1 SENDSHIM_LOG=none) ;;
    13 | 14) envs+=(SENDSHIM_NOSIGPIPE=1 SENDSHIM_FLAGS=freebsd "SENDSHIM_FAULTS=$busy_rules" SENDSHIM_LOG=none) ;;
    15) envs+=("SENDSHIM_FAULTS=*:error=EAGAIN" SENDSHIM_LOG=none) ;;
    *) die "internal: no row $1" ;;
    esac
}

row_calls() { # ROW -> the calls the row measures
    if [[ $1 == 14 ]]; then echo sendmmsg; else echo send sendto sendmsg; fi
}

# control_with RULES: a fresh control file (one per run: each attached
# process takes a slot in it) with RULES set; prints its path.
control_with() {
    local f
    f=$(mktemp -u "$work/control-row.XXXXXX")
    if ! "$ctl" "$f" init || ! "$ctl" "$f" set "$1"; then
        die "cannot make a control file with $ctl"
    fi
    echo "$f"
}

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
# the array envs (empty for none), and sendbench's options in opts.
cfg_env() {
    opts=()
    case $1 in
    r[0-9]*) row_env "${1#r}" ;;
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
        out=$(timeout "$run_timeout" env "${envs[@]}" "$bin" "${opts[@]}" "$call" "$sock" "$n" 2>"$err") || rc=$?
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
# means (the fire rule must fail every call with EAGAIN; row 7's rule fires
# once, on the second call, in the warm-up; row 9's p= may fire, rarely; the
# others never fail).
check_run() {
    local cfg=$1 line=$2 n ok failed
    [[ -n $line ]] || return 0
    n=$(field n "$line")
    ok=$(field ok "$line")
    failed=$(field failed "$line")
    if [[ $cfg == fire || $cfg == r15 ]]; then
        if [[ $failed != "$n" || $(field errno "$line") != EAGAIN ]]; then
            echo "rule did not fire on every call ($failed of $n failed)"
        fi
    elif [[ $cfg == r7 && $(field warm_failed "$line") != 1 ]]; then
        echo "$cfg: the when=2 rule fired $(field warm_failed "$line") times in the warm-up, not once"
    elif [[ $cfg == r9 && $((ok + failed)) == "$n" && $failed != 0 ]]; then
        echo "$cfg: p= fired on $failed of $n calls"
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

commas() { # ITEM... -> the items separated by ", "
    local out=$1
    shift
    for item in "$@"; do out+=", $item"; done
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
echo "  udp = UDP over 127.0.0.1 (sendto on an unconnected socket), conn = connected UDP over 127.0.0.1"
echo "- busy rules: \`$busy_rules\`"
echo

# Every configuration must at least start: a rejected rule is a broken bench.
[[ -x $ctl ]] || die "no $ctl (run make)"
for cfg in idle busy fire "${rows[@]/#/r}"; do
    cfg_env "$cfg"
    if ! out=$(env "${envs[@]}" "$bin" "${opts[@]}" send conn 10 2>&1); then
        die "configuration $cfg does not run: $out"
    fi
done
# Rows 10 and 11 give their rule by other routes: they must reach the
# process (a rule that fires on every call, given the same way, must fire).
out=$(env "LD_PRELOAD=$lib" SENDSHIM_LOG=none "$bin" -f "*:error=EAGAIN" send conn 10 2>&1) || true
[[ $(field failed "$out") == 10 ]] || die "sendshim_set_faults (row 10) did not install a rule: $out"
out=$(env "LD_PRELOAD=$lib" SENDSHIM_LOG=none "SENDSHIM_CONTROL=$(control_with "*:error=EAGAIN")" \
    "$bin" send conn 10 2>&1) || true
[[ $(field failed "$out") == 10 ]] || die "live control (row 11) did not install a rule: $out"


# --- 1. SPEC 13's table -------------------------------------------------------------

# strace -c over a whole run: prints "TOTAL SENDMMSG CALLS" (all system calls,
# the sendmmsg ones, and the calls sendbench made including warm-up).
count_syscalls() { # CFG CALL SOCK N
    local cfg=$1 call=$2 sock=$3 n=$4 e eopts=() out
    cfg_env "$cfg"
    for e in "${envs[@]}"; do eopts+=(-E "$e"); done
    if ! out=$(timeout "$run_timeout" strace -f -c -o "$work/sc" "${eopts[@]}" "$bin" "${opts[@]}" "$call" "$sock" "$n" \
        2>"$work/err"); then
        problem "strace -c $cfg $call $sock: $(head -c 300 "$work/err")"
        return 0
    fi
    awk -v made="$(field calls "$out")" '
        $NF == "total" { total = $4 } $NF == "sendmmsg" { mm = $4 }
        END { printf "%d %d %d\n", total, mm, made }' "$work/sc"
}

# Ir of bench_loop, inclusive (everything it calls), from callgrind's totals.
cg_ir() { # CFG CALL SOCK N -> Ir, or nothing
    local cfg=$1 call=$2 sock=$3 n=$4 f="$work/cg.out"
    rm -f "$f"
    : >"$work/cg.stdout"
    cfg_env "$cfg"
    if ! timeout "$run_timeout" env "${envs[@]}" valgrind --tool=callgrind --toggle-collect=bench_loop \
        --callgrind-out-file="$f" -q "$bin" "${opts[@]}" "$call" "$sock" "$n" >"$work/cg.stdout" 2>"$work/err"; then
        problem "callgrind $cfg $call $sock: $(head -c 300 "$work/err")"
        return 0
    fi
    awk '/^totals:/ {print $2; exit}' "$f"
}

added_ir() { # IR NONE N -> instructions per call, one decimal
    awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%+.1f", (a - b) / n }'
}

# syscalls_added CFG CALL N1 N2 -> the system calls CFG adds per call: what
# it adds to a run of N2 calls minus what it adds to a run of N1, over the
# calls in between (start-up cancels out); nothing when a run failed.
# The bare runs are counted once per call and length, by bare_syscalls in
# this shell (syscalls_added runs in a subshell, which sees them).
declare -A bare_sc=() # "total made" of the bare runs, by call and length
bare_syscalls() { # CALL N
    local t m
    [[ -z ${bare_sc[$1.$2]:-} ]] || return 0
    read -r t _ m < <(count_syscalls none "$1" conn "$2" || true) || true
    [[ -n ${m:-} && $m != 0 ]] && bare_sc[$1.$2]="$t $m"
    return 0
}
syscalls_added() {
    local cfg=$1 call=$2 n1=$3 n2=$4 t1 t2 m1 m2 lib1 lib2 made1 made2
    [[ -n ${bare_sc[$call.$n1]:-} && -n ${bare_sc[$call.$n2]:-} ]] || return 0
    read -r lib1 _ made1 < <(count_syscalls "$cfg" "$call" conn "$n1" || true) || true
    read -r lib2 _ made2 < <(count_syscalls "$cfg" "$call" conn "$n2" || true) || true
    [[ -n ${made1:-} && -n ${made2:-} && $made1 != 0 && $made2 != 0 ]] || return 0
    read -r t1 m1 <<<"${bare_sc[$call.$n1]}"
    read -r t2 m2 <<<"${bare_sc[$call.$n2]}"
    if [[ $m1 != "$made1" || $m2 != "$made2" ]]; then
        problem "strace -c $cfg $call: made $made1/$made2 calls, the bare runs $m1/$m2"
        return 0
    fi
    awk -v a1=$((lib1 - t1)) -v a2=$((lib2 - t2)) -v c=$((made2 - made1)) \
        'BEGIN { printf "%+.2f %d %d\n", (a2 - a1) / c, a1, a2 }'
}

echo "## 1. SPEC 13, row by row"
echo
if have valgrind && have strace; then
    echo "One call in a loop on a connected UDP socket (127.0.0.1 to 127.0.0.1; sendto names the connected"
    echo "peer), each call followed by a non-blocking recv. Instructions added per call: \`valgrind"
    echo "--tool=callgrind --toggle-collect=bench_loop\`, Ir of the loop with the library minus Ir without,"
    echo "divided by its $cg_one calls ($cg_mmsg sendmmsg batches of 32; the kernel's work is not counted)."
    echo "Extra system calls per call: \`strace -f -c\` over runs of $rs1_one and of $rs2_one calls ($rs1_mmsg and $rs2_mmsg batches),"
    echo "(library - bare at $rs2_one) - (library - bare at $rs1_one), over the calls in between (start-up"
    echo "cancels out; send, sendto, sendmsg). A row meets its target when every call adds at most the"
    echo "target and no system call; rows 10 and 11 must also be within $row_same_pct% of row $row_same_as."
    echo
    echo "| row | configuration | target | send | sendto | sendmsg | sendmmsg | extra syscalls per call | verdict |"
    echo "|---:|---|---:|---:|---:|---:|---:|---|---|"
    declare -A bare_ir=() row_ir=()
    for row in "${rows[@]}"; do
        target=${row_target[$row]}
        read -r -a rcalls <<<"$(row_calls "$row")"
        broken=() row_notes=() cells=() sc_cells=()
        over=() not_same=() sc_over=() sc_under=() # the calls that miss, by what
        for call in send sendto sendmsg sendmmsg; do
            if [[ " ${rcalls[*]} " != *" $call "* ]]; then
                cells+=("-")
                continue
            fi
            n=$(n_for "$call" "$cg_one" "$cg_mmsg")
            if [[ -z ${bare_ir[$call]:-} ]]; then
                bare_ir[$call]=$(cg_ir none "$call" conn "$n")
            fi
            ir=$(cg_ir "r$row" "$call" conn "$n")
            note=$(check_run "r$row" "$(cat "$work/cg.stdout")")
            [[ -n $note ]] && row_notes+=("$call: $note")
            if [[ -z ${bare_ir[$call]} || -z $ir ]]; then
                cells+=("failed")
                broken+=("$call")
                problem "row $row $call: no instruction count"
            else
                a=$(added_ir "$ir" "${bare_ir[$call]}" "$n")
                row_ir[$row.$call]=$a
                cell=$a
                if awk -v a="$a" -v t="$target" 'BEGIN { exit !(a > t) }'; then
                    over+=("$call $a")
                fi
                if ((row == 10 || row == 11)) && [[ -n ${row_ir[$row_same_as.$call]:-} ]]; then
                    ratio=$(awk -v a="$a" -v b="${row_ir[$row_same_as.$call]}" \
                        'BEGIN { if (b <= 0) print "-"; else printf "%.2f", a / b }')
                    cell+=" (x$ratio)"
                    if [[ $ratio == - ]] || awk -v r="$ratio" -v p="$row_same_pct" 'BEGIN { exit !(r > 1 + p / 100) }'; then
                        not_same+=("$call x$ratio")
                    fi
                fi
                cells+=("$cell")
            fi
            n1=$(n_for "$call" "$rs1_one" "$rs1_mmsg")
            n2=$(n_for "$call" "$rs2_one" "$rs2_mmsg")
            bare_syscalls "$call" "$n1"
            bare_syscalls "$call" "$n2"
            sc=$(syscalls_added "r$row" "$call" "$n1" "$n2")
            if [[ -z $sc ]]; then
                sc_cells+=("failed")
                broken+=("$call: system calls could not be counted")
                problem "row $row $call: system calls could not be counted"
                continue
            fi
            read -r per a1 a2 <<<"$sc"
            sc_cells+=("$per")
            # Fewer is no miss: a call a rule fails is never made.
            if awk -v p="$per" 'BEGIN { exit !(p > 0) }'; then
                sc_over+=("$call $per (+$a1 in a run of $n1, +$a2 in $n2)")
            elif awk -v p="$per" 'BEGIN { exit !(p < 0) }'; then
                sc_under+=("$call")
            fi
        done
        line="| $row | ${row_what[$row]} | $target"
        for cell in "${cells[@]}"; do line+=" | $cell"; done
        sep=""
        line+=" | "
        for cell in "${sc_cells[@]}"; do
            line+="$sep$cell"
            sep=" / "
        done
        if ((${#broken[@]})); then
            result="could not run: $(join "${broken[@]}")"
        elif ((${#over[@]} + ${#not_same[@]} + ${#sc_over[@]})); then
            misses=()
            ((${#over[@]} == 0)) || misses+=("$(commas "${over[@]}") > $target")
            ((${#not_same[@]} == 0)) || misses+=("$(commas "${not_same[@]}") of row $row_same_as")
            ((${#sc_over[@]} == 0)) || misses+=("system calls added per call: $(commas "${sc_over[@]}")")
            result="MISSES: $(join "${misses[@]}")"
        else
            result="meets"
        fi
        ((${#sc_under[@]} == 0)) || row_notes+=("$(commas "${sc_under[@]}"): fewer system calls, the failed call is never made")
        ((${#row_notes[@]} == 0)) || result+=" ($(join "${row_notes[@]}"))"
        echo "$line | $result |"
    done
    echo
    echo "Rules: row 4 \`$rules_no_match\`; rows 13 and 14 \`$busy_rules\`."
else
    problem "valgrind or strace is not installed: no SPEC 13 table"
    echo "(skipped: valgrind or strace is not installed)"
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

echo "## 3. System calls"
echo
if have strace; then
    echo "\`strace -f -c\` over whole runs (warm-up included). Targets (SPEC 13): sendmmsg keeps its batching"
    echo "(the same sendmmsg system calls per batch as without the library); idle and busy add no system call"
    echo "per batch (what they add to a run of N1 and of N2 batches is the same: start-up only). send, sendto"
    echo "and sendmsg: figure 1's last column."
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
    call=sendmmsg
    for sock in "${socks[@]}"; do
        n1=$sc1_mmsg
        n2=$sc2_mmsg
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
# SENDSHIM_STATS=1 counts in its own memory, and
# checks the file's version number first. So stats -> control is the price of
# the check (and of counting in a shared page); stats-busy -> control-busy
# compares the busy rules given by the environment and by `sendshim ctl set`.
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
    echo "pair is a reference: the same rules from the environment and from the control file (SPEC 13: rules"
    echo "given at run time cost what they cost from the environment; figure 1's rows 10 and 11 judge that)."
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
            # The busy pair is a reference (figure 1's rows 10 and 11 judge
            # rules given at run time).
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
