# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, expect, WORK, VIGIL, LOADGEN, RUN, EXTRA_PIDS):
# nothing lost, nothing knocked over. Against the release binary:
#   - a full disk (a 5 MB tmpfs this script mounts): 150,000 messages over TCP, none lost once
#     the tmpfs is given room, every stored line whole;
#   - rsyslog's RFC 5424 template over UDP (a trailing LF per datagram): stored without it, and
#     `vigil analyze` counts every failed password in what was stored;
#   - 5,000 connections each holding 60 KB of an unfinished frame: memory bounded, given back;
#   - SIGHUP: a reload (rules, sinks), a refused bad configuration, logrotate's rename;
#   - configuration: check-config and serve refuse the same values; 64,000 errors come back fast
#     and capped; 7-day HTTP windows on 5,000 hosts stay small;
#   - `vigil follow` on a file its user cannot read: one line, no spinning; on a directory or a
#     missing directory: one clear error and exit status 2.
# Every server listens on loopback only; every wait and load is bounded.

DUR=$WORK/durability
mkdir -p "$DUR"

# --- a full disk: a 5 MB tmpfs, 150,000 messages over TCP, then room

TMPFS=$DUR/tmpfs
mkdir -p "$TMPFS"
if mount -t tmpfs -o size=5m vigil-e2e "$TMPFS" 2>"$DUR/mount.err"; then
    MOUNTED_TMPFS=$TMPFS
    FULL_COUNT=150000
    if start_vigil "$TMPFS/data" "$DUR/full.stderr" --stats-interval 1s; then
        FULL_PID=$VIGIL_PID
        EXTRA_PIDS+=("$FULL_PID")
        timeout 120 "$LOADGEN" load --tcp "127.0.0.1:$VIGIL_TCP_PORT" --connections 2 --count "$FULL_COUNT" --size 100 \
            >"$DUR/load.out" 2>&1 &
        LOAD_PID=$!
        if wait_for 60 grep -q '^vigil: store: cannot write' "$DUR/full.stderr"; then
            pass "the disk fills: vigil says so once and stops reading TCP ($(grep -c '^vigil: store: cannot write' "$DUR/full.stderr") line)"
        else
            fail "the disk fills: vigil says so once and stops reading TCP" "$(tail -n 3 "$DUR/full.stderr")"
        fi
        if kill -0 "$LOAD_PID" 2>/dev/null; then
            pass "the sender is pushed back while the disk is full (its writes wait)"
        else
            fail "the sender is pushed back while the disk is full (its writes wait)" "$(cat "$DUR/load.out")"
        fi
        mount -o remount,size=64m "$TMPFS"
        wait "$LOAD_PID"
        load_rc=$?
        if wait_for 60 grep -q '^vigil: store: writing again' "$DUR/full.stderr" && [ "$load_rc" = 0 ]; then
            pass "room again: vigil writes and reads again ($(grep '^vigil: store: writing again' "$DUR/full.stderr" | head -n1 | cut -c1-80))"
        else
            fail "room again: vigil writes and reads again" "load exit $load_rc: $(cat "$DUR/load.out")" "$(tail -n 3 "$DUR/full.stderr")"
        fi
        stop_pid "$FULL_PID" 15 || true
        stored=$(cat "$TMPFS"/data/hosts/bench-host-*/*.log 2>/dev/null | wc -l)
        broken=$(cat "$TMPFS"/data/hosts/bench-host-*/*.log 2>/dev/null | awk 'length($0) != 100' | wc -l)
        if [ "$stored" = "$FULL_COUNT" ] && [ "$broken" = 0 ]; then
            pass "a full disk loses nothing over TCP: all $FULL_COUNT messages stored, every line whole"
        else
            fail "a full disk loses nothing over TCP: all $FULL_COUNT messages stored, every line whole" \
                "stored $stored, lines not 100 bytes long: $broken" "$(grep '^vigil: stats' "$DUR/full.stderr" | tail -n1)"
        fi
    else
        fail "vigil serve starts on a 5 MB tmpfs"
    fi
    umount "$TMPFS" && MOUNTED_TMPFS=
else
    fail "a 5 MB tmpfs can be mounted for the full-disk test (run as root)" "$(cat "$DUR/mount.err")"
fi

# --- 5,000 connections each holding 60 KB of an unfinished frame: bounded, and given back

if start_vigil "$DUR/partial-data" "$DUR/partial.stderr" --stats-interval 1s; then
    PARTIAL_PID=$VIGIL_PID
    EXTRA_PIDS+=("$PARTIAL_PID")
    base=$(rss_kib "$PARTIAL_PID")
    mkfifo "$DUR/partial.in"
    timeout 120 python3 "$ROOT/scripts/e2e/partial_frames.py" "$VIGIL_TCP_PORT" 5000 60000 <"$DUR/partial.in" >"$DUR/partial.out" 2>&1 &
    PARTIAL_LOAD=$!
    exec 7>"$DUR/partial.in"
    if wait_for 60 grep -q '^ready' "$DUR/partial.out" && wait_for 10 _stat_at_least "$DUR/partial.stderr" frames_cut 1; then
        held=$(rss_kib "$PARTIAL_PID")
        if [ $((held - base)) -lt $((100 * 1024)) ]; then
            pass "5,000 connections holding 60 KB partial frames: memory bounded (+$(((held - base) / 1024)) MiB, $(stat_value "$DUR/partial.stderr" frames_cut) frames cut)"
        else
            fail "5,000 connections holding 60 KB partial frames: memory bounded" "+$(((held - base) / 1024)) MiB"
        fi
        echo done >&7
        wait_for 30 grep -q '^closed' "$DUR/partial.out"
        _rss_back() { [ $(($(rss_kib "$PARTIAL_PID") - base)) -lt $((48 * 1024)) ]; }
        if wait_for 15 _rss_back; then
            pass "once they close, the memory is given back (+$((($(rss_kib "$PARTIAL_PID") - base) / 1024)) MiB over the start, was +$(((held - base) / 1024)))"
        else
            fail "once they close, the memory is given back" "+$((($(rss_kib "$PARTIAL_PID") - base) / 1024)) MiB over the start"
        fi
    else
        fail "5,000 connections send their partial frames" "$(cat "$DUR/partial.out")" "$(grep '^vigil: stats' "$DUR/partial.stderr" | tail -n1)"
        echo done >&7
    fi
    exec 7>&-
    wait "$PARTIAL_LOAD" 2>/dev/null
    stop_pid "$PARTIAL_PID" 15 || true
else
    fail "vigil serve starts for the partial-frame test"
fi

# --- rsyslog's RFC 5424 template over UDP ends each datagram with LF: not content

if start_vigil "$DUR/udp-data" "$DUR/udp.stderr" --stats-interval 1s; then
    UDP_PID=$VIGIL_PID
    EXTRA_PIDS+=("$UDP_PID")
    RU=$DUR/rsyslog-udp
    mkdir -p "$RU/spool"
    cat >"$RU/rsyslog.conf" <<EOF
# Private rsyslogd: its own log socket in, RFC 5424 over UDP (a LF after every datagram) to vigil out.
global(workDirectory="$RU/spool")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$RU/log.sock" HostName="e2e-udp-5424" Ruleset="toVigil")
ruleset(name="toVigil") {
    action(type="omfwd" target="127.0.0.1" port="$VIGIL_UDP_PORT" protocol="udp" template="RSYSLOG_SyslogProtocol23Format")
}
EOF
    if start_rsyslogd "$RU/rsyslog.conf" "$RU" && wait_for 10 test -S "$RU/log.sock"; then
        RU_PID=$RSYSLOG_PID
        RSYSLOG_PID=
        EXTRA_PIDS+=("$RU_PID")
        for i in 1 2 3 4 5 6; do
            logger -u "$RU/log.sock" -t sshd -i "Failed password for root from 198.51.100.$i port 4000$i ssh2"
        done
        DATA_SAVED=$DATA
        DATA=$DUR/udp-data
        expect "rsyslog RFC 5424 over UDP: 6 failed passwords stored" e2e-udp-5424 "Failed password for root" 6
        DATA=$DATA_SAVED
        stop_pid "$RU_PID" 10 || true
        stop_pid "$UDP_PID" 15 || true
        if grep -q '#012' "$DUR"/udp-data/hosts/e2e-udp-5424/*.log; then
            fail "the datagram's trailing LF is not stored as #012" "$(head -n2 "$DUR"/udp-data/hosts/e2e-udp-5424/*.log)"
        else
            pass "the datagram's trailing LF is not stored as #012"
        fi
        if "$VIGIL" analyze --json "$DUR"/udp-data/hosts/e2e-udp-5424/*.log >"$DUR/analyze.json" \
            && grep -q '"failures":6' "$DUR/analyze.json"; then
            pass "vigil analyze counts all 6 failures in what was stored over UDP"
        else
            fail "vigil analyze counts all 6 failures in what was stored over UDP" "$(head -c 300 "$DUR/analyze.json")"
        fi
    else
        fail "a private rsyslogd forwards RFC 5424 over UDP" "$(cat "$RU/rsyslogd.out" 2>/dev/null)"
        stop_pid "$UDP_PID" 15 || true
    fi
else
    fail "vigil serve starts for the UDP test"
fi

# --- SIGHUP: a reload, a refused reload, and logrotate's rename; nothing lost, still running

HUP=$DUR/hup
mkdir -p "$HUP"
# _hup_reopened_twice: true once the store said twice that it reopened its files (two SIGHUPs).
_hup_reopened_twice() { [ "$(grep -c 'store files reopened' "$HUP/stderr")" -ge 2 ]; }
printf '[server]\nflush_interval = "5s"\n[rule.ssh_bruteforce]\nthreshold = 5\n' >"$HUP/vigil.conf"
if start_vigil "$HUP/data" "$HUP/stderr" --config "$HUP/vigil.conf"; then
    HUP_PID=$VIGIL_PID
    EXTRA_PIDS+=("$HUP_PID")
    day=$(date -u +%F)
    printf '<13>1 - e2e-hup app - - - before the reload %s\n' "$RUN" | timeout 10 nc -N -w 3 127.0.0.1 "$VIGIL_TCP_PORT"
    printf '[server]\nflush_interval = "5s"\n[rule.ssh_bruteforce]\nthreshold = 3\n[sink.extra]\nurl = "file:%s"\n' \
        "$HUP/extra.jsonl" >"$HUP/vigil.conf"
    kill -HUP "$HUP_PID"
    if wait_for 10 grep -q '^vigil: reloaded the configuration; rules started afresh: ssh_bruteforce; sinks added: extra' "$HUP/stderr" \
        && kill -0 "$HUP_PID" 2>/dev/null; then
        pass "SIGHUP reloads the configuration and vigil keeps running"
    else
        fail "SIGHUP reloads the configuration and vigil keeps running" "$(tail -n 3 "$HUP/stderr")"
    fi
    printf '[rule.ssh_bruteforce]\nthreshold = 0\n' >"$HUP/vigil.conf"
    kill -HUP "$HUP_PID"
    if wait_for 10 grep -q "^vigil: reload refused: $HUP/vigil.conf:2: .threshold.: 0 is out of range" "$HUP/stderr" \
        && kill -0 "$HUP_PID" 2>/dev/null; then
        pass "a configuration that fails validation is refused in one line; the running one stays"
    else
        fail "a configuration that fails validation is refused in one line; the running one stays" "$(tail -n 3 "$HUP/stderr")"
    fi
    # The refused file changed nothing: the threshold is still 3 and the added sink still there.
    now=$(date -u +%FT%TZ)
    for i in 1 2 3; do
        printf '<38>1 %s e2e-hup sshd %s - - Failed password for root from 198.51.100.99 port 4%s ssh2\n' "$now" "$i" "$i"
    done | timeout 10 nc -N -w 3 127.0.0.1 "$VIGIL_TCP_PORT"
    if wait_for 10 grep -q '"rule":"ssh_bruteforce","state":"firing".*"ip":"198.51.100.99"' "$HUP/extra.jsonl"; then
        pass "after the refused reload the reloaded rules and sinks still apply (threshold 3, alert in the new sink)"
    else
        fail "after the refused reload the reloaded rules and sinks still apply" "$(cat "$HUP/extra.jsonl" 2>/dev/null)"
    fi
    # logrotate: rename the day file, then SIGHUP; what comes next goes to a new file at the path.
    wait_for 10 grep -q "before the reload $RUN" "$HUP/data/hosts/e2e-hup/$day.log"
    mv "$HUP/data/hosts/e2e-hup/$day.log" "$HUP/data/hosts/e2e-hup/$day.log.1"
    kill -HUP "$HUP_PID"
    wait_for 20 _hup_reopened_twice
    printf '<13>1 - e2e-hup app - - - after the rotation %s\n' "$RUN" | timeout 10 nc -N -w 3 127.0.0.1 "$VIGIL_TCP_PORT"
    stop_pid "$HUP_PID" 15
    rc=$?
    if [ "$rc" = 0 ] && grep -q "before the reload $RUN" "$HUP/data/hosts/e2e-hup/$day.log.1" \
        && grep -q "after the rotation $RUN" "$HUP/data/hosts/e2e-hup/$day.log"; then
        pass "logrotate's rename then SIGHUP: old lines in the renamed file, new ones in a new file; SIGTERM exits 0"
    else
        fail "logrotate's rename then SIGHUP: old lines in the renamed file, new ones in a new file; SIGTERM exits 0" \
            "exit $rc; $(ls "$HUP/data/hosts/e2e-hup/")"
    fi
else
    fail "vigil serve starts with --config for the SIGHUP test"
fi

# --- configuration: one validation, documented maxima, bounded window memory, fast check-config

printf '[rule.http_high_traffic]\nwindow = "1000000d"\n' >"$DUR/huge-window.conf"
"$VIGIL" check-config "$DUR/huge-window.conf" >/dev/null 2>"$DUR/check.err"
check_rc=$?
timeout 10 "$VIGIL" serve --config "$DUR/huge-window.conf" --udp off --tcp 127.0.0.1:0 --http off \
    --data-dir "$DUR/huge-data" >/dev/null 2>"$DUR/serve.err"
serve_rc=$?
if [ "$check_rc" = 2 ] && [ "$serve_rc" = 2 ] && cmp -s <(sed 's/^vigil: //' "$DUR/serve.err") "$DUR/check.err" \
    && grep -q 'is above the maximum 7d' "$DUR/check.err"; then
    pass "a window of 1000000d is refused the same way by check-config and serve (exit 2, not an abort)"
else
    fail "a window of 1000000d is refused the same way by check-config and serve" \
        "check-config exit $check_rc: $(cat "$DUR/check.err")" "serve exit $serve_rc: $(cat "$DUR/serve.err")"
fi
python3 -c '
print("[server]")
for i in range(64000): print(f"unknown_key_{i} = 1")' >"$DUR/many-errors.conf"
start_us=$(now_us)
timeout 30 "$VIGIL" check-config "$DUR/many-errors.conf" >/dev/null 2>"$DUR/many.err"
many_rc=$?
took_ms=$((($(now_us) - start_us) / 1000))
if [ "$many_rc" = 2 ] && [ "$(grep -c '' "$DUR/many.err")" = 101 ] && grep -q '^\.\.\. and 63900 more' "$DUR/many.err"; then
    pass "check-config on 64,000 unknown keys: 100 errors and a count of the rest, in $took_ms ms"
else
    fail "check-config on 64,000 unknown keys: 100 errors and a count of the rest" "exit $many_rc, $(grep -c '' "$DUR/many.err") lines, $took_ms ms"
fi
if start_vigil "$DUR/week-data" "$DUR/week.stderr" --rule.http_high_traffic.window 7d --rule.http_error_burst.window 7d; then
    WEEK_PID=$VIGIL_PID
    EXTRA_PIDS+=("$WEEK_PID")
    base=$(rss_kib "$WEEK_PID")
    stamp=$(date -u '+%d/%b/%Y:%H:%M:%S +0000')
    for i in $(seq 1 5000); do
        printf '<190>1 - e2e-week-%s nginx - - - 10.0.0.1 - - [%s] "GET / HTTP/1.1" 200 5 "-" "curl"\n' "$i" "$stamp"
    done | timeout 30 nc -N -w 3 127.0.0.1 "$VIGIL_TCP_PORT"
    _week_read() { [ "$(stat_value "$DUR/week.stderr" received)" -ge 5000 ]; }
    if wait_for 30 _week_read; then
        grown=$((($(rss_kib "$WEEK_PID") - base) / 1024))
        # Per-second buckets would take 2 x 604,800 x 8 bytes per host: 48 GB for 5,000 hosts.
        if [ "$grown" -lt 200 ]; then
            pass "7-day HTTP windows on 5,000 hosts: memory grows by $grown MiB (600 buckets per window)"
        else
            fail "7-day HTTP windows on 5,000 hosts: memory bounded" "+$grown MiB"
        fi
    else
        fail "7-day HTTP windows: 5,000 requests are read" "$(grep '^vigil: stats' "$DUR/week.stderr" | tail -n1)"
    fi
    stop_pid "$WEEK_PID" 15 || true
else
    fail "vigil serve starts with 7-day HTTP windows"
fi

# --- follow: a file its user cannot read, a directory, a missing directory

UNPRIV=$(mktemp -d /tmp/vigil-e2e-follow.XXXXXX)
chmod 755 "$UNPRIV"
install -m 755 "$VIGIL" "$UNPRIV/vigil"
printf 'secret line\n' >"$UNPRIV/secret.log"
chmod 000 "$UNPRIV/secret.log"
setpriv --reuid=65534 --regid=65534 --clear-groups "$UNPRIV/vigil" follow "$UNPRIV/secret.log" --interval 60s \
    >"$UNPRIV/follow.out" 2>"$UNPRIV/follow.err" &
FOLLOW_PID=$!
EXTRA_PIDS+=("$FOLLOW_PID")
if wait_for 5 grep -q 'cannot read' "$UNPRIV/follow.err"; then
    before=$(cpu_ticks "$FOLLOW_PID")
    sleep 3  # a measurement window, not a synchronisation: CPU and lines over 3 s of an unreadable file
    used=$(($(cpu_ticks "$FOLLOW_PID") - before))
    lines=$(grep -c 'cannot read' "$UNPRIV/follow.err")
    if [ "$lines" = 1 ] && [ "$used" -lt 30 ]; then
        pass "follow as an unprivileged user on a mode-000 file: reported once, no spinning ($used ticks in 3 s)"
    else
        fail "follow as an unprivileged user on a mode-000 file: reported once, no spinning" "$lines lines, $used ticks in 3 s"
    fi
else
    fail "follow as an unprivileged user on a mode-000 file says it cannot read it" "$(head -n 3 "$UNPRIV/follow.err")"
fi
stop_pid "$FOLLOW_PID" 5 || true
for target in "$UNPRIV" "$UNPRIV/missing/access.log"; do
    "$VIGIL" follow "$target" >/dev/null 2>"$UNPRIV/err"
    rc=$?
    if [ "$rc" = 2 ] && [ "$(grep -c '' "$UNPRIV/err")" = 1 ]; then
        pass "follow $(basename "$target"): one clear error, exit 2 ($(cat "$UNPRIV/err"))"
    else
        fail "follow on a directory or a missing directory: one clear error, exit 2" "exit $rc: $(cat "$UNPRIV/err")"
    fi
done
rm -rf "$UNPRIV"
