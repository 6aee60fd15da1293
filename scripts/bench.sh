#!/usr/bin/env bash
# Throughput of `vigil serve` against rsyslogd, with the same load, in one run; then detection.
#
# Ingest (part ingest): for each receiver in the same run, on loopback, first with realistic
# traffic (the headline figures), then with filler, printed in two tables:
#   - realistic: vigil-bench load --mix mixed --hosts 41: RFC 5424 sshd lines and RFC 3164 nginx
#     access lines (2 for 3), from 41 hosts (web-01...web-41) and 1,000,000 source addresses;
#   - filler: vigil-bench load --size BENCH_SIZE: RFC 5424 lines of BENCH_SIZE bytes from 16 hosts.
# Each traffic: TCP (octet-counted) with 1 and with 8 connections: msgs/s from the first send until
# all N messages are in DATA/hosts/*/*.log; for realistic traffic also the receiver's CPU time
# (/proc utime + stime of all its threads, from before the first send until then) per message and
# as a share of one core. Then UDP (one frame per datagram) at the sender's full speed (loss) and
# at the rates of BENCH_UDP_RATES, 2 s each, then at rates halving the gap between the highest
# loss-free one and the lowest lossy one above it down to BENCH_UDP_RESOLUTION (the highest
# loss-free rate found is the one reported), with the receiver's CPU time per datagram stored and
# the sender's (vigil-bench's own, which on loopback holds the kernel's delivery when the kernel
# does not account interrupt time apart) per datagram sent in the run that set it; loss is datagrams sent
# minus lines stored, so every stored line is checked to be one whole frame. The ratio column is
# vigil/rsyslogd. With BENCH_THREADS set, vigil's realistic TCP and UDP phases run once per thread
# count N with `vigil serve --threads N`, one vigil row each (against the same rsyslogd figures),
# and the TCP ones print each of vigil's threads' CPU time per message (/proc per thread); every
# other vigil phase runs without --threads. Then vigil's parser alone (vigil-bench parse).
# rsyslogd runs with a private config (imtcp, imudp, no imuxsock, no /dev/log) writing one file
# per host and day with %rawmsg%, like vigil. rsyslogd's omfile writes its buffer at the end of
# every batch it dequeues (flushOnTXEnd); vigil writes a file's buffer once it passes 64 KiB and
# the rest at its flush, which runs here every 100 ms (--server.flush_interval 100ms; the default,
# 1 s, would add up to a second of waiting for the last lines to every run: a latency setting,
# not a throughput one).
#
# Detection (vigil only, after the tables above):
#   - extract + detect on one core (vigil-bench detect): realistic sshd and nginx frames through
#     SyslogParser + Analyzer with the default rules, msgs/s; resident memory with 1,000,000
#     distinct source IPs in the windows, and with 3,000,000 (past the 1M key cap: eviction);
#     the rules' own cost on one core (--rules on and off, messages from 1,000,000 IPs).
#   - alert latency in the running daemon (vigil-bench latency): a paced realistic load plus
#     bursts of failed logins from fresh IPs, each timed from its write until its ssh_bruteforce
#     alert is in the file sink; p50/p99.
#   - the cost of detection: serve's TCP ingest rate for realistic frames with the default rules
#     and with every rule disabled, at --threads 1 (detection on the same thread as ingest).
#
# API (vigil only; docs/api.md): a store of BENCH_API_STORE_MB (1024) MB of realistic sshd and
# nginx lines from 16 hosts is built through vigil itself, then a vigil with the API on reads it:
#   - /hosts/H/logs?filter=Failed+password&count=100 under 4 keep-alive clients (vigil-bench api):
#     requests/s, p50 and p99 latency, alone and while ingesting;
#   - serve's TCP ingest rate alone and under that API load (the loss must stay under 10 %);
#   - one search for text that is nowhere (every day file of H read backwards), against
#     `tac FILE | grep -F -m 100` on the same file, the way operators search today.
#
# Sharding (BENCH_PARTS=shard, not in the default list; docs/scaling.md): BENCH_SHARD_COUNT
# (400000) events, one per line (half sshd failures, half requests, each from its own address),
# into an edge vigil relaying through a private rsyslogd running conf/rsyslog-shard.conf to two
# central vigils; the CPU time each stage spent per event (/proc per thread: the edge's main and
# relay sender threads, rsyslogd's ruleset worker and in total, one central's main thread), so
# events/s per core of each stage, whatever else shares the machine.
#
# UDP alone (BENCH_PARTS=udp, not in the default list): the ingest part's realistic UDP phase,
# vigil's (once per BENCH_THREADS count, if set) then rsyslogd's, BENCH_UDP_ROUNDS times, one
# table per round and vigil run: the UDP rows are the noisiest on two shared cores, so comparing
# builds or settings needs several rounds. BENCH_RSYSLOG_UDP_THREADS sets imudp's `threads`
# (default 1, rsyslog's own default) for every rsyslogd run of the script.
#
# Forward (BENCH_PARTS=forward, about 40 s; docs/forward.md): `vigil forward` against rsyslogd's
# imfile -> omfwd (the peer operators run today), shipping the same two files from their start:
# BENCH_FORWARD_LINES (1000000) lines, half an auth.log (`vigil generate ssh --format auth`), half
# an access.log (`vigil generate http --format combined`). Both send to one `vigil serve` on
# loopback, restarted with an empty data dir for every run (flush_interval 100ms, so the last lines
# are not held a second; every rule off, so the receiver does the same work for both shippers):
# RFC 5424, octet-counted over TCP (rsyslog: omfwd with RSYSLOG_SyslogProtocol23Format, from a
# private config with its own workDirectory and pid file). Wall time from the shipper's start
# until all N lines are in DATA/hosts/*/*.log, lines/s, the shipper's CPU time (/proc utime +
# stime) per line and peak RSS (VmHWM); the shippers alternate, 3 runs each, medians printed.
# Each run must deliver exactly N lines, N/2 of them the access.log's. BENCH_ONLY does not apply.
#
# Environment: BENCH_COUNT (TCP messages, default 2000000), BENCH_UDP_COUNT (default 300000),
# BENCH_UDP_RATES (default "100000 200000 300000 400000"), BENCH_UDP_SENDERS (UDP sender threads,
# default 3: one thread alone cannot outrun either receiver on loopback), BENCH_UDP_ROUNDS (rounds
# of part udp, default 1), BENCH_UDP_RESOLUTION (msgs/s, default 10000),
# BENCH_SIZE (bytes per filler message, 200), BENCH_THREADS (space-separated `vigil serve --threads`
# counts for the realistic TCP and UDP phases and part udp, e.g. "1 2"; default empty: vigil runs without --threads),
# BENCH_TIMEOUT (seconds per phase, 180), BENCH_ONLY (vigil or rsyslog), BENCH_NO_BUILD=1,
# VIGIL=PATH (another vigil binary), BENCH_PARTS (default "ingest forward detect latency cost sinks api analyze"; analyze runs scripts/bench-analyze.sh),
# BENCH_DETECT_COUNT (default 5000000), BENCH_LATENCY_RATE (default 500000),
# BENCH_LATENCY_SECONDS (default 10), BENCH_COST_COUNT (default 2000000),
# BENCH_API_STORE_MB (default 1024), BENCH_API_SECONDS (API-alone run, default 10),
# BENCH_FORWARD_LINES (default 1000000), BENCH_BIN_DIR=DIR (take vigil and vigil-bench from DIR,
# e.g. a release build made with --scratch-path; implies no build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

COUNT=${BENCH_COUNT:-2000000}
UDP_COUNT=${BENCH_UDP_COUNT:-300000}
UDP_RATES=${BENCH_UDP_RATES:-100000 200000 300000 400000}
UDP_SENDERS=${BENCH_UDP_SENDERS:-3}
UDP_ROUNDS=${BENCH_UDP_ROUNDS:-1}
UDP_RESOLUTION=${BENCH_UDP_RESOLUTION:-10000}
RSYSLOG_UDP_THREADS=${BENCH_RSYSLOG_UDP_THREADS:-1}
SIZE=${BENCH_SIZE:-200}
THREADS=${BENCH_THREADS:-}
# vigil's --threads counts for the realistic phases: BENCH_THREADS's, or one run without ("").
read -ra VIGIL_RUNS <<<"$THREADS"
[ ${#VIGIL_RUNS[@]} -gt 0 ] || VIGIL_RUNS=("")
# The ingest part's realistic traffic: sshd and nginx lines (vigil-bench's mix "mixed": 2 sshd
# lines for 3 nginx lines) from 41 hosts (a count sharing no factor with the mix's period of 20
# lines, so every host sends every kind of line) and 1,000,000 source addresses.
REAL_HOSTS=41
REAL_IPS=1000000
TIMEOUT=${BENCH_TIMEOUT:-180}
ONLY=${BENCH_ONLY:-}
UDP_RATE_SECONDS=2
PARTS=" ${BENCH_PARTS:-ingest forward detect latency cost sinks api analyze} "
DETECT_COUNT=${BENCH_DETECT_COUNT:-5000000}
LATENCY_RATE=${BENCH_LATENCY_RATE:-500000}
LATENCY_SECONDS=${BENCH_LATENCY_SECONDS:-10}
COST_COUNT=${BENCH_COST_COUNT:-2000000}
SHARD_COUNT=${BENCH_SHARD_COUNT:-400000}
API_STORE_MB=${BENCH_API_STORE_MB:-1024}
API_SECONDS=${BENCH_API_SECONDS:-10}
FORWARD_LINES=${BENCH_FORWARD_LINES:-1000000}
# Every rule, for the detection-cost phase that turns them all off.
RULES="ssh_bruteforce ssh_distributed ssh_repeat_access ssh_long_session http_high_traffic http_error_burst http_scan"

# part NAME: true when BENCH_PARTS includes NAME.
part() { [[ $PARTS == *" $1 "* ]]; }

for n in "$COUNT" "$UDP_COUNT" "$UDP_ROUNDS" "$UDP_RESOLUTION" "$RSYSLOG_UDP_THREADS" "$SIZE" "$TIMEOUT" $UDP_RATES $THREADS "$DETECT_COUNT" "$LATENCY_RATE" "$LATENCY_SECONDS" "$COST_COUNT" "$SHARD_COUNT" \
    "$API_STORE_MB" "$API_SECONDS" "$FORWARD_LINES"; do
    if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -eq 0 ]; then die "bench settings must be positive integers (got '$n')"; fi
done

WORK=$(mktemp -d /tmp/vigil-bench.XXXXXX)
CHILDREN=()
cleanup() {
    local pid
    for pid in "${CHILDREN[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${BENCH_BIN_DIR:-}" ]; then
    BIN_DIR=$BENCH_BIN_DIR
elif [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
    BIN_DIR=$(cd "$ROOT" && swift build -c release --show-bin-path)
else
    build_release "$ROOT"
fi
VIGIL=${VIGIL:-$BIN_DIR/vigil}
LOADGEN=$BIN_DIR/vigil-bench
[ -x "$LOADGEN" ] || die "missing $LOADGEN"
ensure_command rsyslogd rsyslog

# Results, keyed "receiver.metric".
declare -A R

# --- receivers: start_<name> DATA_DIR [VIGIL_ARGS...] sets SERVER_PID, TCP_PORT, UDP_PORT;
# stop_server stops it. Only vigil takes arguments (appended to `vigil serve`).

start_vigil_receiver() {
    local data=$1
    shift
    start_vigil "$data" "$data.stderr" --stats-interval 1s --server.flush_interval 100ms "$@" || return 1
    SERVER_PID=$VIGIL_PID
    CHILDREN+=("$SERVER_PID")
    TCP_PORT=$VIGIL_TCP_PORT
    UDP_PORT=$VIGIL_UDP_PORT
}

start_rsyslog_receiver() {
    local data=$1 work="$1.rsyslog"
    mkdir -p "$data/hosts" "$work/spool"
    TCP_PORT=$(free_port)
    UDP_PORT=$(free_port)
    cat >"$work/rsyslog.conf" <<EOF
# Private rsyslogd for bench.sh: loopback inputs only, no imuxsock, one file per host and day.
global(workDirectory="$work/spool" maxMessageSize="64k")
module(load="imtcp" maxSessions="1000")
module(load="imudp" threads="$RSYSLOG_UDP_THREADS")
template(name="benchFile" type="string"
         string="$data/hosts/%hostname:::lowercase%/%\$year%-%\$month%-%\$day%.log")
template(name="benchLine" type="string" string="%rawmsg%\n")
ruleset(name="bench") {
    # Synchronous writes with a 64 KiB buffer: the fastest omfile setting measured here
    # (asyncWriting="on" was 5x slower, the default 4 KiB buffer about 1.5x slower).
    action(type="omfile" dynaFile="benchFile" template="benchLine" dynaFileCacheSize="64"
           ioBufferSize="64k")
}
input(type="imtcp" address="127.0.0.1" port="$TCP_PORT" ruleset="bench")
input(type="imudp" address="127.0.0.1" port="$UDP_PORT" ruleset="bench" rcvBufSize="8m")
EOF
    start_rsyslogd "$work/rsyslog.conf" "$work" "$TCP_PORT" || return 1
    SERVER_PID=$RSYSLOG_PID
    CHILDREN+=("$SERVER_PID")
    # imudp binds after imtcp; give it the same bounded wait.
    wait_for 10 port_in_use udp "$UDP_PORT" || { say "rsyslogd did not bind udp $UDP_PORT"; return 1; }
}

stop_server() {
    stop_pid "$SERVER_PID" 20 || say "receiver exited with status $?"
}

# --- measurements

# rate_per_s MESSAGES MICROSECONDS
rate_per_s() { printf '%s' "$(( $1 * 1000000 / ($2 > 0 ? $2 : 1) ))"; }

# traffic_args real|filler: sets TRAFFIC to vigil-bench load's arguments for that traffic.
traffic_args() {
    case $1 in
        real) TRAFFIC=(--mix mixed --hosts "$REAL_HOSTS" --ips "$REAL_IPS") ;;
        filler) TRAFFIC=(--size "$SIZE") ;;
        *) die "unknown traffic '$1'" ;;
    esac
}

# thread_ticks PID NAME_PREFIX: CPU ticks (user + system) of PID's threads whose name starts
# with NAME_PREFIX.
thread_ticks() {
    local t sum=0 comm
    for t in /proc/"$1"/task/*; do
        comm=$(cat "$t/comm" 2>/dev/null) || continue
        [[ $comm == "$2"* ]] && sum=$((sum + $(awk '{ print $14 + $15 }' "$t/stat")))
    done
    printf '%s' "$sum"
}

# thread_table PID: "TID NAME TICKS" for each of PID's threads (CPU ticks, user + system).
thread_table() {
    local t
    for t in /proc/"$1"/task/*; do
        printf '%s %s %s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)" "$(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null)"
    done
}

# per_thread_ns BEFORE AFTER COUNT: "NAME N ns" for each thread busy between two thread_table
# snapshots (matched by thread id: several sink threads share a name), its CPU time per message
# of COUNT (vigil's loop is "vigil", its shards "vigil-ingestK", then "vigil-analyze" and
# "vigil-detect").
per_thread_ns() {
    awk -v count="$3" 'NR == FNR { before[$1] = $3; next }
        $3 - before[$1] > 0 { printf "%s%s %d ns", sep, $2, ($3 - before[$1]) * 10000000 / count; sep = ", " }' \
        <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}

# tcp_phase RECEIVER CONNECTIONS real|filler [THREADS]: COUNT messages of that traffic over
# CONNECTIONS connections. Records under R[NAME.TRAFFIC.tcpCONNECTIONS*] (NAME: the receiver, or
# vigil-tTHREADS for a vigil run with --threads THREADS): msgs/s from the first send until all are
# in DATA/hosts/*/*.log, and the receiver's CPU time (/proc utime + stime, all threads) over
# that time: per message (_ns) and as a share of one core (_cpu, %).
tcp_phase() {
    local rx=$1 conns=$2 traffic=$3 threads=${4:-} name=$1 args=() data t0 ticks gen threads_before
    if [ -n "$threads" ]; then name=$rx-t$threads; args=(--threads "$threads"); fi
    local key=$name.$traffic.tcp$conns
    data=$WORK/$name-$traffic-tcp$conns
    traffic_args "$traffic"
    "start_${rx}_receiver" "$data" "${args[@]}" || { R[$key]="failed"; return; }
    say "$name: TCP, $conns connection(s), $COUNT $traffic messages"
    ticks=$(cpu_ticks "$SERVER_PID")
    threads_before=$(thread_table "$SERVER_PID")
    t0=$(now_us)
    "$LOADGEN" load --tcp "127.0.0.1:$TCP_PORT" --connections "$conns" --count "$COUNT" "${TRAFFIC[@]}" \
        >"$data.loadgen" 2>&1 &
    gen=$!
    CHILDREN+=("$gen")
    if wait_for_lines "$data" "$COUNT" "$TIMEOUT" 30; then
        ticks=$(( $(cpu_ticks "$SERVER_PID") - ticks ))
        R[$key]=$(rate_per_s "$COUNT" $((WAIT_END_US - t0)))
        # Ticks are 10 ms: ns per message, and % of one core over the phase.
        R[${key}_ns]=$((ticks * 10000000 / COUNT))
        R[${key}_cpu]=$((ticks * 1000000 / (WAIT_END_US - t0 > 0 ? WAIT_END_US - t0 : 1)))
        [ -n "$threads" ] && say "  CPU per message by thread: $(per_thread_ns "$threads_before" "$(thread_table "$SERVER_PID")" "$COUNT")"
    else
        R[$key]="incomplete ($WAIT_LINES/$COUNT)"
        kill "$gen" 2>/dev/null  # a receiver that stopped reading would hold the generator's writes forever
    fi
    wait "$gen" || say "load generator failed: $(cat "$data.loadgen")"
    say "  $(cat "$data.loadgen")"
    say "  => ${R[$key]} msgs/s, CPU ${R[${key}_ns]:--} ns/msg (${R[${key}_cpu]:--} % of a core)"
    [ "$rx" = vigil ] && say "  $(grep '^vigil: stats' "$data.stderr" | tail -n1)"
    stop_server
    rm -rf "$data"
}

# udp_run DATA RATE COUNT: sends COUNT datagrams of TRAFFIC at RATE (0 = full speed) to the
# running receiver, waits for them to stop arriving and says what arrived. Sets UDP_SENT, UDP_GOT,
# UDP_SEND_RATE, and the CPU per datagram UDP_RECEIVER_NS (stored) and UDP_SENDER_NS (sent).
udp_run() {
    local data=$1 rate=$2 count=$3 before out ticks
    before=$(count_lines "$data")
    ticks=$(cpu_ticks "$SERVER_PID")
    # Several sender threads (the rate split between them): one thread alone tops out near 200k/s here.
    local senders=$UDP_SENDERS
    out=$("$LOADGEN" load --udp "127.0.0.1:$UDP_PORT" --count "$count" --rate "$rate" --connections "$senders" "${TRAFFIC[@]}") \
        || die "load generator failed: $out"
    UDP_SENT=$(sed -n 's/.* sent=\([0-9]*\) .*/\1/p' <<<"$out")
    UDP_SEND_RATE=$(sed -n 's/.* rate=\([0-9]*\)$/\1/p' <<<"$out")
    UDP_SENDER_NS=$(sed -n 's/.* cpu_ns_per_msg=\([0-9]*\) .*/\1/p' <<<"$out")
    wait_for_lines "$data" $((before + count)) 30 2 || true
    UDP_GOT=$((WAIT_LINES - before))
    ticks=$(( $(cpu_ticks "$SERVER_PID") - ticks ))
    UDP_RECEIVER_NS=$((ticks * 10000000 / (UDP_GOT > 0 ? UDP_GOT : 1)))
    say "  sent at $UDP_SEND_RATE/s, received $UDP_GOT of $UDP_SENT; CPU per datagram: receiver $UDP_RECEIVER_NS ns, sender $UDP_SENDER_NS ns"
}

# loss_pct SENT GOT: loss as a percentage with two decimals; an error text when the receiver
# stored more lines than there were datagrams (it split some), which must not pass as 0 %.
loss_pct() {
    local lost=$(( $1 - $2 ))
    if [ "$lost" -lt 0 ]; then
        printf 'ERROR: %d lines too many' $((-lost))
        return
    fi
    printf '%d.%02d' $((lost * 100 / $1)) $((lost * 10000 / $1 % 100))
}

# udp_phase RECEIVER real|filler [THREADS [LABEL]]: full-speed loss, then the rates in UDP_RATES
# (one receiver for all runs). Records under R[NAME.LABEL.udp_*] (NAME: the receiver, or
# vigil-tTHREADS for a vigil run with --threads THREADS; LABEL: the traffic unless given).
udp_phase() {
    local rx=$1 traffic=$2 threads=${3:-} name=$1 args=() rate best=0
    if [ -n "$threads" ]; then name=$rx-t$threads; args=(--threads "$threads"); fi
    local key=$name.${4:-$traffic} data="$WORK/$name-$traffic-udp"
    traffic_args "$traffic"
    "start_${rx}_receiver" "$data" "${args[@]}" || { R[$key.udp_loss]="failed"; return; }
    say "$name: UDP, $UDP_COUNT $traffic datagrams at full speed from $UDP_SENDERS sender threads (as are the paced runs)"
    udp_run "$data" 0 "$UDP_COUNT"
    R[$key.udp_send]=$UDP_SEND_RATE
    R[$key.udp_loss]="$(loss_pct "$UDP_SENT" "$UDP_GOT")% ($UDP_GOT/$UDP_SENT)"
    # No loss at the sender's full speed: the receiver's limit is beyond what one sender reaches.
    local sender_bound=0 best_ns=- best_sender_ns=- lossy_steps=()
    if [ "$UDP_GOT" -eq "$UDP_SENT" ]; then best=$UDP_SEND_RATE; sender_bound=1; fi
    # loss_free_run: true when the run just made lost nothing; then, if it went faster than the
    # best so far, it becomes the best, with its CPU figures.
    loss_free_run() {
        [ "$UDP_GOT" -eq "$UDP_SENT" ] || return 1
        if [ "$UDP_SEND_RATE" -gt "$best" ]; then
            best=$UDP_SEND_RATE best_ns=$UDP_RECEIVER_NS best_sender_ns=$UDP_SENDER_NS
        fi
    }
    for rate in $UDP_RATES; do
        say "$name: UDP at $rate msgs/s for ${UDP_RATE_SECONDS}s"
        udp_run "$data" "$rate" $((rate * UDP_RATE_SECONDS))
        # The sender may fall short of the asked rate on a busy machine: report what it achieved.
        R[$key.udp_at_$rate]="$(loss_pct "$UDP_SENT" "$UDP_GOT")% at $UDP_SEND_RATE/s"
        loss_free_run || lossy_steps+=("$rate")
    done
    # The steps alone place the limit only between two of them (300,000 against 200,000 may be
    # anything from 1.0x to 2.0x): halve the gap between the highest loss-free rate and the
    # lowest lossy step above it until it is at most BENCH_UDP_RESOLUTION. A loss-free run whose
    # sender fell well short of the asked rate ends the search (the sender's limit): every other
    # run narrows the gap.
    local lossy=0
    for rate in "${lossy_steps[@]}"; do
        if [ "$rate" -gt "$best" ] && { [ "$lossy" = 0 ] || [ "$rate" -lt "$lossy" ]; }; then lossy=$rate; fi
    done
    while [ "$sender_bound" = 0 ] && [ "$lossy" -gt 0 ] && [ $((lossy - best)) -gt "$UDP_RESOLUTION" ]; do
        rate=$(((best + lossy) / 2))
        say "$name: UDP at $rate msgs/s for ${UDP_RATE_SECONDS}s (between $best and $lossy)"
        udp_run "$data" "$rate" $((rate * UDP_RATE_SECONDS))
        if loss_free_run; then
            # Well short of the asked rate without loss: the sender's limit, not the receiver's.
            if [ $((UDP_SEND_RATE + UDP_RESOLUTION / 2)) -lt "$rate" ]; then sender_bound=1; fi
        else
            lossy=$rate
        fi
    done
    if [ "$sender_bound" = 1 ]; then
        R[$key.udp_lossfree]=">= $best (sender limit)"
    else
        R[$key.udp_lossfree]=$best
    fi
    R[$key.udp_best_ns]=$best_ns
    R[$key.udp_best_sender_ns]=$best_sender_ns
    # Lost datagrams are counted as missing lines: that holds only if every stored line is one
    # whole datagram (a split adds lines, a merge hides one). Both traffics' frames start with
    # <PRI> and hold no other '<'.
    local torn
    torn=$(cat "$data"/hosts/*/*.log | grep -c -v -E '^<[0-9]{1,3}>[^<]*$' || true)
    if [ "$torn" != 0 ]; then
        R[$key.udp_lossfree]="ERROR: $torn lines not one frame"
        say "  $torn stored lines are not one whole datagram each: the loss figures do not hold"
    fi
    [ "$rx" = vigil ] && say "  $(grep '^vigil: stats' "$data.stderr" | tail -n1)"
    stop_server
    rm -rf "$data"
}

RECEIVERS=()
case "$ONLY" in
    "") RECEIVERS=(vigil rsyslog) ;;
    vigil | rsyslog) RECEIVERS=("$ONLY") ;;
    *) die "BENCH_ONLY must be vigil or rsyslog" ;;
esac

# thread_runs RECEIVER: sets RUNS to the --threads counts of its realistic phases (rsyslogd: one
# run, "").
thread_runs() {
    if [ "$1" = vigil ]; then RUNS=("${VIGIL_RUNS[@]}"); else RUNS=(""); fi
}

if part ingest; then
    say "load: $COUNT TCP messages, $UDP_COUNT UDP datagrams, realistic then filler; $(nproc) CPU(s) shared by sender and receiver"
    for rx in "${RECEIVERS[@]}"; do
        thread_runs "$rx"
        for conns in 1 8; do
            for n in "${RUNS[@]}"; do tcp_phase "$rx" "$conns" real "$n"; done
        done
        for n in "${RUNS[@]}"; do udp_phase "$rx" real "$n"; done
        tcp_phase "$rx" 1 filler
        tcp_phase "$rx" 8 filler
        udp_phase "$rx" filler
    done

    say "parser micro-benchmark: 5000000 frames"
    PARSE=$("$LOADGEN" parse --count 5000000 --size "$SIZE") || die "vigil-bench parse failed"
    say "  $PARSE"
fi

# UDP alone (part udp): the realistic UDP phase of each receiver, BENCH_UDP_ROUNDS times,
# alternating, one table per round; for comparing builds or settings on UDP without the TCP phases.
if part udp; then
    for round in $(seq 1 "$UDP_ROUNDS"); do
        for rx in "${RECEIVERS[@]}"; do
            thread_runs "$rx"
            for n in "${RUNS[@]}"; do udp_phase "$rx" real "$n" "round$round.real"; done
        done
    done
fi

# ratio A B: A/B rounded to two decimals, or "-" when either is not a number.
ratio() {
    [[ ${1:-} =~ ^[0-9]+$ && ${2:-} =~ ^[0-9]+$ && $2 -gt 0 ]] || { printf -- '-'; return; }
    local hundredths=$((($1 * 200 / $2 + 1) / 2))
    printf '%d.%02d' $((hundredths / 100)) $((hundredths % 100))
}

# row LABEL KEY [VIGIL]: R[VIGIL.KEY] (VIGIL: vigil, or vigil-tN for its --threads N runs) beside
# R[rsyslog.KEY], and their ratio.
row() {
    local v=${3:-vigil}
    printf '%-50s %26s %26s %10s\n' "$1" "${R[$v.$2]:--}" "${R[rsyslog.$2]:--}" \
        "$(ratio "${R[$v.$2]:-}" "${R[rsyslog.$2]:-}")"
}

# table_head TITLE: a table's title and column heads.
table_head() {
    echo
    echo "$1"
    printf '%-50s %26s %26s %10s\n' "" vigil rsyslogd vigil/rsys
    printf '%s %s %s %s\n' "$(printf '%050d' 0 | tr 0 -)" "$(printf '%026d' 0 | tr 0 -)" \
        "$(printf '%026d' 0 | tr 0 -)" "$(printf '%010d' 0 | tr 0 -)"
}

# udp_rows TRAFFIC [THREADS]: the UDP rows of real or filler traffic; vigil's --threads THREADS
# run when given.
udp_rows() {
    local v=vigil label=UDP
    if [ -n "${2:-}" ]; then v=vigil-t$2; label+=" --threads $2"; fi
    row "$label sender full speed (msgs/s)" "$1.udp_send" "$v"
    row "$label loss at full speed" "$1.udp_loss" "$v"
    for rate in $UDP_RATES; do
        row "$label loss, $rate msgs/s asked" "$1.udp_at_$rate" "$v"
    done
    row "$label highest loss-free rate (msgs/s)" "$1.udp_lossfree" "$v"
    # What each side cost per datagram in the paced run that set it (on loopback the sender's
    # system time holds the kernel's delivery; both share the cores, which bounds the rate).
    row "$label receiver CPU ns/datagram there" "$1.udp_best_ns" "$v"
    row "$label sender CPU ns/datagram there" "$1.udp_best_sender_ns" "$v"
}

# real_tcp_rows CONNECTIONS [THREADS]: msgs/s, CPU per message and CPU use of the realistic TCP
# phase with CONNECTIONS connections; vigil's --threads THREADS run when given.
real_tcp_rows() {
    local label="TCP $1 connection" v=vigil
    [ "$1" = 1 ] || label+=s
    if [ -n "${2:-}" ]; then label+=", --threads $2"; v=vigil-t$2; fi
    row "$label: msgs/s" "real.tcp$1" "$v"
    row "$label: CPU ns/msg" "real.tcp${1}_ns" "$v"
    row "$label: CPU % of one core" "real.tcp${1}_cpu" "$v"
}

if part ingest; then
    table_head "realistic: $COUNT TCP msgs, $UDP_COUNT UDP datagrams; 2 sshd lines for 3 nginx lines, $REAL_HOSTS hosts, $REAL_IPS addresses"
    for conns in 1 8; do
        for n in "${VIGIL_RUNS[@]}"; do real_tcp_rows "$conns" "$n"; done
    done
    for n in "${VIGIL_RUNS[@]}"; do udp_rows real "$n"; done
    table_head "filler: $COUNT TCP msgs, $UDP_COUNT UDP datagrams; $SIZE B each, 16 hosts"
    row "TCP 1 connection: msgs/s" filler.tcp1
    row "TCP 8 connections: msgs/s" filler.tcp8
    udp_rows filler
    echo
    echo "parser (SyslogParser.parse, half RFC 5424, half RFC 3164): $(sed -n 's/.* ns_per_frame=\([0-9]*\) rate=\([0-9]*\) .*/\1 ns\/frame, \2 frames\/s on one core/p' <<<"$PARSE")"
fi

if part udp; then
    for round in $(seq 1 "$UDP_ROUNDS"); do
        for n in "${VIGIL_RUNS[@]}"; do
            table_head "UDP alone, round $round of $UDP_ROUNDS, vigil${n:+ --threads $n} against rsyslogd (imudp threads=$RSYSLOG_UDP_THREADS): $UDP_COUNT datagrams at full speed, then each rate for ${UDP_RATE_SECONDS}s and rates between to find the highest loss-free one to $UDP_RESOLUTION msgs/s; realistic traffic"
            udp_rows "round$round.real" "$n"
        done
    done
fi

# --- forward: vigil forward against rsyslogd's imfile -> omfwd, shipping the same files

# fw_rsyslog_conf DIR PORT: a private rsyslogd config in DIR/rsyslog.conf: imfile reads both input
# files from their start, omfwd sends each line as RFC 5424, octet-counted over TCP, to PORT.
# No imuxsock, no imklog, no system socket: only what this file loads; rsyslogd's own messages
# go to the default ruleset, which has no action, so only file lines reach the collector.
fw_rsyslog_conf() {
    local dir=$1 port=$2
    mkdir -p "$dir/rsyslog"
    cat >"$dir/rsyslog.conf" <<CONF
global(workDirectory="$dir/rsyslog" localHostName="bench-rsyslog" maxMessageSize="64k")
module(load="imfile")
ruleset(name="ship") {
    action(type="omfwd" target="127.0.0.1" port="$port" protocol="tcp" TCP_Framing="octet-counted"
           template="RSYSLOG_SyslogProtocol23Format")
}
input(type="imfile" file="$FW_DIR/auth.log" tag="auth" facility="authpriv" severity="info"
      readMode="0" freshStartTail="off" ruleset="ship")
input(type="imfile" file="$FW_DIR/access.log" tag="access" facility="local7" severity="info"
      readMode="0" freshStartTail="off" ruleset="ship")
CONF
}

# fw_run SHIPPER RUN: ships the two files once with SHIPPER (vigil or rsyslog) to a fresh vigil
# serve; dies unless exactly FORWARD_LINES lines arrive, the expected number of each file's.
# Records R[fw.SHIPPER.RUN.*]: ms, rate (lines/s), cpu_ns (shipper CPU per line), rss (peak, KiB),
# serve_ns (the collector's CPU per line).
fw_run() {
    local who=$1 run=$2 dir="$WORK/fw-$1-$2" data serve pid out t0 ticks hwm serve_ticks got access
    data=$dir/data
    mkdir -p "$dir/state"
    start_vigil "$data" "$dir/serve.stderr" --server.flush_interval 100ms "${FW_RULES_OFF[@]}" \
        || die "forward: vigil serve did not start"
    serve=$VIGIL_PID
    CHILDREN+=("$serve")
    t0=$(now_us)
    if [ "$who" = vigil ]; then
        out=$dir/shipper.out
        "$VIGIL" forward "$FW_DIR/auth.log" "$FW_DIR/access.log" --to "tcp://127.0.0.1:$VIGIL_TCP_PORT" \
            --state "$dir/state" --from-start --host bench-forward 2>"$out" &
        pid=$!
    else
        fw_rsyslog_conf "$dir" "$VIGIL_TCP_PORT"
        out=$dir/rsyslogd.out
        start_rsyslogd "$dir/rsyslog.conf" "$dir" || die "forward: rsyslogd did not start"
        pid=$RSYSLOG_PID
    fi
    CHILDREN+=("$pid")
    if ! wait_for_lines "$data" "$FORWARD_LINES" "$TIMEOUT" 30; then
        say "forward: $who delivered $WAIT_LINES of $FORWARD_LINES lines; its output:"
        sed 's/^/  | /' "$out" | tail -n 20 >&2
        die "forward: $who did not deliver all $FORWARD_LINES lines"
    fi
    ticks=$(cpu_ticks "$pid")
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
    serve_ticks=$(cpu_ticks "$serve")
    stop_pid "$pid" 20 || say "forward: $who exited with status $?"
    stop_pid "$serve" 20 || say "forward: vigil serve exited with status $?"
    # Exactly N, counted after both have stopped (a late duplicate would show here), and N/2 of
    # them the access.log's (their request line, `" 200 ` etc., is in no auth.log line).
    got=$(count_lines "$data")
    access=$(cat "$data"/hosts/*/*.log | grep -c ' HTTP/1\.[01]" [0-9][0-9][0-9] ' || true)
    [ "$got" = "$FORWARD_LINES" ] || die "forward: $who delivered $got lines, not $FORWARD_LINES"
    [ "$access" = "$FW_ACCESS_LINES" ] || die "forward: $who delivered $access access.log lines, not $FW_ACCESS_LINES"
    R[fw.$who.$run.ms]=$(((WAIT_END_US - t0) / 1000))
    R[fw.$who.$run.rate]=$(rate_per_s "$FORWARD_LINES" $((WAIT_END_US - t0)))
    R[fw.$who.$run.cpu_ns]=$((ticks * 10000000 / FORWARD_LINES))
    R[fw.$who.$run.rss]=$hwm
    R[fw.$who.$run.serve_ns]=$((serve_ticks * 10000000 / FORWARD_LINES))
    say "  $who run $run: ${R[fw.$who.$run.ms]} ms, ${R[fw.$who.$run.rate]} lines/s, CPU ${R[fw.$who.$run.cpu_ns]} ns/line, peak RSS $((hwm / 1024)) MiB; serve ${R[fw.$who.$run.serve_ns]} ns/line"
    rm -rf "$dir"
}

# median3 A B C: the middle one of three integers.
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

# fw_median SHIPPER METRIC: the median of METRIC over the three runs.
fw_median() { median3 "${R[fw.$1.1.$2]}" "${R[fw.$1.2.$2]}" "${R[fw.$1.3.$2]}"; }

if part forward; then
    ensure_command rsyslogd rsyslog
    FW_DIR=$WORK/forward-input
    mkdir -p "$FW_DIR"
    FW_ACCESS_LINES=$((FORWARD_LINES / 2))
    say "forward: generating $((FORWARD_LINES - FW_ACCESS_LINES)) auth.log and $FW_ACCESS_LINES access.log lines"
    "$VIGIL" generate ssh --format auth --count $((FORWARD_LINES - FW_ACCESS_LINES)) --seed 7 --out "$FW_DIR/auth.log" \
        || die "vigil generate ssh failed"
    "$VIGIL" generate http --format combined --count "$FW_ACCESS_LINES" --seed 7 --out "$FW_DIR/access.log" \
        || die "vigil generate http failed"
    n=$(cat "$FW_DIR/auth.log" "$FW_DIR/access.log" | wc -l)
    [ "$n" = "$FORWARD_LINES" ] || die "forward: vigil generate wrote $n lines, not $FORWARD_LINES"
    [ "$(grep -c ' HTTP/1\.[01]" [0-9][0-9][0-9] ' "$FW_DIR/access.log")" = "$FW_ACCESS_LINES" ] \
        || die "forward: the access.log marker does not match every access.log line"
    ! grep -q ' HTTP/1\.[01]" [0-9][0-9][0-9] ' "$FW_DIR/auth.log" || die "forward: the access.log marker matches auth.log lines"
    FW_MB=$(( $(cat "$FW_DIR/auth.log" "$FW_DIR/access.log" | wc -c) / 1048576 ))
    FW_RULES_OFF=()
    for rule in $RULES; do FW_RULES_OFF+=("--rule.$rule.enabled=false"); done
    # Alternate the shippers so a busy moment of the shared machine does not land on one only.
    for run in 1 2 3; do
        for who in vigil rsyslog; do
            say "forward, run $run: $who shipping $FORWARD_LINES lines ($FW_MB MiB)"
            fw_run "$who" "$run"
        done
    done
    echo
    printf '%-40s %16s %16s %12s\n' "forward $FORWARD_LINES lines ($FW_MB MiB), median of 3" "vigil forward" "rsyslog imfile" "vigil/rsys"
    printf '%-40s %16s %16s %12s\n' "----------------------------------------" "----------------" "----------------" "------------"
    for metric in ms rate cpu_ns rss serve_ns; do
        case $metric in
            ms) label="wall time to all lines stored (ms)" ;;
            rate) label="lines/s" ;;
            cpu_ns) label="shipper CPU per line (ns)" ;;
            rss) label="shipper peak RSS (KiB)" ;;
            serve_ns) label="vigil serve CPU per line (ns)" ;;
        esac
        v=$(fw_median vigil "$metric")
        r=$(fw_median rsyslog "$metric")
        printf '%-40s %16s %16s %12s\n' "$label" "$v" "$r" "$(ratio "$v" "$r")"
    done
    echo "runs (vigil / rsyslog lines/s): $(for run in 1 2 3; do printf '%s/%s ' "${R[fw.vigil.$run.rate]}" "${R[fw.rsyslog.$run.rate]}"; done)"
    echo "versions: $("$VIGIL" --version), $(rsyslogd -v | head -n1 | sed 's/ *compiled with:$//; s/  */ /g')"
fi

# --- detection (vigil only)

[ "$ONLY" = rsyslog ] && exit 0

# field NAME LINE: the value of NAME=... in a vigil-bench key=value line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# mib KIB: KiB as MiB with one decimal.
mib() { printf '%d.%d' $(($1 / 1024)) $(($1 * 10 / 1024 % 10)); }

# mib_list A,B,...: each KiB value of a comma list as MiB.
mib_list() {
    local v parts=() values
    IFS=, read -r -a values <<<"$1"
    for v in "${values[@]}"; do parts+=("$(mib "$v")"); done
    printf '%s' "${parts[*]}"
}

# Detection results, printed together at the end.
DETECT_LINES=()
API_LINES=()

# detect_run ARGS...: runs vigil-bench detect and sets DETECT_OUT; dies unless every generated
# frame was recognised (sshd line or access-log line) and none was late, so a broken generator
# cannot pass for a fast analyzer.
detect_run() {
    DETECT_OUT=$("$LOADGEN" detect "$@") || die "vigil-bench detect failed"
    say "  $DETECT_OUT"
    local messages seen
    messages=$(field messages "$DETECT_OUT")
    seen=$(( $(field ssh_lines "$DETECT_OUT") + $(field http_requests "$DETECT_OUT") ))
    if [ "$seen" != "$messages" ] || [ "$(field late "$DETECT_OUT")" != 0 ]; then
        die "vigil-bench detect: $seen of $messages frames recognised, $(field late "$DETECT_OUT") late"
    fi
}

if part detect; then
    say "extract + detect (vigil-bench detect): $DETECT_COUNT mixed messages from 100000 IPs"
    detect_run --count "$DETECT_COUNT" --ips 100000 --mix mixed
    out=$DETECT_OUT
    DETECT_LINES+=("$(printf '%-52s %s' "extract + detect, one core (msgs/s)" \
        "$(field rate "$out") ($(field ns_per_msg "$out") ns/msg: parse $(field parse_ns_per_msg "$out"), extract+detect $(field analyze_ns_per_msg "$out"))")")

    say "memory: 4000000 sshd messages from 1000000 distinct IPs"
    detect_run --count 4000000 --ips 1000000 --mix ssh
    out=$DETECT_OUT
    DETECT_LINES+=("$(printf '%-52s %s' "peak RSS, 1M distinct IPs in the windows (MiB)" \
        "$(mib "$(field hwm_kib "$out")") (keys: $(field keys "$out" | sed 's/,http_.*//'))")")

    say "memory past the key cap: 12000000 sshd messages from 3000000 distinct IPs"
    detect_run --count 12000000 --ips 3000000 --mix ssh
    out=$DETECT_OUT
    DETECT_LINES+=("$(printf '%-52s %s' "RSS with 3M IPs, at each fifth of the run (MiB)" \
        "$(mib_list "$(field rss_kib "$out")") ($(field evictions "$out") evictions, $(field rate "$out") msgs/s)")")

    # The rules' own cost on one core, without the daemon's I/O: the same stream as serve's
    # cost runs below (every message from another of 1,000,000 addresses), rules on and off.
    say "rules on one core: $DETECT_COUNT mixed messages from 1000000 IPs, rules on, then off"
    detect_run --count "$DETECT_COUNT" --ips 1000000 --mix mixed --rules on
    on=$(field analyze_ns_per_msg "$DETECT_OUT")
    detect_run --count "$DETECT_COUNT" --ips 1000000 --mix mixed --rules off
    off=$(field analyze_ns_per_msg "$DETECT_OUT")
    DETECT_LINES+=("$(printf '%-52s %s' "extract + detect ns/msg, 1M IPs: rules on / off" "$on / $off (rules: $((on - off)) ns/msg)")")
fi

if part latency; then
    data=$WORK/vigil-latency
    sink=$WORK/latency-sink.jsonl
    if start_vigil "$data" "$data.stderr" --sink "file:$sink"; then
        CHILDREN+=("$VIGIL_PID")
        say "alert latency without load: 3 s of bursts"
        out=$("$LOADGEN" latency --tcp "127.0.0.1:$VIGIL_TCP_PORT" --alerts "$sink" --rate 0 --duration 4 \
            --probes-per-s 20) || die "vigil-bench latency failed"
        say "  $out"
        DETECT_LINES+=("$(printf '%-52s %s' "alert latency, idle (ms)" \
            "p50 $(field p50_ms "$out"), p99 $(field p99_ms "$out"), max $(field max_ms "$out") ($(field seen "$out")/$(field probes "$out") bursts)")")
        say "alert latency under $LATENCY_RATE msgs/s of realistic http lines for ${LATENCY_SECONDS}s"
        out=$("$LOADGEN" latency --tcp "127.0.0.1:$VIGIL_TCP_PORT" --alerts "$sink" --rate "$LATENCY_RATE" \
            --duration "$LATENCY_SECONDS" --probes-per-s 20 --first-probe 10000) || die "vigil-bench latency failed"
        say "  $out"
        say "  $(grep '^vigil: stats' "$data.stderr" | tail -n1)"
        DETECT_LINES+=("$(printf '%-52s %s' "alert latency, $LATENCY_RATE msgs/s asked (ms)" \
            "p50 $(field p50_ms "$out"), p99 $(field p99_ms "$out"), max $(field max_ms "$out") ($(field seen "$out")/$(field probes "$out") bursts; load ran at $(field load_rate "$out") msgs/s)")")
        stop_pid "$VIGIL_PID" 20 || say "vigil exited with status $?"
    else
        DETECT_LINES+=("alert latency: vigil did not start")
    fi
    rm -rf "$data" "$sink"
fi

# cost_run FLAGS...: serve's TCP ingest rate for COST_COUNT realistic messages (one connection).
# The rate is the sender's: TCP pushes back, so it sends no faster than vigil reads, parses,
# analyzes and stores (only the socket buffers, a few MB, are still unread when it ends).
# On one thread (--threads 1): with the analyzer on a thread of its own the rate follows whichever
# thread is busier, and no longer measures what the rules cost. Sets COST_RATE.
cost_run() {
    local data=$WORK/vigil-cost-$((++COST_RUNS)) out
    COST_RATE=failed
    start_vigil "$data" "$data.stderr" --threads 1 --sink "file:$WORK/cost-sink.jsonl" "$@" || return 0
    CHILDREN+=("$VIGIL_PID")
    if out=$("$LOADGEN" load --tcp "127.0.0.1:$VIGIL_TCP_PORT" --count "$COST_COUNT" --mix mixed); then
        COST_RATE=$(field rate "$out")
        wait_for_lines "$data" "$COST_COUNT" "$TIMEOUT" 30 || COST_RATE="incomplete ($WAIT_LINES/$COST_COUNT)"
    fi
    stop_pid "$VIGIL_PID" 20 || say "vigil exited with status $?"
    rm -rf "$data" "$WORK/cost-sink.jsonl"
}

if part cost; then
    COST_RUNS=0
    OFF=()
    for rule in $RULES; do OFF+=("--rule.$rule.enabled=false"); done
    best_on=0
    best_off=0
    # Alternate the two settings, best of three each, so a busy moment does not decide (the
    # runs of one setting vary by several per cent on a shared machine).
    for round in 1 2 3; do
        say "detection cost, round $round: $COST_COUNT mixed messages, default rules"
        cost_run
        say "  $COST_RATE msgs/s"
        [[ $COST_RATE =~ ^[0-9]+$ ]] && [ "$COST_RATE" -gt "$best_on" ] && best_on=$COST_RATE
        say "detection cost, round $round: every rule disabled"
        cost_run "${OFF[@]}"
        say "  $COST_RATE msgs/s"
        [[ $COST_RATE =~ ^[0-9]+$ ]] && [ "$COST_RATE" -gt "$best_off" ] && best_off=$COST_RATE
    done
    if [ "$best_on" -gt 0 ] && [ "$best_off" -gt 0 ]; then
        cost=$(( (best_off - best_on) * 1000 / best_off ))
        sign=
        [ "$cost" -lt 0 ] && { sign=-; cost=$((-cost)); }
        cost_text="$sign$((cost / 10)).$((cost % 10)) %"
    else
        cost_text="-"
    fi
    DETECT_LINES+=("$(printf '%-52s %s' "serve TCP ingest, default rules (msgs/s)" "$best_on")")
    DETECT_LINES+=("$(printf '%-52s %s' "serve TCP ingest, every rule disabled (msgs/s)" "$best_off")")
    DETECT_LINES+=("$(printf '%-52s %s' "ingest cost of detection" "$cost_text")")
fi

if part sinks; then
    # A webhook that accepts connections and never reads: its alerts must not slow ingestion.
    ensure_command python3 python3
    STALL_PORT=$(free_port)
    python3 "$ROOT/scripts/bench/stalled_receiver.py" "$STALL_PORT" "$TIMEOUT" &
    STALL_PID=$!
    CHILDREN+=("$STALL_PID")
    wait_for 10 tcp_listening "$STALL_PORT" || die "the stalled receiver did not start"
    COST_RUNS=${COST_RUNS:-0}
    best_plain=0
    best_stalled=0
    for round in 1 2; do
        say "stalled sink, round $round: $COST_COUNT mixed messages, file sink only"
        cost_run
        say "  $COST_RATE msgs/s"
        [[ $COST_RATE =~ ^[0-9]+$ ]] && [ "$COST_RATE" -gt "$best_plain" ] && best_plain=$COST_RATE
        say "stalled sink, round $round: plus a webhook that never reads"
        cost_run --sink "http://127.0.0.1:$STALL_PORT/hook"
        say "  $COST_RATE msgs/s"
        [[ $COST_RATE =~ ^[0-9]+$ ]] && [ "$COST_RATE" -gt "$best_stalled" ] && best_stalled=$COST_RATE
    done
    kill "$STALL_PID" 2>/dev/null || true
    DETECT_LINES+=("$(printf '%-52s %s' "serve TCP ingest, file sink only (msgs/s)" "$best_plain")")
    DETECT_LINES+=("$(printf '%-52s %s' "serve TCP ingest, plus a stalled webhook (msgs/s)" "$best_stalled")")
fi

if part api; then
    data=$WORK/vigil-api
    # The store, through vigil itself: realistic traffic until it holds about API_STORE_MB.
    start_vigil "$data" "$data.fill.stderr" || die "vigil did not start"
    CHILDREN+=("$VIGIL_PID")
    fill=$((API_STORE_MB * 1024 * 1024 / 190))
    say "api: filling the store with $fill mixed messages (~$API_STORE_MB MB)"
    "$LOADGEN" load --tcp "127.0.0.1:$VIGIL_TCP_PORT" --count "$fill" --mix mixed >/dev/null || die "vigil-bench load failed"
    wait_for_lines "$data" "$fill" "$TIMEOUT" 30 || die "the store holds $WAIT_LINES of $fill messages"
    stop_pid "$VIGIL_PID" 20 || say "vigil exited with status $?"
    store_mb=$(( $(total_bytes "$data") / 1048576 ))
    # web-01: one of the hosts the generator gives `Failed password` lines (each host gets some
    # of the sshd shapes).
    host=web-01
    host_mb=$(( $(du -sb "$data/hosts/$host" | cut -f1) / 1048576 ))
    VIGIL_HTTP=1 start_vigil "$data" "$data.stderr" --sink "file:$WORK/api-sink.jsonl" || die "vigil with the API did not start"
    CHILDREN+=("$VIGIL_PID")
    api=(--http "127.0.0.1:$VIGIL_HTTP_PORT" --token "$VIGIL_API_TOKEN_VALUE" --connections 4)
    query="/hosts/$host/logs?filter=Failed+password&count=100"
    say "api: $query over a $store_mb MB store ($host: $host_mb MB), $API_SECONDS s, 4 clients"
    alone=$("$LOADGEN" api "${api[@]}" --path "$query" --duration "$API_SECONDS") || die "vigil-bench api failed"
    say "  $alone"
    say "api: ingest alone, $COST_COUNT mixed messages"
    out=$("$LOADGEN" load --tcp "127.0.0.1:$VIGIL_TCP_PORT" --count "$COST_COUNT" --mix mixed) || die "vigil-bench load failed"
    ingest_alone=$(field rate "$out")
    say "  $ingest_alone msgs/s"
    # The API load runs twice as long as the ingest took alone, so it covers the whole ingest
    # even if that slows down.
    seconds=$(( COST_COUNT * 2 / (ingest_alone > 0 ? ingest_alone : 1) + 2 ))
    say "api: ingest again under the API load ($seconds s)"
    "$LOADGEN" api "${api[@]}" --path "$query" --duration "$seconds" >"$WORK/api-under-load" &
    api_pid=$!
    CHILDREN+=("$api_pid")
    out=$("$LOADGEN" load --tcp "127.0.0.1:$VIGIL_TCP_PORT" --count "$COST_COUNT" --mix mixed) || die "vigil-bench load failed"
    ingest_loaded=$(field rate "$out")
    wait "$api_pid" || die "vigil-bench api failed"
    loaded=$(cat "$WORK/api-under-load")
    say "  ingest $ingest_loaded msgs/s; api $loaded"
    # One search for text that is nowhere: every day file of the host, read backwards; and the
    # same with tac and grep over the same files.
    t0=$(now_us)
    curl -s -o /dev/null -H "Authorization: Bearer $VIGIL_API_TOKEN_VALUE" \
        "http://127.0.0.1:$VIGIL_HTTP_PORT/hosts/$host/logs?filter=no-such-text&count=100" || die "curl failed"
    miss_vigil=$(( ($(now_us) - t0) / 1000 ))
    t0=$(now_us)
    cat "$data/hosts/$host"/*.log | tac | grep -F -m 100 no-such-text >/dev/null || true
    miss_grep=$(( ($(now_us) - t0) / 1000 ))
    stop_pid "$VIGIL_PID" 20 || say "vigil exited with status $?"
    loss=$(( (ingest_alone - ingest_loaded) * 1000 / (ingest_alone > 0 ? ingest_alone : 1) ))
    sign=
    [ "$loss" -lt 0 ] && { sign=-; loss=$((-loss)); }
    API_LINES+=("$(printf '%-52s %s' "store (MB; the queried host's)" "$store_mb ($host_mb)")")
    API_LINES+=("$(printf '%-52s %s' "logs?filter&count=100, API alone (req/s)" "$(field rate " $alone")")")
    API_LINES+=("$(printf '%-52s %s' "  p50 / p99 latency (ms)" "$(( $(field p50_us " $alone") / 1000 )).$(( $(field p50_us " $alone") / 100 % 10 )) / $(( $(field p99_us " $alone") / 1000 )).$(( $(field p99_us " $alone") / 100 % 10 ))")")
    API_LINES+=("$(printf '%-52s %s' "logs?filter&count=100, while ingesting (req/s)" "$(field rate " $loaded")")")
    API_LINES+=("$(printf '%-52s %s' "  p50 / p99 latency (ms)" "$(( $(field p50_us " $loaded") / 1000 )).$(( $(field p50_us " $loaded") / 100 % 10 )) / $(( $(field p99_us " $loaded") / 1000 )).$(( $(field p99_us " $loaded") / 100 % 10 ))")")
    API_LINES+=("$(printf '%-52s %s' "serve TCP ingest alone (msgs/s)" "$ingest_alone")")
    API_LINES+=("$(printf '%-52s %s' "serve TCP ingest under the API load (msgs/s)" "$ingest_loaded")")
    API_LINES+=("$(printf '%-52s %s' "ingest lost to the API load" "$sign$((loss / 10)).$((loss % 10)) %")")
    API_LINES+=("$(printf '%-52s %s' "search for absent text, $host_mb MB: vigil / tac|grep (ms)" "$miss_vigil / $miss_grep")")
    rm -rf "$data"
fi

# per_event TICKS EVENTS: "µs per event, events/s per core" for TICKS (of 10 ms) over EVENTS
# events; "n/a" with both figures when either is 0 (no events, or less CPU than one tick).
per_event() {
    local ticks=$1 events=$2
    if [ "$ticks" -eq 0 ] || [ "$events" -eq 0 ]; then
        printf 'n/a (%s ticks over %s events)' "$ticks" "$events"
        return
    fi
    local ns=$((ticks * 10000000 / events))
    printf '%s.%s µs, %s/s' $((ns / 1000)) $((ns / 100 % 10)) $((events * 100 / ticks))
}

SHARD_LINES=()
if part shard; then
    ensure_command python3 python3
    sw=$WORK/shard
    mkdir -p "$sw/rsyslog/spool"
    make_relay_key "$sw/relay.key"
    relay_ports=()
    central_pids=()
    for i in 0 1; do
        # One thread, so that the central's main thread is all of its work per event.
        start_vigil "$sw/central$i" "$sw/central$i.stderr" --stats-interval 1s --threads 1 \
            --relay-listen 127.0.0.1:0 --relay-allow 127.0.0.0/8 --relay-key "$sw/relay.key" || die "central $i did not start"
        CHILDREN+=("$VIGIL_PID")
        central_pids+=("$VIGIL_PID")
        relay_ports+=("$VIGIL_RELAY_PORT")
    done
    rport=$(free_port)
    ship_edit "$ROOT/conf/rsyslog-shard.conf" "$sw/rsyslog/shard.conf" \
        'input(type="imtcp" port="6514"' "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$rport\"" \
        'target="central-0.example.net" port="6514"' "target=\"127.0.0.1\" port=\"${relay_ports[0]}\"" \
        'target="central-1.example.net" port="6514"' "target=\"127.0.0.1\" port=\"${relay_ports[1]}\"" || die "$SHIP_WHY"
    printf 'global(workDirectory="%s")\ninclude(file="%s")\n' "$sw/rsyslog/spool" "$sw/rsyslog/shard.conf" >"$sw/rsyslog/rsyslog.conf"
    start_rsyslogd "$sw/rsyslog/rsyslog.conf" "$sw/rsyslog" "$rport" || die "the rsyslog relay did not start"
    CHILDREN+=("$RSYSLOG_PID")
    relay_pid=$RSYSLOG_PID
    start_vigil "$sw/edge" "$sw/edge.stderr" --stats-interval 1s --relay "syslog+tcp://127.0.0.1:$rport" \
        --relay-key "$sw/relay.key" --relay.edge_name bench-edge || die "the edge did not start"
    CHILDREN+=("$VIGIL_PID")
    edge_pid=$VIGIL_PID
    python3 - "$SHARD_COUNT" >"$sw/load.txt" <<'PY_LOAD'
import sys, time
n = int(sys.argv[1])
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
clf = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
out = sys.stdout
for i in range(n):
    a = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    if i % 2 == 0:
        out.write(f"<38>1 {now} h{i % 16} sshd {1000 + i % 5000} - - Failed password for root from {a} port {1024 + i % 60000} ssh2\n")
    else:
        out.write(f'<190>1 {now} w{i % 16} nginx - - - {a} - - [{clf}] "GET /p{i % 100} HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n')
PY_LOAD
    say "shard: $SHARD_COUNT events, edge to rsyslog relay (conf/rsyslog-shard.conf) to 2 centrals"
    e_main=$(thread_ticks "$edge_pid" vigil); e_send=$(thread_ticks "$edge_pid" vigil-sink)
    e_main=$((e_main - e_send))
    r_rule=$(thread_ticks "$relay_pid" rs:vigil_shard); r_all=$(cpu_ticks "$relay_pid")
    c_main=$(thread_ticks "${central_pids[0]}" vigil)
    t0=$(now_us)
    timeout "$TIMEOUT" nc -N -w 3 127.0.0.1 "$VIGIL_TCP_PORT" <"$sw/load.txt" || die "sending the shard load failed"
    _shard_all_in() {
        [ $(($(relay_listener_value "$sw/central0.stderr" received) + $(relay_listener_value "$sw/central1.stderr" received))) -ge "$SHARD_COUNT" ]
    }
    wait_for "$TIMEOUT" _shard_all_in || die "the centrals did not receive all $SHARD_COUNT events"
    wall_ms=$((($(now_us) - t0) / 1000))
    c0=$(relay_listener_value "$sw/central0.stderr" received)
    e_send=$(($(thread_ticks "$edge_pid" vigil-sink) - e_send))
    e_main=$(($(thread_ticks "$edge_pid" vigil) - $(thread_ticks "$edge_pid" vigil-sink) - e_main))
    r_rule=$(($(thread_ticks "$relay_pid" rs:vigil_shard) - r_rule)); r_all=$(($(cpu_ticks "$relay_pid") - r_all))
    c_main=$(($(thread_ticks "${central_pids[0]}" vigil) - c_main))
    rejected=$(($(relay_listener_value "$sw/central0.stderr" rejected) + $(relay_listener_value "$sw/central1.stderr" rejected)))
    SHARD_LINES+=("$(printf '%-52s %s' "events: edge, rsyslog relay, 2 centrals" "$SHARD_COUNT in $wall_ms ms; central 0 took $c0; rejected $rejected")")
    SHARD_LINES+=("$(printf '%-52s %s' "edge, main thread (ingest, rules, seal)" "$(per_event "$e_main" "$SHARD_COUNT")")")
    SHARD_LINES+=("$(printf '%-52s %s' "edge, relay sender thread" "$(per_event "$e_send" "$SHARD_COUNT")")")
    SHARD_LINES+=("$(printf '%-52s %s' "rsyslog relay, ruleset worker (one thread)" "$(per_event "$r_rule" "$SHARD_COUNT")")")
    SHARD_LINES+=("$(printf '%-52s %s' "rsyslog relay, all threads" "$(per_event "$r_all" "$SHARD_COUNT")")")
    # A central took about half of the events: its cost per event it took.
    SHARD_LINES+=("$(printf '%-52s %s' "central 0, main thread, per event it took" "$(per_event "$c_main" "$c0")")")
    for pid in "$edge_pid" "$relay_pid" "${central_pids[@]}"; do stop_pid "$pid" 15 || true; done
fi

if [ "${#SHARD_LINES[@]}" -gt 0 ]; then
    echo
    echo "sharding: CPU per event of each stage (vigil, rsyslogd)"
    echo "----------------------------------------------------"
    printf '%s\n' "${SHARD_LINES[@]}"
fi

if [ "${#DETECT_LINES[@]}" -gt 0 ]; then
    echo
    echo "detection (vigil)"
    echo "----------------------------------------------------"
    printf '%s\n' "${DETECT_LINES[@]}"
fi

if [ "${#API_LINES[@]}" -gt 0 ]; then
    echo
    echo "api (vigil)"
    echo "----------------------------------------------------"
    printf '%s\n' "${API_LINES[@]}"
fi

if part analyze; then
    echo
    BENCH_NO_BUILD=1 VIGIL="$VIGIL" bash "$ROOT/scripts/bench-analyze.sh"
fi
