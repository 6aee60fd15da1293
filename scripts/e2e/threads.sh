# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, wait_for, wait_for_lines, start_vigil,
# stop_pid, WORK, VIGIL, EXTRA_PIDS): `server.threads`. The same sshd and nginx traffic (brute
# force, distributed and scan attacks from `vigil generate`, RFC 5424 lines) is sent by netcat
# over one TCP connection into a `vigil serve` at --threads 1, 2 and 4 (the loop, an ingest
# shard accepting on the same socket, the analysis thread and the detection thread): each stores every line and raises the same
# alerts (compared without their ids, which carry each run's start). The traffic starts 40 minutes in the past and the lateness is an hour, so no clock tick
# of either run makes an event late and nothing resolves during the run: what fires depends on the
# lines alone. With two threads the stats line counts `analysis_waits`. Then, at --threads 5, eight
# netcat connections at once, a host each: every line lands in its host's file, the two ingest
# shards' threads and the detection thread exist, and the stats line counts every line of every loop.
# Then UDP at --threads 5: six senders on addresses of their own (127.0.0.2-7), a new netcat, so a
# new source port, per datagram (as logger sends): every loop reads a socket of the port and each
# sender's datagrams go to one of them, so every host's lines are stored in the order sent; a
# second vigil serve on that UDP port is refused, with or without shards. Last, a relay: twelve
# hosts through a private rsyslogd forwarding over one connection at --threads 5, each host's lines
# stored in order by the loop that owns the host.

THREADS_DIR=$WORK/threads
mkdir -p "$THREADS_DIR"
THREADS_START=$(($(date +%s) - 2400))
{
    "$VIGIL" generate ssh --count 4000 --hosts 6 --attack bruteforce,distributed --format syslog --seed 11 \
        --start "$THREADS_START"
    "$VIGIL" generate http --count 4000 --hosts 6 --attack scan --format syslog --seed 12 --start "$THREADS_START"
} >"$THREADS_DIR/traffic.log" 2>"$THREADS_DIR/generate.stderr"
THREADS_LINES=$(wc -l <"$THREADS_DIR/traffic.log")

for threads in 1 2 4; do
    data=$THREADS_DIR/data$threads
    if ! VIGIL_STDOUT=/dev/null start_vigil "$data" "$THREADS_DIR/vigil$threads.stderr" --threads "$threads" \
        --stats-interval 1s --detection.lateness 1h; then
        fail "threads: vigil serve --threads $threads starts"
        continue
    fi
    pid=$VIGIL_PID
    EXTRA_PIDS+=("$pid")
    timeout 30 nc -q 1 127.0.0.1 "$VIGIL_TCP_PORT" <"$THREADS_DIR/traffic.log" || true
    if wait_for_lines "$data" "$THREADS_LINES" 30 2; then
        pass "threads: --threads $threads stores all $THREADS_LINES lines sent by nc"
    else
        fail "threads: --threads $threads stores all $THREADS_LINES lines sent by nc" "stored $WAIT_LINES"
    fi
    # The stats line comes every second: wait for one written after the last line arrived.
    _threads_stats_counted() { grep -q "^vigil: stats received=$THREADS_LINES " "$THREADS_DIR/vigil$threads.stderr"; }
    wait_for 10 _threads_stats_counted || true
    stats=$(grep "^vigil: stats received=$THREADS_LINES " "$THREADS_DIR/vigil$threads.stderr" | tail -n 1)
    stop_pid "$pid" 10 || true
    sed 's/^{"id":"[^"]*",//' "$data/alerts.jsonl" >"$THREADS_DIR/alerts$threads" 2>/dev/null || true
    if [ "$threads" != 1 ]; then
        if [[ $stats == *" analysis_waits="* ]]; then
            pass "threads: with $threads threads the stats line counts analysis_waits"
        else
            fail "threads: with $threads threads the stats line counts analysis_waits" "$stats"
        fi
    elif [[ -n $stats && $stats != *analysis_waits* ]]; then
        pass "threads: with one thread the stats line has no analysis_waits"
    else
        fail "threads: with one thread the stats line has no analysis_waits" "$stats"
    fi
done

fired=$(grep -o '"rule":"[a-z_]*","state":"firing"' "$THREADS_DIR/alerts1" 2>/dev/null | sort -u | sed 's/"rule":"\([a-z_]*\)".*/\1/' | tr '\n' ' ')
if [[ $fired == *ssh_bruteforce* && $fired == *ssh_distributed* && $fired == *http_scan* ]] \
    && cmp -s "$THREADS_DIR/alerts1" "$THREADS_DIR/alerts2" && cmp -s "$THREADS_DIR/alerts1" "$THREADS_DIR/alerts4"; then
    pass "threads: --threads 1, 2 and 4 raise the same $(wc -l <"$THREADS_DIR/alerts1") alerts (${fired% })"
else
    fail "threads: --threads 1, 2 and 4 raise the same alerts" "fired with 1: $fired" \
        "$(diff "$THREADS_DIR/alerts1" "$THREADS_DIR/alerts2" 2>&1 | head -n 4)" \
        "$(diff "$THREADS_DIR/alerts1" "$THREADS_DIR/alerts4" 2>&1 | head -n 4)"
fi

# Eight connections at once into five threads.
data=$THREADS_DIR/spread
if VIGIL_STDOUT=/dev/null start_vigil "$data" "$THREADS_DIR/spread.stderr" --threads 5 --stats-interval 1s; then
    pid=$VIGIL_PID
    EXTRA_PIDS+=("$pid")
    ingest_threads=$(grep -l '^vigil-ingest' /proc/"$pid"/task/*/comm 2>/dev/null | wc -l)
    detect_threads=$(grep -l '^vigil-detect' /proc/"$pid"/task/*/comm 2>/dev/null | wc -l)
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    senders=()
    for c in 1 2 3 4 5 6 7 8; do
        for n in $(seq 1 500); do printf '<13>1 %s spread-%s app - - - line %s\n' "$now" "$c" "$n"; done \
            >"$THREADS_DIR/spread-$c.log"
        timeout 30 nc -q 1 127.0.0.1 "$VIGIL_TCP_PORT" <"$THREADS_DIR/spread-$c.log" &
        senders+=("$!")
    done
    wait "${senders[@]}" 2>/dev/null
    if wait_for_lines "$data" 4000 30 2; then
        whole=1
        for c in 1 2 3 4 5 6 7 8; do
            day_file=$(find "$data/hosts/spread-$c" -name '*.log' 2>/dev/null | head -n 1)
            [ -n "$day_file" ] && [ "$(wc -l <"$day_file")" = 500 ] && [ "$(tail -n 1 "$day_file")" = "$(tail -n 1 "$THREADS_DIR/spread-$c.log")" ] || whole=0
        done
        if [ "$whole" = 1 ]; then
            pass "threads: --threads 5 stores eight connections' 4000 lines, each host's in order"
        else
            fail "threads: --threads 5 stores eight connections' 4000 lines, each host's in order"
        fi
    else
        fail "threads: --threads 5 stores eight connections' 4000 lines" "stored $WAIT_LINES"
    fi
    if grep -q '^vigil: threads: the loop, 2 ingest shards, analysis, detection$' "$THREADS_DIR/spread.stderr"; then
        pass "threads: --threads 5 logs its layout (the loop, 2 ingest shards, analysis, detection)"
    else
        fail "threads: --threads 5 logs its layout" "$(grep '^vigil: threads' "$THREADS_DIR/spread.stderr")"
    fi
    if [ "$ingest_threads" = 2 ] && [ "$detect_threads" = 1 ]; then
        pass "threads: --threads 5 runs two ingest shards (vigil-ingest1, vigil-ingest2) and vigil-detect"
    else
        fail "threads: --threads 5 runs two ingest shards and vigil-detect" "found $ingest_threads and $detect_threads"
    fi
    _spread_counted() { grep -q "^vigil: stats received=4000 " "$THREADS_DIR/spread.stderr"; }
    if wait_for 10 _spread_counted; then
        pass "threads: the stats line counts every loop's lines (received=4000)"
    else
        fail "threads: the stats line counts every loop's lines" "$(grep '^vigil: stats' "$THREADS_DIR/spread.stderr" | tail -n 1)"
    fi
    stop_pid "$pid" 10 || true
else
    fail "threads: vigil serve --threads 5 starts"
fi

# UDP at five threads: each sender's datagrams are read by one loop, so stored in order.
data=$THREADS_DIR/udp
if VIGIL_STDOUT=/dev/null start_vigil "$data" "$THREADS_DIR/udp.stderr" --threads 5 --stats-interval 1s; then
    pid=$VIGIL_PID
    EXTRA_PIDS+=("$pid")
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    for n in $(seq 1 40); do
        for s in 2 3 4 5 6 7; do
            printf '<13>1 %s udp-%s app - - - line %s' "$now" "$s" "$n" \
                | timeout 5 nc -u -q 0 -s "127.0.0.$s" 127.0.0.1 "$VIGIL_UDP_PORT"
        done
    done
    seq 1 40 | sed 's/^/line /' >"$THREADS_DIR/udp-expected"
    if wait_for_lines "$data" 240 30 2; then
        ordered=1
        for s in 2 3 4 5 6 7; do
            cat "$data/hosts/udp-$s"/*.log 2>/dev/null | sed 's/.* - - - //' | cmp -s - "$THREADS_DIR/udp-expected" || ordered=0
        done
        if [ "$ordered" = 1 ]; then
            pass "threads: --threads 5 stores six UDP senders' 240 datagrams (a new nc each), each host's in order"
        else
            fail "threads: --threads 5 stores six UDP senders' datagrams, each host's in order" \
                "$(for s in 2 3 4 5 6 7; do printf 'udp-%s: %s\n' "$s" "$(sed 's/.* - - - //' "$data/hosts/udp-$s"/*.log | tr '\n' ' ' | cut -c1-120)"; done)"
        fi
    else
        fail "threads: --threads 5 stores six UDP senders' 240 datagrams" "stored $WAIT_LINES"
    fi
    for threads in 5 2; do
        rc=0
        timeout 10 "$VIGIL" serve --udp "127.0.0.1:$VIGIL_UDP_PORT" --tcp off --http off --data-dir "$THREADS_DIR/second$threads" \
            --threads "$threads" >/dev/null 2>"$THREADS_DIR/second$threads.stderr" || rc=$?
        if [ "$rc" = 1 ] && grep -q "127.0.0.1:$VIGIL_UDP_PORT: Address already in use" "$THREADS_DIR/second$threads.stderr"; then
            pass "threads: a second vigil serve --threads $threads on the same UDP port is refused"
        else
            fail "threads: a second vigil serve --threads $threads on the same UDP port is refused" \
                "exit $rc: $(cat "$THREADS_DIR/second$threads.stderr")"
        fi
    done
    stop_pid "$pid" 10 || true
else
    fail "threads: vigil serve --threads 5 starts for UDP"
fi

# A relay's one connection at five threads: twelve hosts send through a private rsyslogd (imtcp in,
# omfwd out over one TCP connection, as a relay tier forwards a fleet), so one loop reads all of it;
# each host's lines are stored by the loop that owns the host (docs/architecture.md, "The store,
# divided by host"): every host's file holds its lines in the order sent, the stats line shows one
# connection and lines stored by another loop than the reader.
data=$THREADS_DIR/relayed
RL=$THREADS_DIR/relay-rsyslog
if VIGIL_STDOUT=/dev/null start_vigil "$data" "$THREADS_DIR/relayed.stderr" --threads 5 --stats-interval 1s; then
    pid=$VIGIL_PID
    EXTRA_PIDS+=("$pid")
    RL_PORT=$(free_port)
    rsyslog_relay_conf "$RL" "$RL_PORT" "$VIGIL_TCP_PORT"
    if start_rsyslogd "$RL/rsyslog.conf" "$RL" "$RL_PORT"; then
        now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
        senders=()
        for h in $(seq 1 12); do
            for n in $(seq 1 300); do printf '<13>1 %s relayed-%s app - - - line %s\n' "$now" "$h" "$n"; done \
                >"$THREADS_DIR/relayed-$h.log"
            timeout 30 nc -q 1 127.0.0.1 "$RL_PORT" <"$THREADS_DIR/relayed-$h.log" &
            senders+=("$!")
        done
        wait "${senders[@]}" 2>/dev/null
        if wait_for_lines "$data" 3600 30 2; then
            ordered=1
            for h in $(seq 1 12); do
                # Every day file, in name order (a run across midnight writes two).
                [ "$(cat "$data/hosts/relayed-$h"/*.log 2>/dev/null | sed 's/.* - - - //')" \
                    = "$(sed 's/.* - - - //' "$THREADS_DIR/relayed-$h.log")" ] || ordered=0
            done
            if [ "$ordered" = 1 ]; then
                pass "threads: --threads 5 stores a relay's one connection (rsyslogd, twelve hosts), each host's 300 lines in order"
            else
                fail "threads: --threads 5 stores a relay's one connection, each host's lines in order"
            fi
        else
            fail "threads: --threads 5 stores a relay's one connection's 3600 lines" "stored $WAIT_LINES"
        fi
        _relayed_counted() { grep -q "^vigil: stats received=3600 .* accepted=1 .* stored_by_other_loop=[1-9]" "$THREADS_DIR/relayed.stderr"; }
        if wait_for 10 _relayed_counted; then
            pass "threads: one connection, and its lines stored by the loops owning their hosts (stored_by_other_loop > 0)"
        else
            fail "threads: a relay's lines are stored by the loops owning their hosts" \
                "$(grep '^vigil: stats' "$THREADS_DIR/relayed.stderr" | tail -n 1)"
        fi
        stop_pid "$RSYSLOG_PID" 10 || true
        RSYSLOG_PID=
    else
        fail "threads: a private rsyslogd relay starts" "$(cat "$RL/rsyslogd.out" 2>/dev/null)"
    fi
    stop_pid "$pid" 10 || true
else
    fail "threads: vigil serve --threads 5 starts (relay)"
fi
