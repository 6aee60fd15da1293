#!/usr/bin/env bash
# shellcheck disable=SC2317  # helpers below are called through wait_for and trap
# End-to-end test of `vigil serve` with real clients, all on loopback:
#   util-linux logger (RFC 5424 and RFC 3164; UDP, TCP, TCP octet-counted), netcat sending the
#   captured sample frames (TCP and UDP), a private rsyslogd forwarding with omfwd over TCP
#   (octet-counted and LF) and UDP, then SIGTERM with a burst just read: nothing may be lost.
# Each message must land in DATA/hosts/<host>/*.log for the right host.
# Last line: "N passed, N failed"; exit status 1 on any failure. Every wait is bounded.
# Environment: E2E_KEEP=1 keeps the work directory; E2E_NO_BUILD=1 skips `swift build`;
# VIGIL=PATH tests another vigil binary.
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

cleanup() {
    local pid
    for pid in "$VIGIL_PID" "$RSYSLOG_PID"; do
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
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

if start_vigil "$DATA" "$WORK/vigil.stderr" --stats-interval 1s; then
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

if [ "$FAILED" != 0 ]; then
    say "vigil stderr (last 20 lines):"
    tail -n 20 "$WORK/vigil.stderr" | sed 's/^/  | /' >&2
fi
finish
