# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, wait_for, wait_for_lines, start_vigil,
# stop_pid, WORK, VIGIL, EXTRA_PIDS): `server.threads`. The same sshd and nginx traffic (brute
# force, distributed and scan attacks from `vigil generate`, RFC 5424 lines) is sent by netcat
# over one TCP connection into a `vigil serve --threads 1` and a `vigil serve --threads 2`: both
# store every line and raise the same alerts (compared without their ids, which carry each run's
# start). The traffic starts 40 minutes in the past and the lateness is an hour, so no clock tick
# of either run makes an event late and nothing resolves during the run: what fires depends on the
# lines alone. With two threads the stats line counts `analysis_waits`.

THREADS_DIR=$WORK/threads
mkdir -p "$THREADS_DIR"
THREADS_START=$(($(date +%s) - 2400))
{
    "$VIGIL" generate ssh --count 4000 --hosts 6 --attack bruteforce,distributed --format syslog --seed 11 \
        --start "$THREADS_START"
    "$VIGIL" generate http --count 4000 --hosts 6 --attack scan --format syslog --seed 12 --start "$THREADS_START"
} >"$THREADS_DIR/traffic.log" 2>"$THREADS_DIR/generate.stderr"
THREADS_LINES=$(wc -l <"$THREADS_DIR/traffic.log")

for threads in 1 2; do
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
    if [ "$threads" = 2 ]; then
        if [[ $stats == *" analysis_waits="* ]]; then
            pass "threads: with two threads the stats line counts analysis_waits"
        else
            fail "threads: with two threads the stats line counts analysis_waits" "$stats"
        fi
    elif [[ -n $stats && $stats != *analysis_waits* ]]; then
        pass "threads: with one thread the stats line has no analysis_waits"
    else
        fail "threads: with one thread the stats line has no analysis_waits" "$stats"
    fi
done

fired=$(grep -o '"rule":"[a-z_]*","state":"firing"' "$THREADS_DIR/alerts1" 2>/dev/null | sort -u | sed 's/"rule":"\([a-z_]*\)".*/\1/' | tr '\n' ' ')
if [[ $fired == *ssh_bruteforce* && $fired == *ssh_distributed* && $fired == *http_scan* ]] \
    && cmp -s "$THREADS_DIR/alerts1" "$THREADS_DIR/alerts2"; then
    pass "threads: --threads 1 and --threads 2 raise the same $(wc -l <"$THREADS_DIR/alerts1") alerts (${fired% })"
else
    fail "threads: --threads 1 and --threads 2 raise the same alerts" "fired with 1: $fired" \
        "$(diff "$THREADS_DIR/alerts1" "$THREADS_DIR/alerts2" 2>&1 | head -n 6)"
fi
