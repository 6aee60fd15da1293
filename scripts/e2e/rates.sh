# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, wait_for, start_vigil, WORK, VIGIL,
# EXTRA_PIDS): the rate rules live and offline on the same traffic. `vigil generate http --attack
# errors` is written to a file and read by `vigil analyze`, and the same lines (same seed and
# start) are sent with `--to` into a `vigil serve`: the same rules fire for the same hosts
# (http_error_burst on host-02, nothing else). A collector takes a line at its arrival at the
# latest, so `generate --to` sends a rate scenario's lines at their event times (sent at once, the
# 20,000 lines were taken in one second: http_high_traffic fired on every host and the 300 errors
# drowned among 6,700 requests of host-02). The start is put 50 min (the scenario's offset) less
# 3 s in the past, so the normal lines before it go out at once and the burst begins 3 s after the
# start of this part; the sender is stopped once the burst fired. Every wait is bounded.

RATES=$WORK/rates
mkdir -p "$RATES"
RATES_START=$(($(date +%s) - 3000 + 3))
RATES_ARGS=(http --count 20000 --attack errors --seed 5 --start "$RATES_START")

# "RULE HOST" per alert fired, sorted: offline from analyze's timeline, live from alerts.jsonl.
"$VIGIL" generate "${RATES_ARGS[@]}" --format rfc5424 --out "$RATES/errors.log" 2>"$RATES/generate-file.stderr"
"$VIGIL" analyze "$RATES/errors.log" >"$RATES/analyze.out" 2>"$RATES/analyze.stderr"
sed -n 's/^[^ ]* FIRING [a-z]* \([a-z_]*\) \([^:]*\):.*/\1 \2/p' "$RATES/analyze.out" | sort -u >"$RATES/offline"
if grep -qx 'http_error_burst host-02' "$RATES/offline"; then
    pass "rates: analyze fires http_error_burst on host-02 for generate --attack errors"
else
    fail "rates: analyze fires http_error_burst on host-02 for generate --attack errors" "$(grep -E 'FIRING|RESOLVED' "$RATES/analyze.out" | head -n 5)"
fi

_rates_fired_live() { grep -qF '"rule":"http_error_burst","state":"firing"' "$RATES/data/alerts.jsonl" 2>/dev/null; }
if VIGIL_STDOUT=/dev/null start_vigil "$RATES/data" "$RATES/vigil.stderr" --stats-interval 1s; then
    RATES_VIGIL_PID=$VIGIL_PID
    EXTRA_PIDS+=("$RATES_VIGIL_PID")
    "$VIGIL" generate "${RATES_ARGS[@]}" --to "tcp://127.0.0.1:$VIGIL_TCP_PORT" 2>"$RATES/generate-live.stderr" &
    RATES_GEN_PID=$!
    EXTRA_PIDS+=("$RATES_GEN_PID")
    wait_for 20 _rates_fired_live
    # Alerts are written in order: whatever the lines sent before the burst fired is in the file
    # by now (nothing, as in analyze: the lines dated before this part's start keep their times).
    kill "$RATES_GEN_PID" 2>/dev/null
    sed -n 's/.*"rule":"\([a-z_]*\)","state":"firing".*"host":"\([^"]*\)".*/\1 \2/p' "$RATES/data/alerts.jsonl" \
        | sort -u >"$RATES/live"
    if [ -s "$RATES/live" ] && cmp -s "$RATES/offline" "$RATES/live"; then
        pass "rates: generate --to fires what analyze fires on the same traffic ($(tr '\n' ' ' <"$RATES/live"| sed 's/ $//'))"
    else
        fail "rates: generate --to fires what analyze fires on the same traffic" \
            "analyze: $(tr '\n' ',' <"$RATES/offline")" "live: $(tr '\n' ',' <"$RATES/live")" \
            "$(grep -F '"state":"firing"' "$RATES/data/alerts.jsonl" 2>/dev/null | head -n 3)"
    fi
    stop_pid "$RATES_VIGIL_PID" 5 || true
else
    fail "rates: vigil serve starts"
fi
