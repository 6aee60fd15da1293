#!/usr/bin/env bash
# shellcheck disable=SC2317  # helpers below are called through wait_for and trap
# End-to-end test of `vigil serve` with real clients, all on loopback:
#   util-linux logger (RFC 5424 and RFC 3164; UDP, TCP, TCP octet-counted), netcat sending the
#   captured sample frames (TCP and UDP), a private rsyslogd forwarding with omfwd over TCP
#   (octet-counted and LF) and UDP, then SIGTERM with a burst just read: nothing may be lost.
# Each message must land in DATA/hosts/<host>/*.log for the right host.
# Then detection, with a second `vigil serve` and low thresholds: a real sshd (private config
# and host keys, on a loopback port) logs through a private rsyslogd that owns sshd's /dev/log and
# forwards to vigil; wrong passwords (sshpass) must raise ssh_bruteforce for 127.0.0.1, and the
# HTTP API's /hosts/H/ssh/logins must count them as the stored lines do; the dashboard, in a
# headless Chromium (scripts/e2e/dashboard_check.py), must show the host and the alert. A real
# nginx (access_log syslog:) under a short burst of curl requests must raise http_high_traffic,
# and resolve it once quiet. Alerts are read from DATA/alerts.jsonl, the file sink and stdout.
# Then scripts/e2e/trust.sh: forged relay lines, a real rsyslogd relaying sealed events between two
# vigils, a sender's clock an hour ahead, descriptor floods under prlimit, and terminal escapes;
# scripts/e2e/durability.sh: a full disk on a tmpfs, datagrams ended by LF, follow on files it
# cannot read; and scripts/e2e/api.sh: the HTTP API's bearer token, queries, refused host names,
# oversized requests, /metrics under promtool, non-loopback refusal, 50 concurrent clients;
# scripts/e2e/readme.sh: the README's quick tour and load-generator commands, taken from
# README.md and run as pasted, and analyze on gzip-compressed and missing inputs;
# scripts/e2e/install.sh: scripts/install.sh into a temporary prefix (static binary, --version,
# idempotency, systemd-analyze verify) and the Dockerfile's build stage on a clean git archive;
# scripts/e2e/deploy.sh: scripts/deploy.sh over ssh to a private sshd, below a temporary root;
# and scripts/e2e/shipped.sh: the forwarding configs in conf/ (rsyslog TCP and UDP, syslog-ng,
# nginx), each checked and run by its real program; scripts/e2e/shard.sh: an edge vigil relaying
# through a real rsyslogd running conf/rsyslog-shard.conf to two central vigils, each address's
# ssh_distributed raised once, by the central rsyslog's hash64mod gives it; scripts/e2e/forward.sh:
# vigil forward through rotations, outages and SIGKILL; scripts/e2e/rates.sh: the rate rules live
# and in analyze on the same traffic; scripts/e2e/threads.sh: serve at one, two and four threads, the
# same lines stored and the same alerts, and at five (two shards, the detection thread); scripts/e2e/analyze.sh: analyze's --threads and --top values, a line
# longer than its read buffer, a read error mid-input.
# Last line: "N passed, N failed"; exit status 1 on any failure. Every wait is bounded.
# Environment: E2E_KEEP=1 keeps the work directory; E2E_NO_BUILD=1 skips `swift build`;
# VIGIL=PATH tests another vigil binary; E2E_ONLY="api trust" runs only those parts (scripts/e2e/).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
SAMPLES=$ROOT/Tests/Fixtures/samples

PASSED=0
FAILED=0
WORK=$(mktemp -d /tmp/vigil-e2e.XXXXXX)
DATA=$WORK/data
RUN=$$-$RANDOM
VIGIL_PID=
RSYSLOG_PID=
SSHD_PID=
NGINX_PID=
AM_PID=
SSH_RSYSLOG_PID=
# Further processes started by the sourced parts (scripts/e2e/*.sh), killed on exit, and a tmpfs
# mounted by scripts/e2e/durability.sh, unmounted on exit.
EXTRA_PIDS=()
MOUNTED_TMPFS=
# Set when this script created /run/sshd, and the inode of the /dev/log socket it created.
MADE_RUN_SSHD=0
DEVLOG_INODE=

cleanup() {
    local pid
    # nginx and sshd first, with a chance to take their children (nginx workers) with them.
    for pid in "$NGINX_PID" "$SSHD_PID" "$AM_PID"; do
        [ -n "$pid" ] && stop_pid "$pid" 3
    done
    for pid in "$VIGIL_PID" "$RSYSLOG_PID" "$SSH_RSYSLOG_PID" "${EXTRA_PIDS[@]}"; do
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    if [ -n "$DEVLOG_INODE" ] && [ -S /dev/log ] && [ "$(stat -c %i /dev/log)" = "$DEVLOG_INODE" ]; then
        rm -f /dev/log
    fi
    [ "$MADE_RUN_SSHD" = 1 ] && rmdir /run/sshd 2>/dev/null
    [ -n "$MOUNTED_TMPFS" ] && umount "$MOUNTED_TMPFS" 2>/dev/null
    if [ "${E2E_KEEP:-0}" = 1 ]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { PASSED=$((PASSED + 1)); printf 'ok   %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; return 0; }

finish() {
    printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
    [ "$FAILED" = 0 ]
    exit $?
}

# host_count HOST TEXT: how many stored lines of HOST contain TEXT (fixed string).
host_count() {
    local files=("$DATA/hosts/$1"/*.log)
    [ -e "${files[0]}" ] || { printf 0; return; }
    cat -- "${files[@]}" | grep -cF -- "$2"
}
_count_reached() { [ "$(host_count "$1" "$2")" -ge "$3" ]; }

# expect NAME HOST TEXT [COUNT]: waits (5 s at most) for exactly COUNT (default 1) lines with
# TEXT under HOST; on failure says where TEXT went instead.
expect() {
    local name=$1 host=$2 text=$3 want=${4:-1} got where
    wait_for 5 _count_reached "$host" "$text" "$want"
    got=$(host_count "$host" "$text")
    if [ "$got" = "$want" ]; then
        pass "$name"
    else
        where=$(grep -rlF -- "$text" "$DATA/hosts" 2>/dev/null | sed "s|^$DATA/||" | head -n3 | tr '\n' ' ')
        fail "$name" "expected $want line(s) with '$text' in hosts/$host, found $got${where:+ (found in: $where)}"
    fi
}

# stats_received: the received= counter of vigil's latest stats line (0 before the first one).
stats_received() {
    local n
    n=$(sed -n 's/^vigil: stats received=\([0-9]*\) .*/\1/p' "$WORK/vigil.stderr" | tail -n1)
    printf '%s' "${n:-0}"
}
_received_at_least() { [ "$(stats_received)" -ge "$1" ]; }

# alert_count FILE TEXT...: lines of FILE containing every TEXT (fixed strings).
alert_count() {
    local file=$1 lines
    shift
    [ -f "$file" ] || { printf 0; return; }
    lines=$(cat -- "$file")
    while [ $# -gt 0 ]; do
        lines=$(grep -F -- "$1" <<<"$lines")
        shift
    done
    [ -n "$lines" ] || { printf 0; return; }
    grep -c '' <<<"$lines"
}
_alerts_at_least() { local want=$1; shift; [ "$(alert_count "$ALERTS" "$@")" -ge "$want" ]; }

# expect_alert NAME TIMEOUT_S TEXT...: waits for exactly one line of alerts.jsonl with every TEXT.
expect_alert() {
    local name=$1 timeout=$2 got
    shift 2
    wait_for "$timeout" _alerts_at_least 1 "$@"
    got=$(alert_count "$ALERTS" "$@")
    if [ "$got" = 1 ]; then
        pass "$name"
    else
        fail "$name" "expected 1 line in alerts.jsonl with: $*; found $got" \
            "alerts.jsonl: $(tail -n 5 "$ALERTS" 2>/dev/null | tr '\n' ' ')"
    fi
}

# json_field LINE KEY: the string value of "KEY":"..." in one JSON line.
json_field() { sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$1"; }

# json_get FILE PYTHON: evaluates PYTHON with `d` = FILE's JSON and prints the value (true/false
# for booleans), or runs it when it is statements (which print themselves); nothing if either fails.
json_get() {
    python3 - "$1" "$2" 2>/dev/null <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
try:
    code = compile(sys.argv[2], "json_get", "eval")
except SyntaxError:
    exec(sys.argv[2])
else:
    v = eval(code)
    print(str(v).lower() if isinstance(v, bool) else v, end="")
PY
}

# --- set up

if [ "${E2E_NO_BUILD:-0}" = 1 ]; then
    BIN_DIR=$(cd "$ROOT" && swift build -c release --show-bin-path)
else
    build_release "$ROOT"
fi
VIGIL=${VIGIL:-$BIN_DIR/vigil}
LOADGEN=$BIN_DIR/vigil-bench
ensure_command logger bsdutils
ensure_command nc netcat-openbsd
ensure_command rsyslogd rsyslog
ensure_command timeout coreutils

HOST_FULL=$(hostname | tr '[:upper:]' '[:lower:]')
HOST_SHORT=${HOST_FULL%%.*}

# E2E_ONLY="part ..." runs only those parts (scripts/e2e/PART.sh), each of which starts its own
# processes: a quick loop while working on one of them.
if [ -n "${E2E_ONLY:-}" ]; then
    for part in $E2E_ONLY; do
        # shellcheck source=/dev/null
        . "$ROOT/scripts/e2e/$part.sh"
    done
    finish
fi

if VIGIL_STDOUT=$WORK/vigil.stdout start_vigil "$DATA" "$WORK/vigil.stderr" --stats-interval 1s; then
    pass "vigil serve starts and prints its listening lines (tcp $VIGIL_TCP_PORT, udp $VIGIL_UDP_PORT)"
else
    fail "vigil serve starts and prints its listening lines"
    finish
fi
TCP=$VIGIL_TCP_PORT
UDP=$VIGIL_UDP_PORT

# --- logger (util-linux): both formats, both transports, both TCP framings

logger --rfc5424 -d -n 127.0.0.1 -P "$UDP" -t e2e "logger-5424-udp $RUN"
logger --rfc3164 -d -n 127.0.0.1 -P "$UDP" -t e2e "logger-3164-udp $RUN"
logger --rfc5424 -T -n 127.0.0.1 -P "$TCP" -t e2e "logger-5424-tcp-lf $RUN"
logger --rfc5424 -T --octet-count -n 127.0.0.1 -P "$TCP" -t e2e -i --msgid E2E "logger-5424-tcp-octet $RUN"
logger --rfc3164 -T -n 127.0.0.1 -P "$TCP" -t e2e -p auth.warning "logger-3164-tcp $RUN"
logger --rfc5424=nohost -d -n 127.0.0.1 -P "$UDP" -t e2e "logger-5424-nohost $RUN"
expect "logger RFC 5424 over UDP" "$HOST_FULL" "logger-5424-udp $RUN"
expect "logger RFC 3164 over UDP" "$HOST_SHORT" "logger-3164-udp $RUN"
expect "logger RFC 5424 over TCP, LF framing" "$HOST_FULL" "logger-5424-tcp-lf $RUN"
expect "logger RFC 5424 over TCP, octet counting" "$HOST_FULL" "logger-5424-tcp-octet $RUN"
expect "logger RFC 3164 over TCP" "$HOST_SHORT" "logger-3164-tcp $RUN"
expect "logger without HOSTNAME is stored under the sender address" 127.0.0.1 "logger-5424-nohost $RUN"

# --- netcat: a line that is not syslog, then every captured sample

printf 'this is not syslog at all %s\n' "$RUN" | send_tcp_file 127.0.0.1 "$TCP" /dev/stdin
expect "a non-syslog line is kept under the sender address" 127.0.0.1 "this is not syslog at all $RUN"

# file|host|text|count: the frames of each sample and where they belong.
SAMPLE_TABLE=(
    "logger-rfc5424-tcp-lf.tcp|vm|corpus 5424-tcp-lf|5"
    "logger-rfc5424-tcp-octet.tcp|vm|corpus 5424-tcp-octet|5"
    "rsyslog-tcp-forward.tcp|edge-tcp-forward|rsyslog tcp-forward|4"
    "rsyslog-tcp-proto23-octet.tcp|edge-tcp-proto23-octet|rsyslog tcp-proto23-octet|4"
    "rsyslog-tcp-traditional.tcp|edge-tcp-traditional|rsyslog tcp-traditional|4"
    "sshd-normal-rsyslog-tcp-octet.tcp|vm| sshd |$(grep -cF ' sshd ' "$SAMPLES/sshd-normal-rsyslog-tcp-octet.tcp")"
    "logger-rfc5424-udp.udp|vm|corpus 5424-udp|5"
    "logger-rfc3164-udp.udp|vm|corpus 3164-udp|4"
    "nginx-syslog-curl.udp|vm| nginx: |$(grep -c '' "$SAMPLES/nginx-syslog-curl.udp.len")"
    "rsyslog-udp-proto23.udp|edge-udp-proto23|rsyslog udp-proto23|4"
)
for row in "${SAMPLE_TABLE[@]}"; do
    IFS='|' read -r file host text count <<<"$row"
    case $file in
        *.tcp) send_tcp_file 127.0.0.1 "$TCP" "$SAMPLES/$file" || fail "nc could not send $file" ;;
        *.udp) send_udp_file 127.0.0.1 "$UDP" "$SAMPLES/$file" || fail "nc could not send $file" ;;
    esac
done
for row in "${SAMPLE_TABLE[@]}"; do
    IFS='|' read -r file host text count <<<"$row"
    expect "sample $file: $count frame(s) under hosts/$host" "$host" "$text" "$count"
done

# --- rsyslogd forwarding to vigil (omfwd), fed by logger through private imuxsock sockets

RS=$WORK/rsyslog
mkdir -p "$RS/spool"
cat >"$RS/rsyslog.conf" <<EOF
# Private rsyslogd for e2e.sh: no system socket, inputs on private paths, each forwarding one way.
global(workDirectory="$RS/spool")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$RS/tcp-octet.sock" HostName="e2e-rsyslog-tcp-octet" Ruleset="tcpOctet")
input(type="imuxsock" Socket="$RS/tcp-lf.sock" HostName="e2e-rsyslog-tcp-lf" Ruleset="tcpLF")
input(type="imuxsock" Socket="$RS/udp.sock" HostName="E2E-Rsyslog-UDP" Ruleset="udp")
ruleset(name="tcpOctet") {
    action(type="omfwd" target="127.0.0.1" port="$TCP" protocol="tcp" TCP_Framing="octet-counted"
           template="RSYSLOG_SyslogProtocol23Format")
}
ruleset(name="tcpLF") {
    action(type="omfwd" target="127.0.0.1" port="$TCP" protocol="tcp" template="RSYSLOG_ForwardFormat")
}
ruleset(name="udp") {
    action(type="omfwd" target="127.0.0.1" port="$UDP" protocol="udp"
           template="RSYSLOG_TraditionalForwardFormat")
}
EOF
_rsyslog_sockets() { [ -S "$RS/tcp-octet.sock" ] && [ -S "$RS/tcp-lf.sock" ] && [ -S "$RS/udp.sock" ]; }
if start_rsyslogd "$RS/rsyslog.conf" "$RS" && wait_for 10 _rsyslog_sockets; then
    for i in 1 2 3; do
        logger -u "$RS/tcp-octet.sock" -t e2e "rsyslog-tcp-octet $RUN #$i"
        logger -u "$RS/tcp-lf.sock" -t e2e "rsyslog-tcp-lf $RUN #$i"
        logger -u "$RS/udp.sock" -t e2e "rsyslog-udp $RUN #$i"
    done
    expect "rsyslogd omfwd TCP octet-counted (RFC 5424)" e2e-rsyslog-tcp-octet "rsyslog-tcp-octet $RUN" 3
    expect "rsyslogd omfwd TCP LF (ForwardFormat)" e2e-rsyslog-tcp-lf "rsyslog-tcp-lf $RUN" 3
    expect "rsyslogd omfwd UDP, upper-case host name stored lower-case" e2e-rsyslog-udp "rsyslog-udp $RUN" 3
    stop_pid "$RSYSLOG_PID" 10 || true
    RSYSLOG_PID=
else
    fail "private rsyslogd starts" "$(cat "$RS/rsyslogd.out" 2>/dev/null)"
fi

# --- 10,000 connections open at once from 50 addresses, a few of them hostile: every good message lands

ensure_command python3 python3
MANY=10000
if out=$(timeout 120 python3 "$ROOT/scripts/e2e/many_connections.py" "$TCP" "$MANY" e2e-many "many $RUN" 2>&1); then
    pass "10000 TCP connections from 50 addresses open at once ($out)"
    # 9,997 plain messages plus the one after the oversized frame.
    expect "every good message of 10000 connections lands, hostile frames close only their own" e2e-many "many $RUN" $((MANY - 2))
    expect "the frame after an oversized octet-counted frame is intact" e2e-many "many $RUN after-oversized" 1
else
    fail "10000 TCP connections open at once" "$out"
fi

# --- counters, then SIGTERM right after a burst was read: everything must be on disk

if wait_for 5 grep -q '^vigil: stats received=[0-9]* bytes=[0-9]* parse_errors=[0-9]* truncated=[0-9]* framing_errors=[0-9]* connections=[0-9]*' "$WORK/vigil.stderr"; then
    pass "vigil prints its stats line"
else
    fail "vigil prints its stats line"
fi

BURST=20000
before=$(stats_received)
if out=$("$LOADGEN" load --tcp "127.0.0.1:$TCP" --connections 2 --count "$BURST" 2>&1); then
    # Wait until vigil says it has read the whole burst, then stop it at once.
    wait_for 30 _received_at_least $((before + BURST)) \
        || say "stats never reached $((before + BURST)) received (last: $(stats_received)); stopping anyway"
    stop_pid "$VIGIL_PID" 15
    rc=$?
    VIGIL_PID=
    if [ "$rc" = 0 ]; then pass "SIGTERM: vigil exits 0"; else fail "SIGTERM: vigil exits 0" "exit status $rc"; fi
    stored=0
    for h in $(seq -w 1 16); do stored=$((stored + $(host_count "bench-host-$h" "bench"))); done
    if [ "$stored" = "$BURST" ]; then
        pass "SIGTERM: all $BURST messages of a burst are on disk"
    else
        fail "SIGTERM: all $BURST messages of a burst are on disk" "found $stored"
    fi
else
    fail "vigil-bench burst" "$out"
fi

# --- detection: real sshd and nginx through a second vigil with low thresholds

DATA2=$WORK/data-detect
ALERTS=$DATA2/alerts.jsonl
SINK=$WORK/sink.jsonl
OUT2=$WORK/vigil-detect.stdout
NOUSER=e2e-nouser-$RANDOM
SSH_HOST=e2e-sshd
SSH_ATTEMPTS=5
HTTP_REQUESTS=200


ensure_command sshd openssh-server
ensure_command ssh openssh-client
ensure_command ssh-keygen openssh-client
ensure_command sshpass sshpass
ensure_command nginx nginx-light
ensure_command curl curl
ensure_command chromium chromium
ensure_python_module websocket python3-websocket

if VIGIL_HTTP=1 VIGIL_STDOUT=$OUT2 start_vigil "$DATA2" "$WORK/vigil-detect.stderr" --stats-interval 1s \
    --detection.lateness=1s --rule.ssh_bruteforce.threshold=3 \
    --rule.http_high_traffic.threshold=0.5 --rule.http_high_traffic.window=10s --rule.http_high_traffic.resolve_after=5s \
    --sink stdout --sink "file:$SINK"; then
    pass "vigil serve starts with rule flags, two sinks and the API (127.0.0.1:$VIGIL_HTTP_PORT)"
    DETECT_UP=1
    DETECT_HTTP=http://127.0.0.1:$VIGIL_HTTP_PORT
    DETECT_TOKEN=$VIGIL_API_TOKEN_VALUE
else
    fail "vigil serve starts with rule flags, two sinks and the API"
    DETECT_UP=0
fi

# sshd logs with syslog(3) to /dev/log. A private rsyslogd owns that socket for it: /dev/log
# itself when nobody has it (a fresh container), otherwise a private socket bind-mounted over
# /dev/log in a mount namespace of sshd's own (unshare -m).
SSHW=$WORK/sshd
mkdir -p "$SSHW/spool"
SSHD=$(command -v sshd)
# A socket left at /dev/log by a daemon that is gone (no longer bound, per /proc/net/unix) is free.
if [ -S /dev/log ] && [ ! -L /dev/log ] && ! grep -q ' /dev/log$' /proc/net/unix; then
    say "removing a stale /dev/log socket nobody is bound to"
    rm -f /dev/log
fi
if [ ! -e /dev/log ] && [ ! -L /dev/log ]; then
    LOG_MODE=own
    LOG_SOCKET=/dev/log
elif unshare -m true 2>/dev/null; then
    LOG_MODE=bind
    LOG_SOCKET=$SSHW/dev-log.sock
else
    LOG_MODE=none
    LOG_SOCKET=
fi
if [ "$DETECT_UP" = 1 ] && [ "$LOG_MODE" != none ]; then
    cat >"$SSHW/rsyslog.conf" <<EOF
# Private rsyslogd for sshd: its log socket in, RFC 5424 octet-counted over TCP to vigil out.
global(workDirectory="$SSHW/spool")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$LOG_SOCKET" HostName="$SSH_HOST" Ruleset="toVigil")
ruleset(name="toVigil") {
    action(type="omfwd" target="127.0.0.1" port="$VIGIL_TCP_PORT" protocol="tcp" TCP_Framing="octet-counted"
           template="RSYSLOG_SyslogProtocol23Format")
}
EOF
    if start_rsyslogd "$SSHW/rsyslog.conf" "$SSHW" && wait_for 10 test -S "$LOG_SOCKET"; then
        SSH_RSYSLOG_PID=$RSYSLOG_PID
        RSYSLOG_PID=
        [ "$LOG_MODE" = own ] && DEVLOG_INODE=$(stat -c %i /dev/log)
    else
        SSH_RSYSLOG_PID=$RSYSLOG_PID
        RSYSLOG_PID=
        LOG_MODE=none
        fail "private rsyslogd for sshd owns $LOG_SOCKET" "$(cat "$SSHW/rsyslogd.out" 2>/dev/null)"
    fi
elif [ "$LOG_MODE" = none ]; then
    fail "sshd's /dev/log can be given to a private rsyslogd" \
        "/dev/log exists and unshare -m is not permitted here"
fi

if [ "$DETECT_UP" = 1 ] && [ "$LOG_MODE" != none ]; then
    SSH_PORT=$(free_port)
    ssh-keygen -q -t ed25519 -N '' -C vigil-e2e -f "$SSHW/host_ed25519"
    cat >"$SSHW/sshd_config" <<EOF
# Private sshd for e2e.sh: its own host key, passwords only, no PAM, logging to syslog (AUTH).
HostKey $SSHW/host_ed25519
PidFile $SSHW/sshd.pid
SyslogFacility AUTH
LogLevel INFO
UsePAM no
PasswordAuthentication yes
PermitEmptyPasswords no
KbdInteractiveAuthentication no
PubkeyAuthentication no
AuthorizedKeysFile none
MaxAuthTries 10
MaxStartups 50
EOF
    # OpenSSH >= 9.8 would lock 127.0.0.1 out after a few failures; turn that off where it exists.
    if "$SSHD" -t -f "$SSHW/sshd_config" -o PerSourcePenalties=no 2>/dev/null; then
        echo "PerSourcePenalties no" >>"$SSHW/sshd_config"
    fi
    # sshd's privilege-separation directory (compiled in); made here when missing, removed on exit.
    if [ ! -d /run/sshd ]; then
        mkdir -m 755 /run/sshd && MADE_RUN_SSHD=1
    fi
    SSHD_ARGS=(-D -f "$SSHW/sshd_config" -p "$SSH_PORT" -o ListenAddress=127.0.0.1)
    if [ "$LOG_MODE" = own ]; then
        "$SSHD" "${SSHD_ARGS[@]}" 2>"$SSHW/sshd.stderr" &
    else
        # shellcheck disable=SC2016  # expanded by the inner shell
        unshare -m --propagation private sh -c 'mount --bind "$1" /dev/log && shift && exec "$@"' \
            sh "$LOG_SOCKET" "$SSHD" "${SSHD_ARGS[@]}" 2>"$SSHW/sshd.stderr" &
    fi
    SSHD_PID=$!
    if wait_for 10 tcp_listening "$SSH_PORT" && kill -0 "$SSHD_PID" 2>/dev/null; then
        pass "real sshd listens on 127.0.0.1:$SSH_PORT (syslog via $LOG_MODE /dev/log)"
        for i in $(seq 1 "$SSH_ATTEMPTS"); do
            timeout 15 sshpass -p "wrong-password-$i" ssh -F /dev/null -p "$SSH_PORT" \
                -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
                -o PreferredAuthentications=password -o PubkeyAuthentication=no \
                -o NumberOfPasswordPrompts=1 -o ConnectTimeout=5 "$NOUSER@127.0.0.1" true </dev/null
            : "$i"
        done
        DATA_SAVED=$DATA
        DATA=$DATA2
        expect "sshd failures reach vigil through rsyslogd (hosts/$SSH_HOST)" "$SSH_HOST" \
            "Failed password for invalid user $NOUSER from 127.0.0.1" "$SSH_ATTEMPTS"
        DATA=$DATA_SAVED
        expect_alert "ssh_bruteforce fires once for 127.0.0.1 on $SSH_HOST (alerts.jsonl)" 10 \
            '"rule":"ssh_bruteforce","state":"firing"' "\"host\":\"$SSH_HOST\"" '"ip":"127.0.0.1"'
        SSH_TRIED=1
    else
        fail "real sshd listens on 127.0.0.1:$SSH_PORT" "$(cat "$SSHW/sshd.stderr" 2>/dev/null)"
    fi
    stop_pid "$SSHD_PID" 5 || true
    SSHD_PID=
fi
if [ -n "$SSH_RSYSLOG_PID" ]; then
    # SIGTERM lets rsyslogd remove the socket it created.
    stop_pid "$SSH_RSYSLOG_PID" 10 || true
    SSH_RSYSLOG_PID=
fi

# The API on sshd's lines, once sshd and its rsyslogd are gone (every line sent): the day's
# attempts are the distinct sshd PIDs (RFC 5424 PROCID) of the stored lines about 127.0.0.1.
# ssh_pids_stored: that count, from the store itself.
ssh_pids_stored() {
    sed -nE 's/^<[0-9]+>1 [^ ]+ [^ ]+ sshd(-session|-auth)? ([0-9]+) .*from 127\.0\.0\.1( |$).*/\2/p' \
        "$DATA2/hosts/$SSH_HOST/$SSH_DAY.log" 2>/dev/null | sort -u | grep -c ''
}
# _ssh_logins_agree: fetches /hosts/$SSH_HOST/ssh/logins into SSH_LOGINS_* and compares.
_ssh_logins_agree() {
    SSH_PIDS=$(ssh_pids_stored)
    SSH_LOGINS_CODE=$(curl -s --max-time 10 -o "$WORK/ssh-logins.json" -w '%{http_code}' \
        -H "Authorization: Bearer $DETECT_TOKEN" "$DETECT_HTTP/hosts/$SSH_HOST/ssh/logins?day=$SSH_DAY")
    SSH_LOGINS=$(json_get "$WORK/ssh-logins.json" \
        'r = d["data"][0]; print(r["attempts"], r["failures"], (r["top_ips"] or [{}])[0].get("ip"), end="")')
    [ "$SSH_LOGINS_CODE" = 200 ] && [ "${SSH_LOGINS%% *}" = "$SSH_PIDS" ]
}
if [ "${SSH_TRIED:-0}" = 1 ]; then
    SSH_DAY=$(date -u +%F)
    wait_for 5 _ssh_logins_agree
    read -r attempts failures top_ip <<<"$SSH_LOGINS"
    failed_lines=$(grep -cE ' sshd(-session|-auth)? [0-9]+ .*Failed [a-z-]+ for .*from 127\.0\.0\.1 ' \
        "$DATA2/hosts/$SSH_HOST/$SSH_DAY.log")
    if [ "$SSH_LOGINS_CODE" = 200 ] && [ "$attempts" = "$SSH_PIDS" ] && [ "$SSH_PIDS" -ge 1 ] \
        && [ "${failures:-0}" -ge "$SSH_ATTEMPTS" ] && [ "${failures:-0}" = "$failed_lines" ] && [ "$top_ip" = 127.0.0.1 ]; then
        pass "API /hosts/$SSH_HOST/ssh/logins: $attempts attempts (the stored lines' distinct sshd PIDs), $failures failures ($failed_lines stored 'Failed' lines), from 127.0.0.1"
    else
        fail "API /hosts/$SSH_HOST/ssh/logins: attempts = the stored lines' distinct sshd PIDs, failures = their $failed_lines 'Failed' lines" \
            "stored lines: $SSH_PIDS distinct sshd PIDs about 127.0.0.1" \
            "GET /hosts/$SSH_HOST/ssh/logins?day=$SSH_DAY: $SSH_LOGINS_CODE $(head -c 400 "$WORK/ssh-logins.json")"
    fi
    # The dashboard in a real browser: a wrong token refused, then the host and its alert shown.
    mkdir -p "$ROOT/.build"
    out=$(timeout 90 python3 "$ROOT/scripts/e2e/dashboard_check.py" "$DETECT_HTTP" "$DETECT_TOKEN" \
        "$SSH_HOST" ssh_bruteforce "$ROOT/.build/e2e-dashboard.png" 2>&1)
    if grep -q '^dashboard: ok' <<<"$out"; then
        pass "the dashboard in headless Chromium refuses a wrong token, then shows $SSH_HOST and ssh_bruteforce (${out#dashboard: ok }; .build/e2e-dashboard.png)"
    else
        fail "the dashboard in headless Chromium refuses a wrong token, then shows $SSH_HOST and ssh_bruteforce" "$out"
    fi
fi

# nginx: private prefix, one loopback server, its access log sent to vigil over UDP.
NGW=$WORK/nginx
NGINX_HOST=$HOST_FULL
if [ "$DETECT_UP" = 1 ]; then
    mkdir -p "$NGW"
    NGINX_PORT=$(free_port)
    cat >"$NGW/nginx.conf" <<EOF
# Private nginx for e2e.sh: one loopback server; every request logged to vigil via syslog (UDP).
worker_processes 1;
pid $NGW/nginx.pid;
error_log $NGW/error.log warn;
events { worker_connections 256; }
http {
    access_log syslog:server=127.0.0.1:$VIGIL_UDP_PORT combined;
    client_body_temp_path $NGW/client_body;
    proxy_temp_path $NGW/proxy;
    fastcgi_temp_path $NGW/fastcgi;
    uwsgi_temp_path $NGW/uwsgi;
    scgi_temp_path $NGW/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { return 200 "ok\n"; }
    }
}
EOF
    nginx -p "$NGW" -c "$NGW/nginx.conf" -e "$NGW/error.log" -g 'daemon off;' 2>"$NGW/stderr" &
    NGINX_PID=$!
    if wait_for 10 tcp_listening "$NGINX_PORT" && kill -0 "$NGINX_PID" 2>/dev/null; then
        pass "real nginx listens on 127.0.0.1:$NGINX_PORT"
        # A short bounded load: 4 rounds of 50 requests half a second apart, then silence.
        for round in 1 2 3 4; do
            timeout 10 curl -s "http://127.0.0.1:$NGINX_PORT/e2e/$round-[1-50]" >/dev/null
            sleep 0.5
        done
        LOAD_END_US=$(now_us)
        DATA_SAVED=$DATA
        DATA=$DATA2
        expect "nginx access lines reach vigil over UDP (hosts/$NGINX_HOST)" "$NGINX_HOST" '"GET /e2e/' "$HTTP_REQUESTS"
        DATA=$DATA_SAVED
        stop_pid "$NGINX_PID" 5 || true
        NGINX_PID=
        for scope in host global; do
            if [ "$scope" = host ]; then where="\"host\":\"$NGINX_HOST\""; else where='"host":null'; fi
            expect_alert "http_high_traffic fires ($scope scope)" 10 \
                '"rule":"http_high_traffic","state":"firing"' "\"scope\":\"$scope\"" "$where" \
                '"summary":"High traffic generated an alert - hits = '
            # Resolves once the 10 s window has slid past the burst and the watermark (1 s) follows.
            expect_alert "http_high_traffic resolves after the load stops ($scope scope)" 30 \
                '"rule":"http_high_traffic","state":"resolved"' "\"scope\":\"$scope\"" "$where" \
                '"summary":"High traffic alert recovered - hits = '
            firing=$(grep -F '"rule":"http_high_traffic","state":"firing"' "$ALERTS" | grep -F "\"scope\":\"$scope\"" | head -n1)
            resolved=$(grep -F '"rule":"http_high_traffic","state":"resolved"' "$ALERTS" | grep -F "\"scope\":\"$scope\"" | head -n1)
            if [ -n "$firing" ] && [ "$(json_field "$firing" id)" = "$(json_field "$resolved" id)" ] \
                && [ "$(grep -nF "$firing" "$ALERTS" | cut -d: -f1)" -lt "$(grep -nF "$resolved" "$ALERTS" | cut -d: -f1)" ]; then
                pass "http_high_traffic: firing then resolved, one id ($scope scope)"
            else
                fail "http_high_traffic: firing then resolved, one id ($scope scope)" "firing: $firing" "resolved: $resolved"
            fi
        done
        say "http_high_traffic resolved $(( ($(now_us) - LOAD_END_US) / 1000 )) ms after the load ended"
    else
        fail "real nginx listens on 127.0.0.1:$NGINX_PORT" "$(cat "$NGW/stderr" "$NGW/error.log" 2>/dev/null)"
    fi
fi

if [ "$DETECT_UP" = 1 ]; then
    if [ -s "$ALERTS" ] && cmp -s "$ALERTS" "$SINK"; then
        pass "the file sink holds the same alerts as alerts.jsonl ($(grep -c '' "$ALERTS") lines)"
    else
        fail "the file sink holds the same alerts as alerts.jsonl" \
            "alerts.jsonl: $(grep -c '' "$ALERTS" 2>/dev/null) lines, sink: $(grep -c '' "$SINK" 2>/dev/null) lines"
    fi
    if grep -q "FIRING .*ssh_bruteforce $SSH_HOST 127\.0\.0\.1" "$OUT2" && grep -q 'RESOLVED .*http_high_traffic' "$OUT2"; then
        pass "the stdout sink prints readable firing and resolved lines"
    else
        fail "the stdout sink prints readable firing and resolved lines" "$(grep -E 'FIRING|RESOLVED' "$OUT2" | head -n 5)"
    fi
    if grep -qF '/e2e' "$OUT2"; then
        pass "the stats block on stdout lists the /e2e section"
    else
        fail "the stats block on stdout lists the /e2e section" "stdout: $(head -c 400 "$OUT2")"
    fi
    stop_pid "$VIGIL_PID" 15
    rc=$?
    VIGIL_PID=
    if [ "$rc" = 0 ]; then pass "SIGTERM: the detecting vigil exits 0"; else fail "SIGTERM: the detecting vigil exits 0" "exit status $rc"; fi
fi

# --- a real Prometheus Alertmanager as a sink: down at first (the alert is spooled), vigil killed
# --- with SIGKILL, Alertmanager started, vigil restarted: the spooled alert arrives

ensure_command prometheus-alertmanager prometheus-alertmanager
AMDIR=$WORK/alertmanager
mkdir -p "$AMDIR"
printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n' >"$AMDIR/am.yml"
AM_PORT=$(free_port)
AM_URL=http://127.0.0.1:$AM_PORT
AM_ARGS=(--stats-interval 1s --rule.ssh_bruteforce.threshold=3 --sink "alertmanager://127.0.0.1:$AM_PORT")
_am_up() { curl -sf "$AM_URL/api/v2/status" >/dev/null; }
_am_has() { curl -sf "$AM_URL/api/v2/alerts" | grep -q "$1"; }
# am_alerts: Alertmanager's current alerts (JSON).
am_alerts() { curl -sf "$AM_URL/api/v2/alerts" || true; }
_spooled() { grep -q "^vigil: sink sink1 .*spooled=[1-9]" "$WORK/vigil-am.stderr"; }
if VIGIL_STDOUT=/dev/null start_vigil "$WORK/data-am" "$WORK/vigil-am.stderr" "${AM_ARGS[@]}"; then
    # Alertmanager is not running yet: after the first failed attempt the alert is on disk.
    for i in 1 2 3; do
        printf '<38>1 %s e2e-am sshd 7%s - - Failed password for root from 198.51.100.77 port 4%s ssh2\n' "$(date -u +%FT%TZ)" "$i" "$i"
    done | nc -q1 127.0.0.1 "$VIGIL_TCP_PORT"
    if wait_for 10 _spooled; then
        pass "Alertmanager down: the alert is spooled to DATA/spool/"
    else
        fail "Alertmanager down: the alert is spooled to DATA/spool/" "$(grep '^vigil: sink' "$WORK/vigil-am.stderr" | tail -n1)"
    fi
    kill -KILL "$VIGIL_PID"
    wait "$VIGIL_PID" 2>/dev/null || true
    VIGIL_PID=
    prometheus-alertmanager --config.file="$AMDIR/am.yml" --web.listen-address="127.0.0.1:$AM_PORT" \
        --cluster.listen-address= --storage.path="$AMDIR/data" >"$AMDIR/log" 2>&1 &
    AM_PID=$!
    if wait_for 15 _am_up; then
        pass "real prometheus-alertmanager listens on 127.0.0.1:$AM_PORT"
    else
        fail "real prometheus-alertmanager listens on 127.0.0.1:$AM_PORT" "$(tail -n 5 "$AMDIR/log")"
    fi
    if VIGIL_STDOUT=/dev/null start_vigil "$WORK/data-am" "$WORK/vigil-am.stderr" "${AM_ARGS[@]}"; then
        if wait_for 20 _am_has '"alertname":"ssh_bruteforce"'; then
            pass "after SIGKILL and restart, the spooled ssh_bruteforce alert reaches Alertmanager's /api/v2/alerts"
        else
            fail "after SIGKILL and restart, the spooled ssh_bruteforce alert reaches Alertmanager's /api/v2/alerts" "$(am_alerts | head -c 300)"
        fi
        if am_alerts | grep -q '"ip":"198.51.100.77"' && am_alerts | grep -q '"host":"e2e-am"'; then
            pass "Alertmanager's labels name the host and the address"
        else
            fail "Alertmanager's labels name the host and the address" "$(am_alerts | head -c 300)"
        fi
        stop_pid "$VIGIL_PID" 15
        rc=$?
        VIGIL_PID=
        if [ "$rc" = 0 ]; then
            pass "SIGTERM: vigil with a network sink (sender thread) exits 0"
        else
            fail "SIGTERM: vigil with a network sink (sender thread) exits 0" "exit status $rc"
        fi
    else
        fail "vigil restarts on the data directory of the killed one"
    fi
    stop_pid "$AM_PID" 5 || true
    AM_PID=
else
    fail "vigil serve starts with an alertmanager sink"
fi

# --- trust: forged relay events, one sender's clock, descriptor floods, terminal escapes

# shellcheck source=scripts/e2e/trust.sh
. "$ROOT/scripts/e2e/trust.sh"

# --- durability: a full disk, datagrams ended by LF, unreadable and impossible follow targets

# shellcheck source=scripts/e2e/durability.sh
. "$ROOT/scripts/e2e/durability.sh"

# --- the HTTP API: token, queries, refused host names and sizes, metrics, non-loopback, concurrency

# shellcheck source=scripts/e2e/api.sh
. "$ROOT/scripts/e2e/api.sh"

# --- forward: vigil forward ships files to a collector through rotations, outages and SIGKILL

# shellcheck source=scripts/e2e/forward.sh
. "$ROOT/scripts/e2e/forward.sh"

# --- the README's commands, as a user pastes them

# shellcheck source=scripts/e2e/readme.sh
. "$ROOT/scripts/e2e/readme.sh"

# --- install, Docker build, deploy

# shellcheck source=scripts/e2e/install.sh
. "$ROOT/scripts/e2e/install.sh"
# shellcheck source=scripts/e2e/deploy.sh
. "$ROOT/scripts/e2e/deploy.sh"

# --- the shipped forwarding configs, each run by its real program

# shellcheck source=scripts/e2e/shipped.sh
. "$ROOT/scripts/e2e/shipped.sh"

# --- rate rules: generate --attack errors fires the same rule for the same host live and in analyze

# shellcheck source=scripts/e2e/rates.sh
. "$ROOT/scripts/e2e/rates.sh"

# --- sharding: an edge vigil, a real rsyslogd running conf/rsyslog-shard.conf, two centrals

# shellcheck source=scripts/e2e/shard.sh
. "$ROOT/scripts/e2e/shard.sh"

# --- server.threads: one, two and four threads store the same lines and raise the same alerts

# shellcheck source=scripts/e2e/threads.sh
. "$ROOT/scripts/e2e/threads.sh"

# --- analyze: --threads and --top values, a line longer than the read buffer, a read error mid-input

# shellcheck source=scripts/e2e/analyze.sh
. "$ROOT/scripts/e2e/analyze.sh"

if [ "$FAILED" != 0 ]; then
    for f in "$WORK/vigil.stderr" "$WORK/vigil-detect.stderr" "$WORK/vigil-am.stderr" "$WORK"/trust/*.stderr "$WORK"/trust/fd/stderr "$WORK"/durability/*.stderr "$WORK"/api/*.stderr "$WORK"/readme/*.stderr "$WORK"/readme/*/serve.log "$WORK"/install/*.stderr "$WORK"/deploy/*.stderr "$WORK"/shipped/*.stderr "$WORK"/shipped/*/rsyslogd*.out "$WORK"/rates/*.stderr "$WORK"/shard/*.stderr "$WORK"/shard/rsyslog/rsyslogd.out "$WORK"/forward/*.stderr "$WORK"/threads/*.stderr "$WORK"/analyze/*.stderr; do
        [ -f "$f" ] || continue
        say "$(basename "$f") (last 20 lines):"
        tail -n 20 "$f" | sed 's/^/  | /' >&2
    done
fi
finish
