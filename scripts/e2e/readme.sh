# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, WORK, VIGIL, ROOT, EXTRA_PIDS): the README's
# commands as a user pastes them. Each block marked `<!-- readme-test: NAME -->` in README.md is
# taken from README.md itself and run as one pasted block by bash, in its own empty directory
# (with the repository's scripts/ and Tests/ linked in, as the blocks run from the top
# directory), with the vigil under test first on PATH; then what the README promises is checked:
#   - quick-tour: vigil waits for `vigil: ready`, stores every host the tour names, raises
#     ssh_bruteforce for 203.0.113.7 and nothing for the address a user name plants, and the
#     two alerts the README says the captured samples raise; serve stops cleanly;
#   - load-generator: exactly the alerts the README lists: http_high_traffic for host-01..03
#     and for all hosts, then ssh_bruteforce for 203.0.113.10 on host-01.
# Also `vigil analyze` on the inputs a new user tries: a gzip-compressed file (one line naming
# zcat, exit 1), only missing files (no report, exit 1), generate --start in RFC 3339, and
# follow's default file.
# The blocks use the default ports, 5514 (TCP and UDP) and 8514 (the API), on loopback: when
# something else holds one of them the part fails saying so, instead of running. Every run is
# bounded by timeout; whatever a block leaves running is killed with its process group.

RM=$WORK/readme
mkdir -p "$RM/bin"
ln -sf "$VIGIL" "$RM/bin/vigil"

# readme_block NAME: the lines of the fenced block after `<!-- readme-test: NAME -->` in README.md.
readme_block() {
    awk -v marker="<!-- readme-test: $1 -->" '
        $0 == marker { armed = 1; next }
        armed && /^```/ { if (inside) exit; inside = 1; next }
        inside { print }' "$ROOT/README.md"
}

# readme_run NAME TIMEOUT_S: runs block NAME in $RM/NAME/ (stdout NAME.out, stderr NAME.stderr);
# sets README_RC to the block's exit status (124: timed out). timeout runs it in a process group
# of its own, killed afterwards so that nothing the block started outlives it.
readme_run() {
    local name=$1 limit=$2 dir=$RM/$1 tpid
    mkdir -p "$dir"
    ln -s "$ROOT/scripts" "$ROOT/Tests" "$dir/"
    readme_block "$name" >"$dir/block.sh"
    (cd "$dir" && PATH="$RM/bin:$PATH" exec timeout -k 5 "$limit" bash block.sh >"$RM/$name.out" 2>"$RM/$name.stderr") &
    tpid=$!
    EXTRA_PIDS+=("$tpid")
    wait "$tpid"
    README_RC=$?
    kill -KILL -- "-$tpid" 2>/dev/null
}

# readme_ports_free: true when the default ports the README's blocks use are free; else fails.
readme_ports_free() {
    local busy=()
    port_in_use tcp 5514 && busy+=("tcp 5514")
    port_in_use udp 5514 && busy+=("udp 5514")
    port_in_use tcp 8514 && busy+=("tcp 8514")
    [ ${#busy[@]} = 0 ] && return 0
    fail "the README's blocks use the default ports 5514 and 8514, but something holds ${busy[*]} (see ss -ltunp); not run"
    return 1
}

if [ -z "$(readme_block quick-tour)" ] || [ -z "$(readme_block load-generator)" ]; then
    fail "README.md marks its quick tour and load-generator blocks (<!-- readme-test: NAME -->)"
fi

# --- the quick tour

if [ -n "$(readme_block quick-tour)" ] && readme_ports_free; then
    readme_run quick-tour 120
    TOUR=$RM/quick-tour
    # The block's wait keeps it from sending before `vigil: ready`; its kill ends serve cleanly.
    if [ "$README_RC" = 0 ] && grep -q '^vigil: ready' "$TOUR/serve.log" && grep -q '^vigil: signal 15, shutting down' "$TOUR/serve.log" \
        && [ "$(tail -n 1 "$TOUR/serve.log" | cut -d' ' -f2)" = stats ]; then
        pass "the quick tour runs as one pasted block: serve is ready before anything is sent, and stops cleanly"
    else
        fail "the quick tour runs as one pasted block: serve is ready before anything is sent, and stops cleanly" \
            "block exit $README_RC" "$(tail -n 5 "$TOUR/serve.log" 2>/dev/null)" "$(tail -n 5 "$RM/quick-tour.stderr")"
    fi
    hosts=
    for d in "$TOUR"/vigil-data/hosts/*/; do [ -d "$d" ] && hosts+="$(basename "$d") "; done
    if [[ " $hosts " == *" web1 "* && " $hosts " == *" vm "* && " $hosts " == *" edge-tcp-forward "* ]] \
        && grep -q 'hello over UDP' "$TOUR"/vigil-data/hosts/*/*.log && grep -q 'hello over TCP, octet-counted' "$TOUR"/vigil-data/hosts/*/*.log; then
        pass "the quick tour stores the hosts its comment names (web1 vm edge-tcp-forward ...) and both logger messages"
    else
        fail "the quick tour stores the hosts its comment names (web1 vm edge-tcp-forward ...) and both logger messages" "hosts: $hosts"
    fi
    # The samples' sshd lines are from November 2026: live, they are late once the collector's
    # first clock tick passed them, so only web1's alert is certain (README, after the block).
    if grep -q '"rule":"ssh_bruteforce","state":"firing".*"host":"web1","ip":"203.0.113.7"' "$RM/quick-tour.out" \
        && ! grep -q '198\.51\.100\.9"' "$TOUR/vigil-data/alerts.jsonl"; then
        pass "the quick tour's cat shows ssh_bruteforce for 203.0.113.7 on web1 (nothing for the planted 198.51.100.9)"
    else
        fail "the quick tour's cat shows ssh_bruteforce for 203.0.113.7 on web1 (nothing for the planted 198.51.100.9)" \
            "$(grep '"rule"' "$RM/quick-tour.out" | cut -c1-200)"
    fi
    # What the README says to run instead.
    if "$VIGIL" analyze "$ROOT/Tests/Fixtures/samples/sshd-normal-auth.log" 2>/dev/null \
        | grep -q 'FIRING warning ssh_bruteforce vm 127.0.0.1' \
        && "$VIGIL" analyze "$ROOT/Tests/Fixtures/samples/sshd-normal-auth.log" 2>/dev/null \
        | grep -q 'FIRING info ssh_repeat_access vm 127.0.0.1'; then
        pass "vigil analyze on the sshd sample shows ssh_bruteforce and ssh_repeat_access for 127.0.0.1 on vm, as the README says"
    else
        fail "vigil analyze on the sshd sample shows ssh_bruteforce and ssh_repeat_access for 127.0.0.1 on vm, as the README says"
    fi
fi

# --- the load generator, run in the order shown

if [ -n "$(readme_block load-generator)" ] && readme_ports_free; then
    readme_run load-generator 180
    LOADGEN_DIR=$RM/load-generator
    # One line per firing alert, as the block's grep prints them: rule, scope and host.
    fired=$(grep -o '"rule":"[a-z_]*","state":"firing","severity":"[a-z]*","scope":"[a-z]*","host":[^,]*' \
        "$LOADGEN_DIR/vigil-data/alerts.jsonl" 2>/dev/null | sed 's/"severity":"[a-z]*",//' | sort | tr '\n' ' ')
    want='"rule":"http_high_traffic","state":"firing","scope":"global","host":null '
    want+='"rule":"http_high_traffic","state":"firing","scope":"host","host":"host-01" '
    want+='"rule":"http_high_traffic","state":"firing","scope":"host","host":"host-02" '
    want+='"rule":"http_high_traffic","state":"firing","scope":"host","host":"host-03" '
    want+='"rule":"ssh_bruteforce","state":"firing","scope":"host","host":"host-01" '
    if [ "$README_RC" = 0 ] && [ "$fired" = "$want" ] \
        && grep -q '"rule":"ssh_bruteforce","state":"firing".*"ip":"203.0.113.10"' "$LOADGEN_DIR/vigil-data/alerts.jsonl" \
        && [ "$(grep -c '"rule"' "$RM/load-generator.out")" = 5 ]; then
        pass "the README's load-generator commands raise exactly the alerts it lists (http_high_traffic x4, ssh_bruteforce for 203.0.113.10)"
    else
        fail "the README's load-generator commands raise exactly the alerts it lists" "block exit $README_RC" \
            "fired: ${fired:-nothing}" "$(tail -n 3 "$RM/load-generator.stderr")"
    fi
fi

# --- analyze on what a new user feeds it; generate --start as the README writes it

printf 'x\n' | gzip -c >"$RM/auth.log.2.gz"
"$VIGIL" analyze "$RM/auth.log.2.gz" "$RM/missing.log" >"$RM/gz.out" 2>"$RM/gz.err"
rc=$?
if [ "$rc" = 1 ] && [ ! -s "$RM/gz.out" ] && [ "$(wc -l <"$RM/gz.err")" = 2 ] \
    && grep -qxF "vigil analyze: $RM/auth.log.2.gz is gzip-compressed; run: zcat $RM/auth.log.2.gz | vigil analyze -" "$RM/gz.err" \
    && grep -qxF "vigil analyze: $RM/missing.log: No such file or directory (skipped)" "$RM/gz.err"; then
    pass "analyze with no readable input: one line per input (gzip names zcat), no report, exit 1"
else
    fail "analyze with no readable input: one line per input (gzip names zcat), no report, exit 1" \
        "exit $rc, $(wc -l <"$RM/gz.out") report lines" "$(cat "$RM/gz.err")"
fi
"$VIGIL" generate http --count 200 --start 2026-01-01T00:00:00Z --out "$RM/access.log" 2>"$RM/gen.err"
rc=$?
if [ "$rc" = 0 ] && head -n 1 "$RM/access.log" | grep -q '\[01/Jan/2026:00:0'; then
    pass "generate --start takes an RFC 3339 time"
else
    fail "generate --start takes an RFC 3339 time" "exit $rc: $(cat "$RM/gen.err")" "$(head -n 1 "$RM/access.log")"
fi
"$VIGIL" analyze "$RM/access.log" "$RM/auth.log.2.gz" >"$RM/mixed.out" 2>"$RM/mixed.err"
mixed_rc=$?
if [ "$mixed_rc" = 1 ] && grep -q "^$RM/access.log: combined, 200 lines, 0 invalid$" "$RM/mixed.out" \
    && grep -q "^$RM/auth.log.2.gz: skipped, gzip-compressed$" "$RM/mixed.out" && [ "$(wc -l <"$RM/mixed.err")" = 1 ]; then
    pass "analyze reports the readable inputs, lists the skipped one, exits 1"
else
    fail "analyze reports the readable inputs, lists the skipped one, exits 1" "exit $mixed_rc" "$(head -n 4 "$RM/mixed.out")" "$(cat "$RM/mixed.err")"
fi
"$VIGIL" generate http --start yesterday >/dev/null 2>"$RM/start.err"
rc=$?
# shellcheck disable=SC2016  # the backquotes are in vigil's message
if [ "$rc" = 2 ] && grep -qF 'vigil generate: --start must be an RFC 3339 time (2026-01-01T00:00:00Z), a day (2026-01-01) or Unix seconds, got `yesterday`' "$RM/start.err"; then
    pass "generate --start with neither form: one clear line, exit 2"
else
    fail "generate --start with neither form: one clear line, exit 2" "exit $rc: $(cat "$RM/start.err")"
fi

# --- follow without a FILE follows Debian's nginx access log (the README's Commands table)

"$VIGIL" follow --interval 60s >/dev/null 2>"$RM/follow.err" &
FOLLOW_PID=$!
EXTRA_PIDS+=("$FOLLOW_PID")
# It says at once what it follows or waits for, or (no /var/log/nginx) refuses the path in one line.
if wait_for 5 grep -q '/var/log/nginx/access\.log' "$RM/follow.err"; then
    pass "follow without a FILE follows /var/log/nginx/access.log ($(head -n 1 "$RM/follow.err"))"
else
    fail "follow without a FILE follows /var/log/nginx/access.log" "$(head -n 3 "$RM/follow.err")"
fi
stop_pid "$FOLLOW_PID" 5 >/dev/null
