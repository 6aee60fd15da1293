# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, alert_count, WORK, VIGIL, RUN, EXTRA_PIDS):
# past one central, rsyslog shards the relay events over two central vigils (docs/scaling.md).
#   - conf/rsyslog-shard.conf, edited where its comments tell an operator to (the input's port,
#     each central's target and port), is accepted by `rsyslogd -N1` inside this machine's
#     /etc/rsyslog.conf and inside a private config;
#   - one edge vigil relays through a private rsyslogd running that file to two central vigils;
#     eight attacker addresses (IPv4 and IPv6) fail ssh on three hosts each, among several hundred other events:
#     each address raises exactly one ssh_distributed alert, on the central that owns it by
#     rsyslog's hash64mod (computed here independently, rsyslog_hash64mod in scripts/lib.sh),
#     and none on the other; the edge raises none;
#   - every event the edge forwarded is taken by exactly one central, none refused (stats lines
#     and /metrics vigil_relay_rejected_total): each central's replay guard takes its partition,
#     a subsequence of the edge's sequence numbers, gaps and all;
#   - every stored event sits on the central its key hashes to: its ip, or for an event without
#     one (a session without an address), its host;
#   - central 1 stopped: central 0 still takes its share of new events at once; central 1 back on
#     its port: rsyslog delivers the partition it queued, each event taken once (copies rsyslog
#     sends again after the broken connection are refused as replayed, and only those).
# Every server listens on loopback only; every wait is bounded.

SHARD=$WORK/shard
mkdir -p "$SHARD"
ensure_command rsyslogd rsyslog
ensure_command python3 python3
ensure_command curl curl
SHARD_KEY=$SHARD/relay.key
make_relay_key "$SHARD_KEY"
SHARD_HOSTS=("shard-h1-$RUN" "shard-h2-$RUN" "shard-h3-$RUN")
SHARD_WEB=shard-w1-$RUN
SHARD_PIDS=()

# _shard_metric_rejected PORT TOKEN: the sum of vigil_relay_rejected_total over every reason on
# the /metrics of the vigil whose API listens on PORT; empty if it cannot be read.
_shard_metric_rejected() {
    curl -sf --max-time 5 -H "Authorization: Bearer $2" "http://127.0.0.1:$1/metrics" \
        | awk '/^vigil_relay_rejected_total[{ ]/ { n += $NF; seen = 1 } END { if (seen) print n }'
}

# _shard_received_total WANT: true once both centrals' relay lines add up to WANT received.
_shard_received_total() {
    [ $(($(relay_listener_value "$SHARD/central0.stderr" received) + $(relay_listener_value "$SHARD/central1.stderr" received))) -ge "$1" ]
}

# _shard_received_in FILE WANT: true once the last relay line in FILE says WANT received.
_shard_received_in() { [ "$(relay_listener_value "$1" received)" -ge "$2" ]; }

# _shard_forwarded WANT: true once the edge's relay line says WANT forwarded.
_shard_forwarded() { [ "$(relay_sender_value "$SHARD/edge.stderr" forwarded)" -ge "$1" ]; }

# --- two centrals, each with a relay listener and the API (for /metrics)

SHARD_OK=1
SHARD_RELAY=()
SHARD_API=()
SHARD_TOKEN=()
for i in 0 1; do
    # A fixed port: central 1 comes back on it after the outage below.
    if VIGIL_HTTP=1 start_vigil "$SHARD/central$i" "$SHARD/central$i.stderr" --stats-interval 1s --sink stdout \
        --relay-listen "127.0.0.1:$(free_port)" --relay-allow 127.0.0.0/8 --relay-key "$SHARD_KEY"; then
        EXTRA_PIDS+=("$VIGIL_PID")
        SHARD_PIDS+=("$VIGIL_PID")
        SHARD_RELAY+=("$VIGIL_RELAY_PORT")
        SHARD_API+=("$VIGIL_HTTP_PORT")
        SHARD_TOKEN+=("$VIGIL_API_TOKEN_VALUE")
    else
        fail "central vigil $i starts with a relay listener"
        SHARD_OK=0
    fi
done
[ "$SHARD_OK" = 1 ] && pass "two central vigils start with relay listeners (relay ports ${SHARD_RELAY[*]})"

# --- the shipped relay config, edited as an operator would, under rsyslogd -N1

SR=$SHARD/rsyslog
mkdir -p "$SR/spool"
SR_PORT=$(free_port)
if [ "$SHARD_OK" = 1 ]; then
    if ship_edit "$ROOT/conf/rsyslog-shard.conf" "$SR/50-vigil-shard.conf" \
        'input(type="imtcp" port="6514"' "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$SR_PORT\"" \
        'target="central-0.example.net" port="6514"' "target=\"127.0.0.1\" port=\"${SHARD_RELAY[0]}\"" \
        'target="central-1.example.net" port="6514"' "target=\"127.0.0.1\" port=\"${SHARD_RELAY[1]}\""; then
        pass "conf/rsyslog-shard.conf: the input port and the centrals' targets are the lines an operator edits"
    else
        fail "conf/rsyslog-shard.conf: the input port and the centrals' targets are the lines an operator edits" "$SHIP_WHY"
        SHARD_OK=0
    fi
fi
if [ "$SHARD_OK" = 1 ] && system_rsyslog_conf "$SR/50-vigil-shard.conf" "$SR/system.conf"; then
    if out=$(rsyslogd -N1 -f "$SR/system.conf" 2>&1); then
        pass "conf/rsyslog-shard.conf: rsyslogd -N1 accepts it inside /etc/rsyslog.conf"
    else
        fail "conf/rsyslog-shard.conf: rsyslogd -N1 accepts it inside /etc/rsyslog.conf" "$out"
    fi
fi
if [ "$SHARD_OK" = 1 ]; then
    # The private rsyslogd: the shipped file and a spool of its own, no system socket.
    cat >"$SR/rsyslog.conf" <<EOF
# Private rsyslogd for scripts/e2e/shard.sh: the shipped relay config, spooling under \$WORK.
global(workDirectory="$SR/spool")
include(file="$SR/50-vigil-shard.conf")
EOF
    if out=$(rsyslogd -N1 -f "$SR/rsyslog.conf" 2>&1); then
        pass "conf/rsyslog-shard.conf: rsyslogd -N1 accepts it inside a private config"
    else
        fail "conf/rsyslog-shard.conf: rsyslogd -N1 accepts it inside a private config" "$out"
        SHARD_OK=0
    fi
fi
SR_PID=
if [ "$SHARD_OK" = 1 ]; then
    if start_rsyslogd "$SR/rsyslog.conf" "$SR" "$SR_PORT"; then
        SR_PID=$RSYSLOG_PID
        RSYSLOG_PID=
        EXTRA_PIDS+=("$SR_PID")
    else
        fail "a private rsyslogd runs conf/rsyslog-shard.conf" "$(cat "$SR/rsyslogd.out" 2>/dev/null)"
        RSYSLOG_PID=
        SHARD_OK=0
    fi
fi

# --- one edge vigil relaying through it

SHARD_EDGE_PID=
if [ "$SHARD_OK" = 1 ]; then
    if start_vigil "$SHARD/edge" "$SHARD/edge.stderr" --stats-interval 1s \
        --relay "syslog+tcp://127.0.0.1:$SR_PORT" --relay-key "$SHARD_KEY" --relay.edge_name shard-edge; then
        SHARD_EDGE_PID=$VIGIL_PID
        SHARD_EDGE_TCP=$VIGIL_TCP_PORT
        EXTRA_PIDS+=("$SHARD_EDGE_PID")
        pass "an edge vigil starts relaying to the rsyslog relay (port $SR_PORT)"
    else
        fail "an edge vigil starts relaying to the rsyslog relay"
        SHARD_OK=0
    fi
fi

if [ "$SHARD_OK" = 1 ]; then
    # Attackers: each fails once on each of the three hosts. Their owners, as rsyslog will pick them.
    SHARD_ATTACKERS=(203.0.113.11 203.0.113.12 203.0.113.22 203.0.113.23 203.0.113.33 203.0.113.34 2001:db8::7 2001:db8::6)
    declare -A SHARD_OWNER=()
    while read -r key part; do SHARD_OWNER[$key]=$part; done < <(printf '%s\n' "${SHARD_ATTACKERS[@]}" | rsyslog_hash64mod 2)

    # The load, in one connection: 3 × 150 failures from addresses that fail on one host only,
    # 100 requests from 100 clients, a session without an address on each host (open and close:
    # keyed by host), and the attackers' failures interleaved with them. One event per line.
    now=$(date -u +%FT%TZ)
    clf=$(date -u '+%d/%b/%Y:%H:%M:%S +0000')
    SHARD_LOAD=$SHARD/load.txt
    {
        for h in 1 2 3; do
            host=${SHARD_HOSTS[$((h - 1))]}
            for x in $(seq 1 150); do
                printf '<38>1 %s %s sshd %s - - Failed password for root from 198.18.%s.%s port %s ssh2\n' \
                    "$now" "$host" $((1000 + x)) "$h" "$x" $((40000 + x))
                if [ "$x" = 75 ]; then
                    for ip in "${SHARD_ATTACKERS[@]}"; do
                        printf '<38>1 %s %s sshd 2%s - - Failed password for admin from %s port 4001 ssh2\n' "$now" "$host" "$h" "$ip"
                    done
                fi
            done
            printf '<86>1 %s %s sshd 77%s - - pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)\n' "$now" "$host" "$h"
            printf '<86>1 %s %s sshd 77%s - - pam_unix(sshd:session): session closed for user root\n' "$now" "$host" "$h"
        done
        for x in $(seq 1 100); do
            printf '<190>1 %s %s nginx - - - 198.19.0.%s - - [%s] "GET /p%s HTTP/1.1" 200 5 "-" "curl"\n' "$now" "$SHARD_WEB" "$x" "$clf" "$x"
        done
    } >"$SHARD_LOAD"
    SHARD_EVENTS=$((3 * 150 + 3 * 8 + 3 * 2 + 100))
    send_tcp_file 127.0.0.1 "$SHARD_EDGE_TCP" "$SHARD_LOAD"

    if wait_for 20 _shard_received_total "$SHARD_EVENTS"; then
        pass "the centrals took all $SHARD_EVENTS events the edge relayed through rsyslog"
    else
        fail "the centrals took all $SHARD_EVENTS events the edge relayed through rsyslog" \
            "edge: $(grep '^vigil: relay syslog+' "$SHARD/edge.stderr" | tail -n1)" \
            "central 0: $(grep '^vigil: relay listener' "$SHARD/central0.stderr" | tail -n1)" \
            "central 1: $(grep '^vigil: relay listener' "$SHARD/central1.stderr" | tail -n1)"
    fi
    wait_for 5 _shard_forwarded "$SHARD_EVENTS"
    r0=$(relay_listener_value "$SHARD/central0.stderr" received)
    r1=$(relay_listener_value "$SHARD/central1.stderr" received)
    fwd=$(relay_sender_value "$SHARD/edge.stderr" forwarded)
    if [ "$fwd" = "$SHARD_EVENTS" ] && [ $((r0 + r1)) = "$fwd" ] && [ "$r0" -gt 0 ] && [ "$r1" -gt 0 ]; then
        pass "each of the $fwd forwarded events reached exactly one central ($r0 + $r1)"
    else
        fail "each of the forwarded events reached exactly one central" "edge forwarded=$fwd, central 0 received=$r0, central 1 received=$r1, sent $SHARD_EVENTS"
    fi
    rej0=$(relay_listener_value "$SHARD/central0.stderr" rejected)
    rej1=$(relay_listener_value "$SHARD/central1.stderr" rejected)
    m0=$(_shard_metric_rejected "${SHARD_API[0]}" "${SHARD_TOKEN[0]}")
    m1=$(_shard_metric_rejected "${SHARD_API[1]}" "${SHARD_TOKEN[1]}")
    if [ "$rej0" = 0 ] && [ "$rej1" = 0 ] && [ "$m0" = 0 ] && [ "$m1" = 0 ]; then
        pass "each central's replay guard takes its subsequence of the edge's numbers: nothing rejected (stats lines and /metrics)"
    else
        fail "each central's replay guard takes its subsequence of the edge's numbers: nothing rejected" \
            "stats: rejected=$rej0 / $rej1; /metrics vigil_relay_rejected_total: '${m0}' / '${m1}'" \
            "central 0: $(grep '^vigil: relay' "$SHARD/central0.stderr" | tail -n2 | tr '\n' ' ')" \
            "central 1: $(grep '^vigil: relay' "$SHARD/central1.stderr" | tail -n2 | tr '\n' ' ')"
    fi

    # ssh_distributed: once per attacker, on its owner, never on the other central.
    hosts_json="\"hosts\":[\"${SHARD_HOSTS[0]}\",\"${SHARD_HOSTS[1]}\",\"${SHARD_HOSTS[2]}\"]"
    _shard_all_fired() {
        local ip
        for ip in "${SHARD_ATTACKERS[@]}"; do
            [ "$(alert_count "$SHARD/central${SHARD_OWNER[$ip]}/alerts.jsonl" '"rule":"ssh_distributed","state":"firing"' "\"ip\":\"$ip\"")" -ge 1 ] || return 1
        done
    }
    wait_for 15 _shard_all_fired
    wrong=()
    for ip in "${SHARD_ATTACKERS[@]}"; do
        own=${SHARD_OWNER[$ip]}
        other=$((1 - own))
        on_own=$(alert_count "$SHARD/central$own/alerts.jsonl" '"rule":"ssh_distributed"' "\"ip\":\"$ip\"" "$hosts_json")
        on_other=$(alert_count "$SHARD/central$other/alerts.jsonl" '"rule":"ssh_distributed"' "\"ip\":\"$ip\"")
        [ "$on_own" = 1 ] && [ "$on_other" = 0 ] || wrong+=("$ip: owner central $own has $on_own, central $other has $on_other")
    done
    # Both centrals must raise some, or the alerts would not show the partitioning at all.
    a0=$(alert_count "$SHARD/central0/alerts.jsonl" '"rule":"ssh_distributed"')
    a1=$(alert_count "$SHARD/central1/alerts.jsonl" '"rule":"ssh_distributed"')
    if [ "${#wrong[@]}" = 0 ] && [ $((a0 + a1)) = 8 ] && [ "$a0" -ge 1 ] && [ "$a1" -ge 1 ]; then
        pass "8 attackers on three hosts: exactly one ssh_distributed alert each, from the central that owns the address ($a0 on central 0, $a1 on central 1)"
    else
        fail "8 attackers on three hosts: exactly one ssh_distributed alert each, from the central that owns the address, on both centrals" \
            "${wrong[@]}" "ssh_distributed alerts: $a0 on central 0, $a1 on central 1"
    fi
    if [ "$(alert_count "$SHARD/edge/alerts.jsonl" 'ssh_distributed')" = 0 ]; then
        pass "the edge raises no ssh_distributed (its view is one part of the whole)"
    else
        fail "the edge raises no ssh_distributed" "$(grep ssh_distributed "$SHARD/edge/alerts.jsonl" | head -n2)"
    fi

    # Every stored event on the central its key hashes to: the ip, or the host when it has none.
    placed=$(for i in 0 1; do
        cat "$SHARD/central$i"/hosts/*/*.log 2>/dev/null | grep -F 'event@32473' | sed -n \
            -e "s/.* ip=\"\\([^\"]*\\)\".*/$i ip \\1/p" -e "t" -e "s/.* host=\"\\([^\"]*\\)\".*/$i host \\1/p"
    done)
    keys=$(awk '{ print $3 }' <<<"$placed" | sort -u | rsyslog_hash64mod 2)
    misplaced=$(awk 'NR == FNR { part[$1] = $2; next } part[$3] != $1 { print }' <(printf '%s\n' "$keys") <(printf '%s\n' "$placed"))
    stored=$(grep -c '' <<<"$placed")
    by_host=$(grep -c ' host ' <<<"$placed")
    if [ "$stored" = "$SHARD_EVENTS" ] && [ "$by_host" = 6 ] && [ -z "$misplaced" ]; then
        pass "all $stored stored events sit on the central their key hashes to (ip; host for the $by_host without one)"
    else
        fail "all stored events sit on the central their key hashes to" "stored $stored of $SHARD_EVENTS, $by_host keyed by host (want 6)" \
            "misplaced: $(head -n3 <<<"$misplaced" | tr '\n' ' ')"
    fi
fi

# --- central 1 down: its partition waits in rsyslog's queue, central 0's keeps flowing

SR_BEFORE_OUTAGE=
if [ "$SHARD_OK" = 1 ]; then
    # What rsyslogd says from here on about central 1 (closed, refused) is the outage's doing.
    SR_BEFORE_OUTAGE=$(grep -c '' "$SR/rsyslogd.out")
    stop_pid "${SHARD_PIDS[1]}" 15 || true
    # 200 failures from 200 new addresses on one host, half or so owned by each central.
    now=$(date -u +%FT%TZ)
    for x in $(seq 1 200); do
        printf '<38>1 %s %s sshd %s - - Failed password for root from 198.20.%s.%s port 4100 ssh2\n' \
            "$now" "${SHARD_HOSTS[0]}" $((3000 + x)) $((x / 100)) $((x % 100))
    done >"$SHARD/load2.txt"
    own1=$(sed -n 's/.* from \([0-9.]*\) port.*/\1/p' "$SHARD/load2.txt" | rsyslog_hash64mod 2 | awk '$2 == 1' | grep -c '')
    own0=$((200 - own1))
    send_tcp_file 127.0.0.1 "$SHARD_EDGE_TCP" "$SHARD/load2.txt"
    if wait_for 15 _shard_received_in "$SHARD/central0.stderr" $((r0 + own0)); then
        pass "central 1 down: central 0 still takes its $own0 of 200 new events at once"
    else
        fail "central 1 down: central 0 still takes its $own0 of 200 new events at once" \
            "central 0: $(grep '^vigil: relay listener' "$SHARD/central0.stderr" | tail -n1) (had $r0)"
    fi
    # Back on its port, with its data directory (its replay guard's positions): the backlog arrives.
    # rsyslog retries every action.resumeInterval (10 s); the first event it wrote into the
    # closed connection is lost (plain TCP; docs/forwarding.md), so own1 - 1 at least.
    if start_vigil "$SHARD/central1" "$SHARD/central1-back.stderr" --stats-interval 1s --sink stdout \
        --relay-listen "127.0.0.1:${SHARD_RELAY[1]}" --relay-allow 127.0.0.0/8 --relay-key "$SHARD_KEY"; then
        SHARD_PIDS[1]=$VIGIL_PID
        EXTRA_PIDS+=("$VIGIL_PID")
        back=$SHARD/central1-back.stderr
        wait_for 40 _shard_received_in "$back" "$own1"
        # All three counts from one stats line (a new one is written every second).
        last=$(grep '^vigil: relay listener ' "$back" | tail -n1)
        got=$(grep -o ' received=[0-9]*' <<<"$last" | cut -d= -f2)
        rej=$(grep -o ' rejected=[0-9]*' <<<"$last" | cut -d= -f2)
        # rsyslog may send part of a batch again after the broken connection (docs/scaling.md,
        # "A message sent twice"): those copies are refused as replayed, nothing else is.
        replayed=$(grep -o 'replayed=[0-9]*' <<<"$last" | cut -d= -f2)
        got=${got:-0}
        if [ "$got" -ge $((own1 - 1)) ] && [ "$got" -le "$own1" ] && [ "$rej" = "${replayed:-0}" ]; then
            pass "central 1 back: rsyslog delivers its queued partition ($got of $own1), each once (copies refused as replayed: $rej)"
        else
            fail "central 1 back: rsyslog delivers its queued partition" "received=$got of $own1, rejected=$rej" \
                "$(grep '^vigil: relay' "$back" | tail -n2 | tr '\n' ' ')"
        fi
    else
        fail "central 1 starts again on its relay port ${SHARD_RELAY[1]}"
    fi
fi

# --- stop everything; rsyslogd must have had nothing to complain about

[ -n "$SHARD_EDGE_PID" ] && { stop_pid "$SHARD_EDGE_PID" 15 || true; }
if [ -n "$SR_PID" ]; then
    stop_pid "$SR_PID" 10 || true
    before=${SR_BEFORE_OUTAGE:-$(grep -c '' "$SR/rsyslogd.out")}
    complaints=$({
        head -n "$before" "$SR/rsyslogd.out"
        tail -n +"$((before + 1))" "$SR/rsyslogd.out" | grep -vF -e "127.0.0.1:${SHARD_RELAY[1]:-none}" -e vigil_central_1
    } | grep -iE 'error|warning|fail')
    if [ -n "$complaints" ]; then
        fail "conf/rsyslog-shard.conf: rsyslogd ran it without an error or warning (but central 1's outage)" "$(head -n3 <<<"$complaints")"
    else
        pass "conf/rsyslog-shard.conf: rsyslogd ran it without an error or warning (but central 1's outage)"
    fi
fi
for pid in "${SHARD_PIDS[@]}"; do stop_pid "$pid" 15 || true; done
