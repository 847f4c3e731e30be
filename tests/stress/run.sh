#!/bin/bash
# tests/stress/run.sh MODE - the reliability runs of issue 7 that need a
# build of their own or take longer than `make check` may (see
# tests/stress/Makefile.inc, which builds what each mode needs first).
#
#   stress    the reliability suite at full size: 64 MiB transfers, 1,000,000
#             calls per thread, a 512 MiB stream under SIGALRM, 1000 forks
#   sanitize  the integration suite against an ASan+UBSan build of the
#             library and every target (build/asan-top/build)
#   tsan      the stress targets and a ThreadSanitizer build of the library
#             (build/tsan), linked together
#   musl      the integration suite against musl-gcc builds of the library
#             and the targets (build/musl), under musl's own loader
#
# Environment: TOP (the repository), RUNNER (the integration test runner).
set -u
MODE=${1:?usage: run.sh stress|sanitize|tsan|musl}
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
RUNNER=${RUNNER:-$TOP/build/tests/integration}
JOBS=${JOBS:-2}

# A tree that looks like the repository to the test harness: <top>/build is
# the special build, <top>/scripts a copy (the launcher finds its library
# next to itself), <top>/tests the real corpus.
make_top() {
    local top=$1 build=$2
    mkdir -p "$top"
    [ "$build" = "$top/build" ] || ln -sfn "$build" "$top/build"
    rm -rf "$top/scripts" && cp -r "$TOP/scripts" "$top/scripts"
    ln -sfn "$TOP/tests" "$top/tests"
}

case $MODE in
stress)
    SENDSHIM_TOP=$TOP SENDSHIM_RELIABILITY_MIB=${STRESS_MIB:-64} \
        SENDSHIM_RELIABILITY_CALLS=${STRESS_CALLS:-1000000} \
        SENDSHIM_RELIABILITY_SIGNAL_MIB=${STRESS_SIGNAL_MIB:-512} \
        SENDSHIM_RELIABILITY_FORKS=${STRESS_FORKS:-1000} \
        "$RUNNER" --short-filename --verbose -j1 --filter 'reliability/*'
    ;;

sanitize)
    # glibc's loader puts a preloaded library before the program's own
    # dependencies, so libasan (a dependency of the library) is not first in
    # the link order and ASan would refuse to start:
    # verify_asan_link_order=0 lets it run, and since libasan still comes
    # before libc its malloc and interceptors win, also in programs that are
    # not instrumented (python3, socat, sh). LeakSanitizer cannot work under
    # ptrace (strace tests) and the library never allocates: detect_leaks=0.
    # Not run here: packaging tests that call make on the top (compat*,
    # install, manpages), valgrind (it cannot run an ASan process), the stack
    # bound (ASan's redzones make every frame larger), and secure mode (the
    # ASan runtime of a setuid program ignores ASAN_OPTIONS and aborts).
    make_top "$TOP/build/asan-top" "$TOP/build/asan-top/build"
    ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0:abort_on_error=0 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        SENDSHIM_TOP=$TOP/build/asan-top SENDSHIM_RELIABILITY_CALLS=${SANITIZE_CALLS:-20000} \
        "$RUNNER" --short-filename -j"$JOBS" \
        --filter '!(@(compat*|install|manpages)/*|reliability/@(valgrind*|stack*)|security/secure_execution*)'
    ;;

tsan)
    # The library is linked into each target (DT_NEEDED before libc, which
    # interposes exactly as LD_PRELOAD does) rather than preloaded: TSan
    # starts llvm-symbolizer with the program's environment, and a preloaded
    # TSan library (its runtime lives in the executable) cannot load there.
    T=$TOP/build/tsan/targets
    export TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_EXTRA:-}"
    fail=0
    check() {
        local name=$1
        shift
        local out=$TOP/build/tsan/$name.out
        if env "$@" >"$out" 2>&1; then
            echo "tsan $name: clean"
        else
            echo "tsan $name: FAILED (status $?), see $out"
            grep -m5 -E 'WARNING: ThreadSanitizer|SUMMARY' "$out"
            fail=1
        fi
    }
    calls=${TSAN_CALLS:-20000}
    check threads SENDSHIM_STATS=1 SENDSHIM_NOSIGPIPE=1 SENDSHIM_LOG=none SENDSHIM_SEED=1 \
        'SENDSHIM_FAULTS=*:error=EINTR:p=0.01;send:short=25%:type=stream' "$T/stress_threads" 8 "$calls"
    # The same with the rules left in force and no statistics: the descriptor step alone.
    check threads-quick SENDSHIM_NOSIGPIPE=1 SENDSHIM_FLAGS=freebsd SENDSHIM_LOG=none SENDSHIM_SEED=1 \
        'SENDSHIM_FAULTS=*:error=EINTR:p=0.01;send:short=25%:type=stream;*:error=ENOBUFS:when=1000000000' \
        "$T/stress_threads" 8 "$calls" steady
    # The same with peer= and port= rules in force: UDP senders name their
    # peer, so every thread fills and reads the named-address cache.
    check threads-named SENDSHIM_NOSIGPIPE=1 SENDSHIM_LOG=none SENDSHIM_SEED=1 \
        'SENDSHIM_FAULTS=sendto:peer=127.0.0.1:error=EINTR:p=0.02;sendto:port=1:drop;*:error=ENOBUFS:when=1000000000:peer=127.0.0.1' \
        "$T/stress_threads" 8 "$calls" steady
    check signals SENDSHIM_TRACE=1 SENDSHIM_STATS=1 SENDSHIM_LOG=none SENDSHIM_SEED=1 \
        'SENDSHIM_FAULTS=send,sendmsg:short=30%:p=0.3:type=stream;send,sendmsg:error=EINTR:p=0.1:type=stream;sendto,sendmsg:drop:p=0.02:type=dgram' \
        "$T/stress_signals" 16
    # Live control: the rules replaced from outside (sendshim ctl set/clear
    # in a loop) while the threads send; every change is applied by a
    # sending thread, racing the others.
    control=$TOP/build/tsan/control
    rm -f "$control" "$control.stop"
    "$TOP/build/sendshim-ctl" "$control" init || exit 1
    (
        while [ ! -e "$control.stop" ]; do
            "$TOP/build/sendshim-ctl" "$control" set '*:error=EINTR:p=0.05' 'send:short=25%:type=stream'
            "$TOP/build/sendshim-ctl" "$control" clear
        done
    ) &
    setter=$!
    check control SENDSHIM_CONTROL="$control" SENDSHIM_LOG=none SENDSHIM_SEED=1 \
        "$T/stress_threads" 8 "$calls" steady
    touch "$control.stop"
    wait "$setter"
    grep -q '^calls .*total=' "$TOP/build/tsan/control.out" || { echo "tsan control: no counts"; fail=1; }
    rm -f "$control" "$control.stop"
    check fork-storm SENDSHIM_LOG=none SENDSHIM_FAULTS=sendto:error=EINTR:fd=9999 "$T/stress_fork" storm 50 4
    check exec-chain SENDSHIM_TRACE=1 SENDSHIM_FAULTS=send:delay=1ns:when=1 "$T/stress_fork" chain 3
    # Threads sharing one descriptor's rate= bucket (issue 16).
    check rate-threads SENDSHIM_LOG=none 'SENDSHIM_FAULTS=*:rate=4MiB/s:type=stream' \
        "$T/netfault" ratethreads 4 2097152
    check vfork SENDSHIM_FAULTS=send:delay=1ns:when=1 "$T/stress_fork" vfork
    check spawn SENDSHIM_FAULTS=send:delay=1ns:when=1 "$T/stress_fork" spawn
    exit $fail
    ;;

musl)
    # A musl program can only preload a musl library, and the other way
    # round: glibc's loader, asked to preload the musl build, resolves its
    # DT_NEEDED libc.so to glibc's linker script and stops the program. So
    # only tests whose programs are our targets run here; the ones left out
    # run glibc programs under the library (sh, bash via the launcher,
    # python3, socat, nginx, strace with the library preloaded into it, /bin/true,
    # yes), need make on the top (compat*, install, manpages), or compare
    # with glibc's own behaviour without the library (normalize_e2e: musl
    # masks msghdr fields itself and, on 64-bit, implements sendmmsg as a
    # loop of sendmsg, so batching is lost by musl before the library).
    # The helper of `sendshim ctl` is built with musl too (build/musl).
    make_top "$TOP/build/musl-top" "$TOP/build/musl"
    SENDSHIM_TOP=$TOP/build/musl-top SENDSHIM_RELIABILITY_CALLS=${MUSL_CALLS:-50000} \
        "$RUNNER" --short-filename -j"$JOBS" \
        --filter '!(@(compat*|install|manpages|launcher|normalize_e2e)/*|reliability/@(valgrind*|large_transfers*|exec_through_a_shell*)|core/@(python3*|socat*|strace*)|logfd/python3*|fdtruth/python3*|faults/@(python3*|socat*|batch_is_one*)|security/every_bad_input_stops_bin_true*|sigpipe/@(python3*|yes_head*)|control/@(python3*|stats_of_python*|launcher*|program_*)|net_rate/python3*|net_nginx/*|net_programs/*)'
    ;;
*)
    echo "run.sh: unknown mode $MODE" >&2
    exit 2
    ;;
esac
