# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, start_vigil, wait_for, stop_pid, WORK, VIGIL,
# EXTRA_PIDS): `vigil forward` shipping files to a `vigil serve` on loopback (docs/forward.md).
# Against the release binaries:
#   - appended lines arrive once each in DATA/hosts/<host>/;
#   - `mv` rotation with the old writer finishing into the renamed file, then a new file: all arrive;
#   - copytruncate (`cp` then `truncate -s0`): what was read before and everything after arrives;
#   - the forwarder killed with SIGKILL mid-stream and restarted: every line arrives, duplicates at
#     most one batch in flight;
#   - the collector stopped, 1000 lines appended, the collector started again on the same port:
#     all 1000 arrive, in order;
#   - an auth.log of sshd "Failed password" lines raises ssh_bruteforce for the right address;
#   - SIGTERM: exit 0 with a last stats line; bad flags: one line, exit 2.
# Every server listens on loopback only; every wait and loop is bounded.

FWD=$WORK/forward
FWD_LOGS=$FWD/logs
FWD_DATA=$FWD/data
FWD_HOST=e2e-forward
FWD_ERR=$FWD/forward.stderr
mkdir -p "$FWD_LOGS"
: >"$FWD_ERR"
for f in app.log rot.log ct.log kill.log down.log; do : >"$FWD_LOGS/$f"; done
FWD_FILES=("$FWD_LOGS/app.log" "$FWD_LOGS/rot.log" "$FWD_LOGS/ct.log" "$FWD_LOGS/kill.log" "$FWD_LOGS/down.log" "$FWD_LOGS/auth.log")

# fwd_start: starts the forwarder on every file (auth.log does not exist yet) into FWD_PORT.
fwd_start() {
    # Ready once it follows the last existing file (each restart says so again): counted before
    # the start, so that a forwarder quicker than this shell is not waited for twice.
    local want
    want=$(( $(grep -c "following $FWD_LOGS/down.log" "$FWD_ERR" 2>/dev/null) + 1 ))
    "$VIGIL" forward "${FWD_FILES[@]}" --to "tcp://127.0.0.1:$FWD_PORT" --state "$FWD/state" \
        --host "$FWD_HOST" --stats-interval 1s 2>>"$FWD_ERR" &
    FWD_PID=$!
    EXTRA_PIDS+=("$FWD_PID")
    wait_for 10 _fwd_following "$want"
}
_fwd_following() { [ "$(grep -c "following $FWD_LOGS/down.log" "$FWD_ERR")" -ge "$1" ]; }

# fwd_tokens REGEX: every token matching REGEX stored for the host, in stored order.
fwd_tokens() { cat "$FWD_DATA/hosts/$FWD_HOST"/*.log 2>/dev/null | grep -oE -- "$1"; }
# fwd_distinct REGEX / fwd_total REGEX: distinct and total numbers of such tokens.
fwd_distinct() { fwd_tokens "$1" | sort -u | wc -l; }
fwd_total() { fwd_tokens "$1" | wc -l; }
_fwd_distinct_at_least() { [ "$(fwd_distinct "$1")" -ge "$2" ]; }

# fwd_expect NAME REGEX N [SECONDS]: waits for N distinct tokens; passes when there are exactly N, once each.
fwd_expect() {
    local name=$1 re=$2 n=$3 distinct total
    wait_for "${4:-15}" _fwd_distinct_at_least "$re" "$n"
    distinct=$(fwd_distinct "$re")
    total=$(fwd_total "$re")
    if [ "$distinct" = "$n" ] && [ "$total" = "$n" ]; then
        pass "$name"
    else
        fail "$name" "expected $n distinct lines once each, found $distinct distinct in $total" \
            "forward: $(tail -n 3 "$FWD_ERR" | tr '\n' ' ')"
    fi
}

# lines PREFIX FROM TO: PREFIX-i-end for i in FROM..TO, one per line.
lines() { seq "$2" "$3" | sed "s/.*/$1-&-end/"; }

if VIGIL_STDOUT=$FWD/serve.stdout start_vigil "$FWD_DATA" "$FWD/serve.stderr" --stats-interval 1s; then
    FWD_SERVE_PID=$VIGIL_PID
    EXTRA_PIDS+=("$FWD_SERVE_PID")
    FWD_PORT=$VIGIL_TCP_PORT
    pass "forward: a collector starts (tcp $FWD_PORT)"
else
    fail "forward: a collector starts"
    FWD_SERVE_PID=
fi

if [ -n "$FWD_SERVE_PID" ]; then
    # --- bad flags: one line, exit 2
    "$VIGIL" forward "$FWD_LOGS/app.log" --to "udp://127.0.0.1:$FWD_PORT" 2>"$FWD/bad.stderr"
    rc=$?
    if [ "$rc" = 2 ] && [ "$(wc -l <"$FWD/bad.stderr")" = 1 ] && grep -q 'UDP' "$FWD/bad.stderr"; then
        pass "forward: --to udp:// is refused in one line, exit 2"
    else
        fail "forward: --to udp:// is refused in one line, exit 2" "rc=$rc: $(cat "$FWD/bad.stderr")"
    fi

    if fwd_start; then
        pass "forward: the forwarder starts and follows its files"
    else
        fail "forward: the forwarder starts and follows its files" "$(cat "$FWD_ERR")"
    fi

    # --- appends arrive once
    lines append 1 300 >>"$FWD_LOGS/app.log"
    fwd_expect "forward: 300 appended lines arrive once each in hosts/$FWD_HOST/" 'append-[0-9]+-end' 300
    if grep -qF " $FWD_HOST app.log - - - append-1-end" "$FWD_DATA/hosts/$FWD_HOST"/*.log; then
        pass "forward: a plain line is stored with the file's name as APP-NAME"
    else
        fail "forward: a plain line is stored with the file's name as APP-NAME" "$(grep -hF 'append-1-' "$FWD_DATA/hosts/$FWD_HOST"/*.log | head -n1)"
    fi

    # --- mv rotation: the old writer finishes into the renamed file, then a new file
    lines rot 1 100 >>"$FWD_LOGS/rot.log"
    mv "$FWD_LOGS/rot.log" "$FWD_LOGS/rot.log.1"
    lines rot 101 150 >>"$FWD_LOGS/rot.log.1"
    lines rot 151 300 >"$FWD_LOGS/rot.log"
    fwd_expect "forward: mv rotation loses and repeats nothing" 'rot-[0-9]+-end' 300

    # --- copytruncate: copy, truncate, then the writer goes on
    lines ct 1 100 >>"$FWD_LOGS/ct.log"
    wait_for 10 _fwd_distinct_at_least 'ct-[0-9]+-end' 100
    cp "$FWD_LOGS/ct.log" "$FWD_LOGS/ct.log.1"
    truncate -s0 "$FWD_LOGS/ct.log"
    # The writer goes on only once forward saw the truncation: the new lines would otherwise
    # make the file longer than the saved offset again before forward looked.
    wait_for 20 grep -q "ct.log was truncated" "$FWD_ERR" || fail "forward: the truncation of ct.log is noticed" "$(tail -n3 "$FWD_ERR")"
    lines ct 101 300 >>"$FWD_LOGS/ct.log"
    fwd_expect "forward: copytruncate loses and repeats nothing" 'ct-[0-9]+-end' 300

    # --- SIGKILL mid-stream, then a restart: every line, duplicates at most what was in flight
    (for chunk in $(seq 0 19); do lines kill $((chunk * 1000 + 1)) $((chunk * 1000 + 1000)); sleep 0.05; done \
        >>"$FWD_LOGS/kill.log") &
    WRITER_PID=$!
    EXTRA_PIDS+=("$WRITER_PID")
    wait_for 15 _fwd_distinct_at_least 'kill-[0-9]+-end' 3000
    kill -KILL "$FWD_PID" 2>/dev/null
    wait "$FWD_PID" 2>/dev/null
    killed_at=$(fwd_distinct 'kill-[0-9]+-end')
    fwd_start
    wait "$WRITER_PID" 2>/dev/null
    wait_for 30 _fwd_distinct_at_least 'kill-[0-9]+-end' 20000
    distinct=$(fwd_distinct 'kill-[0-9]+-end')
    total=$(fwd_total 'kill-[0-9]+-end')
    # One batch in flight is at most 256 KiB: about 3000 of these messages.
    if [ "$distinct" = 20000 ] && [ $((total - distinct)) -le 3000 ]; then
        pass "forward: SIGKILL after $killed_at of 20000 lines, restart: all arrive, $((total - distinct)) duplicate(s)"
    else
        fail "forward: SIGKILL mid-stream and restart: all arrive, few duplicates" \
            "distinct=$distinct total=$total (killed after $killed_at)" "forward: $(tail -n 3 "$FWD_ERR" | tr '\n' ' ')"
    fi

    # --- the collector down while 1000 lines are written, then back on the same port
    if stop_pid "$FWD_SERVE_PID" 10; then pass "forward: the collector stops (SIGTERM)"; else fail "forward: the collector stops (SIGTERM)"; fi
    lines down 1 1000 >>"$FWD_LOGS/down.log"
    if wait_for 10 grep -q "collector tcp://127.0.0.1:$FWD_PORT down" "$FWD_ERR"; then
        pass "forward: the collector being down is said, with the retry delay"
    else
        fail "forward: the collector being down is said, with the retry delay" "$(tail -n 3 "$FWD_ERR")"
    fi
    : >"$FWD/serve2.stderr"
    "$VIGIL" serve --udp 127.0.0.1:0 --tcp "127.0.0.1:$FWD_PORT" --http off --data-dir "$FWD_DATA" --threads 2 --stats-interval 1s \
        >>"$FWD/serve.stdout" 2>"$FWD/serve2.stderr" &
    FWD_SERVE_PID=$!
    EXTRA_PIDS+=("$FWD_SERVE_PID")
    if wait_for 10 grep -q '^vigil: ready' "$FWD/serve2.stderr"; then
        fwd_expect "forward: 1000 lines written while the collector was down all arrive once it is back" 'down-[0-9]+-end' 1000 60
        if fwd_tokens 'down-[0-9]+-end' | sed 's/down-\([0-9]*\)-end/\1/' | sort -n -c 2>/dev/null; then
            pass "forward: ... in the order they were written"
        else
            fail "forward: ... in the order they were written" "$(fwd_tokens 'down-[0-9]+-end' | head -n 5 | tr '\n' ' ')"
        fi
    else
        fail "forward: the collector starts again on port $FWD_PORT" "$(cat "$FWD/serve2.stderr")"
    fi

    # --- an auth.log that appears now: sshd failures keep their program, so ssh_bruteforce fires
    for i in 1 2 3 4 5 6 7 8; do
        printf '%s fwdbox sshd[%s]: Failed password for root from 203.0.113.77 port %s ssh2\n' \
            "$(date '+%b %e %H:%M:%S')" "$((4000 + i))" "$((50000 + i))"
    done >>"$FWD_LOGS/auth.log"
    if wait_for 20 grep -q '"rule":"ssh_bruteforce","state":"firing".*"ip":"203.0.113.77"' "$FWD_DATA/alerts.jsonl"; then
        if grep '"rule":"ssh_bruteforce","state":"firing"' "$FWD_DATA/alerts.jsonl" | grep -q "\"host\":\"$FWD_HOST\""; then
            pass "forward: a forwarded auth.log raises ssh_bruteforce for 203.0.113.77 on $FWD_HOST"
        else
            fail "forward: a forwarded auth.log raises ssh_bruteforce for 203.0.113.77 on $FWD_HOST" "$(grep ssh_bruteforce "$FWD_DATA/alerts.jsonl")"
        fi
    else
        fail "forward: a forwarded auth.log raises ssh_bruteforce for 203.0.113.77" \
            "alerts: $(tail -n 3 "$FWD_DATA/alerts.jsonl" 2>/dev/null | tr '\n' ' ')" \
            "stored: $(grep -hF 'sshd' "$FWD_DATA/hosts/$FWD_HOST"/*.log 2>/dev/null | head -n 2 | tr '\n' ' ')"
    fi

    # --- SIGTERM: exit 0 and a last stats line
    stop_pid "$FWD_PID" 10
    rc=$?
    if [ "$rc" = 0 ] && tail -n 1 "$FWD_ERR" | grep -q '^vigil forward: stats lines_read=[0-9]* lines_sent=[0-9]* '; then
        pass "forward: SIGTERM exits 0 after a last stats line ($(tail -n 1 "$FWD_ERR" | cut -d' ' -f4-6))"
    else
        fail "forward: SIGTERM exits 0 after a last stats line" "rc=$rc: $(tail -n 2 "$FWD_ERR" | tr '\n' ' ')"
    fi
    stop_pid "$FWD_SERVE_PID" 10
fi
