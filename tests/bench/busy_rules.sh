# shellcheck shell=bash
# busy_rules.sh - the "busy" configuration's rules, sourced by scripts/bench.sh
# and scripts/bench_server.sh so both measure the same thing.
#
# 8 rules that match every call and never fire: their when= lies beyond any
# run, so each rule's counter still moves on every call (SPEC section 8) and
# the p= draw is never made. Different actions and conditions, so the decision
# stage does its full work.
never=1000000000000
# shellcheck disable=SC2034 # used by the scripts that source this file
busy_rules="*:error=EAGAIN:when=$never;*:error=EINTR:when=$never..;*:error=ENOBUFS:when=$never+2\
;*:drop:when=$never:type=dgram;*:delay=1ms:when=$never:family=unix,inet;*:error=EPIPE:when=$never:p=0.5\
;*:short=50%:when=$never:type=stream,dgram;*:error=ECONNREFUSED:when=$never:after=0"
