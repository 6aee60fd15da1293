# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, alert_count, WORK, VIGIL, RUN, EXTRA_PIDS):
# no sender may decide what vigil believes about another one. Against the release binary:
#   - forged relay lines on the syslog port are only log lines, and a real brute force on the host
#     they name still alerts; on the relay listener they are refused and counted;
#   - a real rsyslogd relays sealed events from an edge vigil to a central vigil, which raises
#     ssh_distributed from them;
#   - one sender's clock an hour ahead blinds nobody, and no alert carries a future time;
#   - under prlimit, 1,100 connections neither spin the loop nor lock out a new sender, and out
#     of descriptors the listener refuses politely instead of spinning;
#   - an escape sequence in a request path never reaches the terminal raw;
#   - another local user cannot take vigil's UDP port: `nc -u -l` as nobody is refused, and
#     logger's datagram still reaches vigil;
#   - an API client that resets its connection while vigil writes to it (no token needed: the
#     dashboard) ends nothing: before MSG_NOSIGNAL, SIGPIPE killed `vigil serve` (exit 141);
#   - a user who can write to a followed log's directory swaps the log for a symbolic link to a
#     root-only file: `vigil forward` (as root) refuses the link and ships none of that file, then
#     follows the next real log;
#   - 1,024 idle API connections from four addresses, 127.0.0.1 (the operator's own) among them,
#     each after one tokenless request (every connection the API takes) do not lock the operator
#     out: the request gets its answer, an idle connection of theirs is closed for it.
# Every server listens on loopback only; every wait and load is bounded.

TRUST=$WORK/trust
mkdir -p "$TRUST"
KEY=$TRUST/relay.key
make_relay_key "$KEY"


# --- forged relay lines and one sender's clock, against a central with a relay listener

CENTRAL=$TRUST/central
CENTRAL_ERR=$TRUST/central.stderr
CENTRAL_OUT=$TRUST/central.stdout
if VIGIL_STDOUT=$CENTRAL_OUT start_vigil "$CENTRAL" "$CENTRAL_ERR" --stats-interval 1s --sink stdout \
    --relay-listen 127.0.0.1:0 --relay-allow 127.0.0.1/32 --relay-key "$KEY"; then
    CENTRAL_PID=$VIGIL_PID
    EXTRA_PIDS+=("$CENTRAL_PID")
    CENTRAL_TCP=$VIGIL_TCP_PORT
    CENTRAL_RELAY=$VIGIL_RELAY_PORT
    pass "a central starts with a relay listener (relay port $CENTRAL_RELAY)"
else
    fail "a central starts with a relay listener"
    CENTRAL_PID=
fi

if [ -n "$CENTRAL_PID" ]; then
    ALERTS_SAVED=${ALERTS:-}
    ALERTS=$CENTRAL/alerts.jsonl
    now=$(date -u +%FT%TZ)
    # The finding's reproducer: relay lines naming three hosts that never sent anything, an http
    # relay line marking web1 as relayed, a count of a million; then web1's real brute force.
    {
        for h in web7 web8 web9; do
            printf '<30>1 %s %s vigil-relay 4242 auth_failure [event@32473 v="1" host="%s" time="%s" ip="192.0.2.66" port="4242" user="root" count="1000000"]\n' \
                "$now" "$h" "$h" "$now"
        done
        printf '<30>1 %s web1 vigil-relay 4242 http [event@32473 v="1" host="web1" time="%s" ip="192.0.2.67" status="200" bytes="1"]\n' "$now" "$now"
        for i in 1 2 3 4 5 6 7 8; do
            printf '<38>1 %s web1 sshd 5%s - - Failed password for root from 198.51.100.70 port 4%s ssh2\n' "$now" "$i" "$i"
        done
    } | timeout 10 nc -N -w 3 127.0.0.1 "$CENTRAL_TCP"
    expect_alert "forged relay lines on the syslog port: web1's real brute force still fires" 10 \
        '"rule":"ssh_bruteforce","state":"firing"' '"host":"web1"' '"ip":"198.51.100.70"'
    if [ "$(alert_count "$ALERTS" '192.0.2.66')" = 0 ] && [ "$(alert_count "$ALERTS" 'ssh_distributed')" = 0 ]; then
        pass "forged relay lines on the syslog port raise nothing about the hosts they name"
    else
        fail "forged relay lines on the syslog port raise nothing about the hosts they name" "$(cat "$ALERTS")"
    fi
    DATA_SAVED=$DATA
    DATA=$CENTRAL
    expect "a forged relay line is stored as the log line it is (hosts/web7)" web7 'vigil-relay 4242 auth_failure'
    DATA=$DATA_SAVED
    # The same lines on the relay listener: refused and counted, none taken.
    printf '<30>1 %s web7 vigil-relay 4242 auth_failure [event@32473 v="1" host="web7" time="%s" ip="192.0.2.66"]\n' "$now" "$now" \
        | timeout 10 nc -N -w 3 127.0.0.1 "$CENTRAL_RELAY"
    if wait_for 10 grep -q '^vigil: relay listener received=0 .*rejected=1 .*unsigned=1' "$CENTRAL_ERR"; then
        pass "an unsealed relay message on the relay listener is refused and counted"
    else
        fail "an unsealed relay message on the relay listener is refused and counted" "$(grep 'relay' "$CENTRAL_ERR" | tail -n3)"
    fi
    if grep -q 'vigil: relay: rejected a message from 127.0.0.1 (unsigned)' "$CENTRAL_ERR"; then
        pass "the rejection is logged with its sender and reason"
    else
        fail "the rejection is logged with its sender and reason" "$(grep 'relay' "$CENTRAL_ERR" | tail -n3)"
    fi

    # One web server's access-log line an hour ahead, then another host's failures at the right time.
    ahead=$(date -u -d '+1 hour' '+%d/%b/%Y:%H:%M:%S +0000')
    now=$(date -u +%FT%TZ)
    {
        printf '<190>%s web9 nginx: 10.0.0.1 - - [%s] "GET / HTTP/1.1" 200 5 "-" "curl"\n' "$(date -u '+%b %e %H:%M:%S')" "$ahead"
        for i in 1 2 3 4 5 6 7 8; do
            printf '<38>1 %s web2 sshd 6%s - - Failed password for root from 198.51.100.71 port 5%s ssh2\n' "$now" "$i" "$i"
        done
    } | timeout 10 nc -N -w 3 127.0.0.1 "$CENTRAL_TCP"
    expect_alert "a sender's clock an hour ahead: another host's brute force still fires" 10 \
        '"rule":"ssh_bruteforce","state":"firing"' '"host":"web2"' '"ip":"198.51.100.71"'
    if wait_for 5 _stat_at_least "$CENTRAL_ERR" future 1; then
        pass "the line an hour ahead is counted as future on the stats line"
    else
        fail "the line an hour ahead is counted as future on the stats line" "$(grep '^vigil: stats' "$CENTRAL_ERR" | tail -n1)"
    fi
    latest=$(grep -o '"ts":"[^"]*"' "$ALERTS" | cut -d'"' -f4 | sort | tail -n1)
    if [ -n "$latest" ] && [[ "$latest" < "$(date -u -d '+5 seconds' +%FT%TZ)" ]]; then
        pass "no alert carries a future time (latest $latest)"
    else
        fail "no alert carries a future time" "latest ts: $latest"
    fi

    # A request path with an escape sequence: the stats block on stdout shows it escaped.
    printf '<190>1 %s web3 nginx - - - 10.0.0.2 - - [%s] "GET /\033[2Jpwn%s HTTP/1.1" 200 5 "-" "curl"\n' \
        "$(date -u +%FT%TZ)" "$(date -u '+%d/%b/%Y:%H:%M:%S +0000')" "$RUN" | timeout 10 nc -N -w 3 127.0.0.1 "$CENTRAL_TCP"
    if wait_for 5 grep -qF "pwn$RUN" "$CENTRAL_OUT" && ! grep -q $'\033' "$CENTRAL_OUT"; then
        pass "an escape sequence in a request path reaches stdout escaped, never raw"
    else
        fail "an escape sequence in a request path reaches stdout escaped, never raw" "$(grep -c $'\033' "$CENTRAL_OUT") raw ESC bytes"
    fi
    ALERTS=$ALERTS_SAVED
fi

# --- a real rsyslogd relaying sealed events from an edge vigil to the central's relay listener

if [ -n "$CENTRAL_PID" ]; then
    RR=$TRUST/rsyslog-relay
    RR_PORT=$(free_port)
    # Between an edge vigil and a central vigil: the edge's sealed events, forwarded unchanged.
    rsyslog_relay_conf "$RR" "$RR_PORT" "$CENTRAL_RELAY"
    if start_rsyslogd "$RR/rsyslog.conf" "$RR" "$RR_PORT"; then
        EXTRA_PIDS+=("$RSYSLOG_PID")
        RR_PID=$RSYSLOG_PID
        RSYSLOG_PID=
        if start_vigil "$TRUST/edge" "$TRUST/edge.stderr" --stats-interval 1s --relay "syslog+tcp://127.0.0.1:$RR_PORT" \
            --relay-key "$KEY" --relay.edge_name e2e-edge; then
            EDGE_PID=$VIGIL_PID
            EXTRA_PIDS+=("$EDGE_PID")
            now=$(date -u +%FT%TZ)
            for h in e2e-h1 e2e-h2 e2e-h3; do
                printf '<38>1 %s %s sshd 71 - - Failed password for admin from 203.0.113.99 port 4001 ssh2\n' "$now" "$h"
            done | timeout 10 nc -N -w 3 127.0.0.1 "$VIGIL_TCP_PORT"
            ALERTS_SAVED=$ALERTS
            ALERTS=$CENTRAL/alerts.jsonl
            expect_alert "rsyslogd relays an edge's sealed events: the central raises ssh_distributed" 15 \
                '"rule":"ssh_distributed","state":"firing"' '"ip":"203.0.113.99"' '"hosts":["e2e-h1","e2e-h2","e2e-h3"]'
            ALERTS=$ALERTS_SAVED
            if wait_for 5 grep -q '^vigil: relay listener received=3 .*rejected=[0-9]' "$CENTRAL_ERR" \
                && [ "$(relay_listener_value "$CENTRAL_ERR" rejected)" = 1 ]; then
                pass "the central took the 3 relayed events and rejected nothing more (the earlier forged one only)"
            else
                fail "the central took the 3 relayed events and rejected nothing more" "$(grep '^vigil: relay listener' "$CENTRAL_ERR" | tail -n1)"
            fi
            stop_pid "$EDGE_PID" 15 || true
        else
            fail "an edge vigil starts relaying through rsyslogd"
        fi
        stop_pid "$RR_PID" 10 || true
    else
        fail "a private rsyslogd relays between two vigils" "$(cat "$RR/rsyslogd.out" 2>/dev/null)"
    fi
fi
[ -n "$CENTRAL_PID" ] && { stop_pid "$CENTRAL_PID" 15 || true; }

# --- descriptor floods under prlimit

ensure_command prlimit util-linux
ensure_command python3 python3
FD=$TRUST/fd
mkdir -p "$FD"
LIMITED=$FD/vigil-limited
printf '#!/bin/sh\nexec prlimit --nofile=1024:1024 %s "$@"\n' "$VIGIL" >"$LIMITED"
chmod +x "$LIMITED"
VIGIL_SAVED=$VIGIL
VIGIL=$LIMITED
if start_vigil "$FD/data" "$FD/stderr" --stats-interval 1s; then
    FD_PID=$VIGIL_PID
    EXTRA_PIDS+=("$FD_PID")
    VIGIL=$VIGIL_SAVED
    if grep -q '^vigil: max_connections lowered to [0-9]* per TCP listener to fit the open-file limit of 1024' "$FD/stderr"; then
        pass "under prlimit 1024 the connection cap is lowered to fit ($(sed -n 's/^vigil: max_connections lowered to \([0-9]*\).*/\1/p' "$FD/stderr"))"
    else
        fail "under prlimit 1024 the connection cap is lowered to fit" "$(head -n5 "$FD/stderr")"
    fi
    # 1,100 connections from one address, held; meanwhile vigil's CPU and a newcomer's message.
    timeout 60 python3 "$ROOT/scripts/e2e/hold_connections.py" "$VIGIL_TCP_PORT" 1100 127.0.0.1 e2e-fd-flood 8 >"$FD/hold.out" 2>&1 &
    HOLD_PID=$!
    if wait_for 40 grep -q '^ready' "$FD/hold.out"; then
        before=$(cpu_ticks "$FD_PID")
        sleep 2  # a measurement window, not a synchronisation: CPU used while 1,100 connections sit idle
        used=$(($(cpu_ticks "$FD_PID") - before))
        if [ "$used" -lt 40 ]; then
            pass "1,100 idle connections under prlimit 1024: the loop does not spin ($used ticks of CPU in 2 s)"
        else
            fail "1,100 idle connections under prlimit 1024: the loop does not spin" "$used ticks of CPU in 2 s"
        fi
        printf '<13>1 - e2e-fd-newhost app - - - newcomer %s\n' "$RUN" | timeout 10 nc -N -w 3 -s 127.0.0.2 127.0.0.1 "$VIGIL_TCP_PORT"
        DATA_SAVED=$DATA
        DATA=$FD/data
        expect "a new sender (and a new host file) is served while 1,100 connections are held" e2e-fd-newhost "newcomer $RUN"
        DATA=$DATA_SAVED
    else
        fail "1,100 connections are opened" "$(cat "$FD/hold.out")"
    fi
    wait "$HOLD_PID" 2>/dev/null
    if wait_for 5 _stat_at_least "$FD/stderr" evicted 1; then
        pass "connections past the cap were made room for by closing the longest idle ($(stat_value "$FD/stderr" evicted) evicted)"
    else
        fail "connections past the cap were made room for by closing the longest idle" "$(grep '^vigil: stats' "$FD/stderr" | tail -n1)"
    fi
    # Out of descriptors: lower the running process's limit below what it holds room for.
    prlimit --pid "$FD_PID" --nofile=200:200
    timeout 60 python3 "$ROOT/scripts/e2e/hold_connections.py" "$VIGIL_TCP_PORT" 400 127.0.0.3 e2e-fd-emfile 6 >"$FD/emfile.out" 2>&1 &
    HOLD_PID=$!
    if wait_for 40 grep -q '^ready' "$FD/emfile.out"; then
        before=$(cpu_ticks "$FD_PID")
        sleep 2  # a measurement window, as above
        used=$(($(cpu_ticks "$FD_PID") - before))
        if [ "$used" -lt 40 ]; then
            pass "out of descriptors (EMFILE) the loop does not spin ($used ticks of CPU in 2 s)"
        else
            fail "out of descriptors (EMFILE) the loop does not spin" "$used ticks of CPU in 2 s"
        fi
    else
        fail "400 connections are opened past the descriptor limit" "$(cat "$FD/emfile.out")"
    fi
    wait "$HOLD_PID" 2>/dev/null
    closed=$(sed -n 's/.*closed_by_server=\([0-9]*\).*/\1/p' "$FD/emfile.out")
    if [ "${closed:-0}" -ge 100 ] && _stat_at_least "$FD/stderr" rejected_no_fds 1; then
        pass "clients past the descriptor limit are closed at once, not left hanging ($closed of 400; counted)"
    else
        fail "clients past the descriptor limit are closed at once, not left hanging" "$(cat "$FD/emfile.out")" \
            "$(grep '^vigil: stats' "$FD/stderr" | tail -n1)"
    fi
    logged=$(grep -c 'out of file descriptors' "$FD/stderr")
    if [ "$logged" -ge 1 ] && [ "$logged" -le 12 ]; then
        pass "running out of descriptors is logged at most once per interval ($logged lines)"
    else
        fail "running out of descriptors is logged at most once per interval" "$logged lines"
    fi
    printf '<13>1 - e2e-fd-after app - - - after %s\n' "$RUN" | timeout 10 nc -N -w 3 127.0.0.1 "$VIGIL_TCP_PORT"
    DATA_SAVED=$DATA
    DATA=$FD/data
    # The store holds a spare descriptor back: blocked instead, it would park the connections that
    # hold every descriptor, and none would ever be given back.
    if ! grep -q 'store: cannot write' "$FD/stderr" && [ -n "$(ls "$FD/data/hosts/e2e-fd-emfile" 2>/dev/null)" ]; then
        pass "out of descriptors the store still opens a new host's file (its spare descriptor)"
    else
        fail "out of descriptors the store still opens a new host's file" "$(grep 'store:' "$FD/stderr" | head -n3)"
    fi
    wait_for 15 _count_reached e2e-fd-after "after $RUN" 1
    expect "once descriptors are free again the listener takes connections again" e2e-fd-after "after $RUN"
    DATA=$DATA_SAVED
    stop_pid "$FD_PID" 15 || true
else
    VIGIL=$VIGIL_SAVED
    fail "vigil serve starts under prlimit --nofile=1024:1024"
fi


# --- no other local user takes the UDP port (SO_REUSEADDR on UDP let any user bind it too, and
# the socket bound last received every datagram: vigil went silent)

# At two threads vigil's one socket, at three the loops' sockets sharing the port (SO_REUSEPORT,
# which only the same user may join).
for port_threads in 2 3; do
    PORT_DIR=$TRUST/udp-port-$port_threads
    if VIGIL_THREADS=$port_threads start_vigil "$PORT_DIR/data" "$PORT_DIR/stderr"; then
        PORT_PID=$VIGIL_PID
        EXTRA_PIDS+=("$PORT_PID")
        rc=0
        setpriv --reuid=65534 --regid=65534 --clear-groups timeout 5 nc -u -l 127.0.0.1 "$VIGIL_UDP_PORT" \
            >"$PORT_DIR/nc.out" 2>"$PORT_DIR/nc.err" || rc=$?
        if [ "$rc" = 1 ] && grep -q 'Address already in use' "$PORT_DIR/nc.err"; then
            pass "another user's nc -u -l on vigil's UDP port is refused (address in use; --threads $port_threads)"
        else
            fail "another user's nc -u -l on vigil's UDP port is refused (--threads $port_threads)" "exit $rc: $(cat "$PORT_DIR/nc.err")"
        fi
        logger -n 127.0.0.1 -P "$VIGIL_UDP_PORT" -d --rfc5424 -t porttest -p auth.info "still vigil's $port_threads $RUN"
        DATA_SAVED=$DATA
        DATA=$PORT_DIR/data
        expect "the next datagram is vigil's (--threads $port_threads)" "$HOST_FULL" "still vigil's $port_threads $RUN"
        DATA=$DATA_SAVED
        stop_pid "$PORT_PID" 15 || true
    else
        fail "vigil serve --threads $port_threads starts for the UDP port check"
    fi
done


# --- a client resetting a connection vigil is writing to (SIGPIPE ended serve, exit 141)

PIPE_DIR=$TRUST/sigpipe
if VIGIL_HTTP=1 start_vigil "$PIPE_DIR/data" "$PIPE_DIR/stderr"; then
    PIPE_PID=$VIGIL_PID
    EXTRA_PIDS+=("$PIPE_PID")
    timeout 30 python3 "$ROOT/scripts/e2e/reset_while_writing.py" "$VIGIL_HTTP_PORT" >"$PIPE_DIR/attack.out" 2>&1 || true
    answered=0
    for _ in 1 2; do
        curl -sf -H "Authorization: Bearer $VIGIL_API_TOKEN_VALUE" "http://127.0.0.1:$VIGIL_HTTP_PORT/stats" >/dev/null \
            && answered=$((answered + 1))
    done
    if grep -q '^reset sent$' "$PIPE_DIR/attack.out" && [ "$answered" = 2 ] && kill -0 "$PIPE_PID" 2>/dev/null; then
        pass "a client resetting a connection mid-response ends nothing: serve still answers the API"
    else
        status=running
        kill -0 "$PIPE_PID" 2>/dev/null || { wait "$PIPE_PID"; status="exited $?"; }
        fail "a client resetting a connection mid-response ends nothing" "$(cat "$PIPE_DIR/attack.out")" \
            "vigil: $status, answered $answered of 2"
    fi
    stop_pid "$PIPE_PID" 15 || true
else
    fail "vigil serve starts for the reset check"
fi


# --- a link swapped in for a followed log (vigil forward shipped a root-only file through it)

SWAP=$(mktemp -d /tmp/vigil-e2e-swap.XXXXXX)
chmod 755 "$SWAP"
mkdir -p "$SWAP/logs"
chown 65534:65534 "$SWAP/logs"
printf 'SECRET-%s\n' "$RUN" >"$SWAP/secret"
chmod 600 "$SWAP/secret"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_nobody sh -c ": >'$SWAP/logs/app.log'"
_swap_stored() { grep -rqF -- "$1" "$SWAP/data/hosts" 2>/dev/null; }
_swap_said() { grep -qF -- "$1" "$SWAP/forward.stderr"; }
if start_vigil "$SWAP/data" "$SWAP/serve.stderr"; then
    SWAP_SERVE=$VIGIL_PID
    EXTRA_PIDS+=("$SWAP_SERVE")
    "$VIGIL" forward "$SWAP/logs/app.log" --to "tcp://127.0.0.1:$VIGIL_TCP_PORT" --state "$SWAP/state" --host e2e-swap \
        --from-start 2>"$SWAP/forward.stderr" &
    SWAP_FWD=$!
    EXTRA_PIDS+=("$SWAP_FWD")
    wait_for 10 _swap_said "following $SWAP/logs/app.log" || true
    as_nobody sh -c "echo 'before-$RUN' >>'$SWAP/logs/app.log'"
    wait_for 15 _swap_stored "before-$RUN" || true
    as_nobody sh -c "rm '$SWAP/logs/app.log' && ln -s '$SWAP/secret' '$SWAP/logs/app.log'"
    wait_for 15 _swap_said "which is not followed" || true
    as_nobody sh -c "rm '$SWAP/logs/app.log' && echo 'after-$RUN' >'$SWAP/logs/app.log'"
    wait_for 15 _swap_stored "after-$RUN" || true
    if _swap_stored "before-$RUN" && _swap_stored "after-$RUN" && _swap_said "which is not followed" \
        && ! _swap_stored "SECRET-$RUN"; then
        pass "forward refuses a symbolic link swapped in for its log (nothing of the root-only file shipped), then follows the next log"
    else
        fail "forward refuses a symbolic link swapped in for its log" "$(tail -n 4 "$SWAP/forward.stderr")" \
            "$(grep -rh -- "-$RUN" "$SWAP/data/hosts" 2>/dev/null | tail -n 3)"
    fi
    stop_pid "$SWAP_FWD" 10 || true
    stop_pid "$SWAP_SERVE" 15 || true
else
    fail "vigil serve starts for the symbolic link check"
fi
rm -rf "$SWAP"


# --- idle connections filling the API do not lock the operator out (every newcomer got 503)

LOCK=$TRUST/api-lockout
if VIGIL_HTTP=1 start_vigil "$LOCK/data" "$LOCK/stderr"; then
    LOCK_PID=$VIGIL_PID
    EXTRA_PIDS+=("$LOCK_PID")
    mkfifo "$LOCK/hold"
    timeout 60 python3 "$ROOT/scripts/e2e/hold_idle_connections.py" "$VIGIL_HTTP_PORT" 4 256 <"$LOCK/hold" >"$LOCK/holder.out" 2>&1 &
    LOCK_HOLDER=$!
    exec {lock_fd}>"$LOCK/hold"
    _lock_ready() { grep -q '^ready ' "$LOCK/holder.out"; }
    wait_for 30 _lock_ready || true
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VIGIL_API_TOKEN_VALUE" \
        "http://127.0.0.1:$VIGIL_HTTP_PORT/stats" || true)
    evicted=$(curl -s -H "Authorization: Bearer $VIGIL_API_TOKEN_VALUE" "http://127.0.0.1:$VIGIL_HTTP_PORT/metrics" \
        | sed -n 's/^vigil_api_connections_evicted_total \([0-9]*\)$/\1/p')
    exec {lock_fd}>&-
    wait "$LOCK_HOLDER" 2>/dev/null || true
    if [ "$code" = 200 ] && [ "${evicted:-0}" -ge 1 ]; then
        pass "1,024 idle API connections, 256 of them from 127.0.0.1, do not lock the operator out ($(cat "$LOCK/holder.out"); /stats 200; evicted $evicted)"
    else
        fail "1,024 idle API connections do not lock the operator out" "holder: $(cat "$LOCK/holder.out")" "/stats: $code, evicted: ${evicted:-?}"
    fi
    stop_pid "$LOCK_PID" 15 || true
else
    fail "vigil serve starts for the API lockout check"
fi
