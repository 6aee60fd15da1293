# shellcheck shell=bash
# Shared helpers for scripts/e2e.sh and scripts/bench.sh (sourced, not run).
# Every wait here is bounded; nothing listens anywhere but on loopback.

# Prints a progress line on stderr.
say() { printf '%s\n' "$*" >&2; }

# Prints an error on stderr and exits 1.
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Microseconds since the epoch, without forking (bash 5 $EPOCHREALTIME).
now_us() { local t=${EPOCHREALTIME/./}; printf '%s' "$((10#$t))"; }

_apt_updated=0
# _apt_update_once: runs `apt-get update` the first time a package is needed in this run.
_apt_update_once() {
    [ "$_apt_updated" = 0 ] || return 0
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    _apt_updated=1
}

# ensure_command CMD PACKAGE: installs PACKAGE with apt-get when CMD is missing.
ensure_command() {
    local cmd=$1 pkg=$2
    command -v "$cmd" >/dev/null 2>&1 && return 0
    [ "$(id -u)" = 0 ] || die "$cmd is missing and installing $pkg needs root"
    _apt_update_once
    say "installing $pkg (for $cmd)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null \
        || die "apt-get install $pkg failed"
    command -v "$cmd" >/dev/null 2>&1 || die "$pkg installed but $cmd is still missing"
}

# ensure_python_module MODULE PACKAGE: installs the Debian PACKAGE when neither python3 on PATH
# (which may be a pyenv one) nor /usr/bin/python3 can import MODULE.
ensure_python_module() {
    local mod=$1 pkg=$2 py
    for py in python3 /usr/bin/python3; do
        "$py" -c "import $mod" >/dev/null 2>&1 && return 0
    done
    [ "$(id -u)" = 0 ] || die "python module $mod is missing and installing $pkg needs root"
    _apt_update_once
    say "installing $pkg (for python module $mod)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null \
        || die "apt-get install $pkg failed"
    /usr/bin/python3 -c "import $mod" >/dev/null 2>&1 || die "$pkg installed but /usr/bin/python3 cannot import $mod"
}

# extract_command CMD PACKAGE DIR: prints the path of CMD, from PATH when there, else from
# DIR/CMD, else unpacked into DIR from PACKAGE's .deb (apt-get download + dpkg-deb) without
# installing it: no dependencies, no maintainer scripts, so no service is started (Debian's
# `prometheus` package would start a server on every interface, for the sake of `promtool`).
extract_command() {
    local cmd=$1 pkg=$2 dir=$3 tmp member
    if command -v "$cmd" >/dev/null 2>&1; then command -v "$cmd"; return 0; fi
    if [ -x "$dir/$cmd" ]; then printf '%s\n' "$dir/$cmd"; return 0; fi
    _apt_update_once
    say "unpacking $cmd from $pkg's .deb into $dir (not installing $pkg)"
    mkdir -p "$dir"
    tmp=$(mktemp -d) || return 1
    # apt-get download writes to the current directory; -o APT::Sandbox::User=root keeps _apt's
    # permission warning about a root-owned temporary directory away.
    if ! (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null 2>&1); then
        rm -rf "$tmp"
        say "apt-get download $pkg failed"
        return 1
    fi
    member=$(dpkg-deb -c "$tmp"/*.deb | awk -v c="$cmd" '!found && $NF ~ "/bin/" c "$" { print $NF; found = 1 }')
    if [ -z "$member" ] || ! (cd "$tmp" && dpkg-deb --fsys-tarfile ./*.deb | tar -x "$member"); then
        rm -rf "$tmp"
        say "$pkg's .deb has no bin/$cmd"
        return 1
    fi
    install -m 755 "$tmp/$member" "$dir/$cmd"
    rm -rf "$tmp"
    printf '%s\n' "$dir/$cmd"
}

# extract_package PACKAGE DIR: unpacks PACKAGE's .deb, and those of the libraries it depends on
# that are not installed here, into DIR (apt-get download + dpkg-deb -x), without installing
# anything: no maintainer scripts, no service started, no conflicting package removed (installing
# Debian's syslog-ng would remove rsyslog). Done once: DIR/.unpacked names what was unpacked, and
# a later call finds it there. The caller runs the result with LD_LIBRARY_PATH pointing into DIR.
extract_package() {
    local pkg=$1 dir=$2 tmp deb dep pkgs
    [ -n "$dir" ] && [ "$dir" != / ] || return 1
    if [ -f "$dir/.unpacked" ] && head -n1 "$dir/.unpacked" | grep -qx -- "$pkg"; then return 0; fi
    _apt_update_once
    pkgs=("$pkg")
    # First alternative of each Depends line; only libraries, only those dpkg does not have.
    for dep in $(apt-cache depends "$pkg" 2>/dev/null | sed -n 's/^  Depends: \(lib[^ <>]*\)$/\1/p'); do
        dpkg-query -W -f='${Status}\n' "$dep" 2>/dev/null | grep -q ' installed$' || pkgs+=("$dep")
    done
    say "unpacking ${pkgs[*]} into $dir (not installing them)"
    tmp=$(mktemp -d) || return 1
    if ! (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "${pkgs[@]}" >/dev/null 2>&1); then
        rm -rf "$tmp"
        say "apt-get download ${pkgs[*]} failed"
        return 1
    fi
    mkdir -p "$tmp/root"
    for deb in "$tmp"/*.deb; do
        if ! dpkg-deb -x "$deb" "$tmp/root"; then
            rm -rf "$tmp"
            say "dpkg-deb -x $deb failed"
            return 1
        fi
    done
    printf '%s\n' "$pkg" "${pkgs[@]:1}" >"$tmp/root/.unpacked"
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir"
    mv "$tmp/root" "$dir"
    rm -rf "$tmp"
}

# build_release: builds the release binaries and sets BIN_DIR.
build_release() {
    local root=$1
    say "building release binaries"
    (cd "$root" && swift build -c release >&2) || die "swift build -c release failed"
    # shellcheck disable=SC2034  # read by the sourcing script
    BIN_DIR=$(cd "$root" && swift build -c release --show-bin-path) || die "cannot find the release bin path"
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks (100 per second).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# stat_value FILE KEY: KEY=N of the last stats or relay line in FILE that has KEY.
stat_value() {
    local v
    v=$(grep -o " $2=[0-9]*" "$1" | tail -n1 | cut -d= -f2)
    printf '%s' "${v:-0}"
}
_stat_at_least() { [ "$(stat_value "$1" "$2")" -ge "$3" ]; }

# rss_kib PID: resident memory of PID in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# port_in_use tcp|udp PORT: true when a socket is bound to PORT (any address) per /proc/net.
port_in_use() {
    local proto=$1 hex
    hex=$(printf '%04X' "$2")
    cat "/proc/net/$proto" "/proc/net/${proto}6" 2>/dev/null | awk -v p=":$hex" '
        NR > 0 && index($2, p) == length($2) - 4 { found = 1 } END { exit !found }'
}

# tcp_listening PORT: true when something listens on TCP PORT.
tcp_listening() {
    local hex
    hex=$(printf '%04X' "$1")
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" '
        $4 == "0A" && index($2, p) == length($2) - 4 { found = 1 } END { exit !found }'
}

# free_port: prints a port in 20000-59999 that is free for both TCP and UDP right now.
free_port() {
    local i p
    for i in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! port_in_use tcp "$p" && ! port_in_use udp "$p"; then
            printf '%s' "$p"
            return 0
        fi
        : "$i"
    done
    die "no free port found"
}

# wait_for TIMEOUT_S CMD...: polls CMD every 50 ms until it succeeds; false on timeout.
wait_for() {
    local deadline=$(( $(now_us) + $1 * 1000000 ))
    shift
    until "$@"; do
        [ "$(now_us)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# stop_pid PID [TIMEOUT_S]: SIGTERM, wait up to TIMEOUT_S (default 10), then SIGKILL.
# Returns the process's exit status (137 when it had to be killed); the PID must be our child.
stop_pid() {
    local pid=$1 timeout=${2:-10} rc=0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
    kill -TERM "$pid" 2>/dev/null
    if ! wait_for "$timeout" _not_running "$pid"; then
        say "pid $pid did not exit within ${timeout}s of SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || rc=$?
    return "$rc"
}
_not_running() { ! kill -0 "$1" 2>/dev/null; }

# start_vigil DATA_DIR STDERR_FILE [EXTRA_ARGS...]: starts `vigil serve` on ephemeral loopback
# ports and waits (10 s at most) for `vigil: ready`. Sets VIGIL_PID, VIGIL_TCP_PORT, VIGIL_UDP_PORT
# and VIGIL_RELAY_PORT (when a relay listener was asked for with --relay-listen 127.0.0.1:0).
# Its stdout (stdout alert sink, stats block) goes to VIGIL_STDOUT (default /dev/null).
# The HTTP API is off unless VIGIL_HTTP=1 (e.g. `VIGIL_HTTP=1 start_vigil ...`): then it listens
# on 127.0.0.1:0, and VIGIL_HTTP_PORT is set, and VIGIL_API_TOKEN_VALUE to the token vigil wrote
# to the file it names on stderr, or, when it wrote none, to $VIGIL_API_TOKEN (empty if unset:
# a token from a config file is the caller's to know). Both are empty with the API off.
# It runs at --threads 2 (the loop and the analysis thread) whatever the machine's CPUs, so every
# part behaves the same everywhere (VIGIL_THREADS changes it; a later --threads in EXTRA_ARGS wins;
# scripts/e2e/threads.sh tests more threads).
# Needs VIGIL (path of the binary).
start_vigil() {
    local data=$1 log=$2 http=off token_file
    shift 2
    VIGIL_HTTP_PORT=
    VIGIL_API_TOKEN_VALUE=
    [ "${VIGIL_HTTP:-0}" = 1 ] && http=127.0.0.1:0
    mkdir -p "$data"
    # Truncated here, not only by the child's redirection: the readiness poll below must never
    # see an earlier run's "ready" in a reused log file.
    : >"$log"
    "$VIGIL" serve --udp 127.0.0.1:0 --tcp 127.0.0.1:0 --http "$http" --data-dir "$data" --threads "${VIGIL_THREADS:-2}" "$@" \
        >"${VIGIL_STDOUT:-/dev/null}" 2>"$log" &
    VIGIL_PID=$!
    if ! wait_for 10 _vigil_ready "$log" "$VIGIL_PID"; then
        say "vigil did not become ready; its stderr:"
        sed 's/^/  | /' "$log" >&2
        stop_pid "$VIGIL_PID" 2 || true
        return 1
    fi
    if ! grep -q '^vigil: ready' "$log"; then
        say "vigil exited before it was ready; its stderr:"
        sed 's/^/  | /' "$log" >&2
        wait "$VIGIL_PID" 2>/dev/null || true
        return 1
    fi
    VIGIL_TCP_PORT=$(sed -n 's/^vigil: listening tcp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$log" | head -n1)
    VIGIL_UDP_PORT=$(sed -n 's/^vigil: listening udp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$log" | head -n1)
    # shellcheck disable=SC2034  # read by the sourcing script; empty without a relay listener
    VIGIL_RELAY_PORT=$(sed -n 's/^vigil: listening relay 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$log" | head -n1)
    if [ -z "$VIGIL_TCP_PORT" ] || [ -z "$VIGIL_UDP_PORT" ]; then
        say "vigil is ready but did not print both listening lines; its stderr:"
        sed 's/^/  | /' "$log" >&2
        stop_pid "$VIGIL_PID" 2 || true
        return 1
    fi
    [ "$http" = off ] && return 0
    VIGIL_HTTP_PORT=$(sed -n 's/^vigil: listening http 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$log" | head -n1)
    token_file=$(sed -n 's/^vigil: api: the bearer token is in \(.*\)$/\1/p' "$log" | head -n1)
    if [ -n "$token_file" ]; then
        VIGIL_API_TOKEN_VALUE=$(head -n1 -- "$token_file" 2>/dev/null)
    else
        # shellcheck disable=SC2034  # read by the sourcing script
        VIGIL_API_TOKEN_VALUE=${VIGIL_API_TOKEN:-}
    fi
    if [ -z "$VIGIL_HTTP_PORT" ] || { [ -n "$token_file" ] && [ -z "$VIGIL_API_TOKEN_VALUE" ]; }; then
        say "vigil is ready but printed no http listening line, or its token file is empty; its stderr:"
        sed 's/^/  | /' "$log" >&2
        stop_pid "$VIGIL_PID" 2 || true
        return 1
    fi
}
# True once the log says ready, or once the process has exited (checked by the caller).
_vigil_ready() { grep -q '^vigil: ready' "$1" || ! kill -0 "$2" 2>/dev/null; }

# start_rsyslogd CONF WORK_DIR: runs a private rsyslogd in the foreground (-n) in the background
# of this shell, with its own pid file; waits (10 s at most) until TCP_PORT (if given) listens.
# Sets RSYSLOG_PID.
start_rsyslogd() {
    local conf=$1 work=$2 tcp_port=${3:-}
    rsyslogd -n -f "$conf" -i "$work/rsyslogd.pid" >"$work/rsyslogd.out" 2>&1 &
    RSYSLOG_PID=$!
    local ok=0
    if [ -n "$tcp_port" ]; then
        wait_for 10 tcp_listening "$tcp_port" && ok=1
    else
        wait_for 10 test -s "$work/rsyslogd.pid" && ok=1
    fi
    if [ "$ok" = 0 ] || ! kill -0 "$RSYSLOG_PID" 2>/dev/null; then
        say "rsyslogd did not start; its output:"
        sed 's/^/  | /' "$work/rsyslogd.out" >&2
        stop_pid "$RSYSLOG_PID" 2 || true
        return 1
    fi
}

# rsyslog_relay_conf WORK IN_PORT OUT_PORT: writes WORK/rsyslog.conf (and WORK/spool) for a
# private rsyslogd relay: imtcp on 127.0.0.1:IN_PORT, every message forwarded unchanged (RFC 5424,
# octet-counted) over one TCP connection to 127.0.0.1:OUT_PORT. Start it with start_rsyslogd.
rsyslog_relay_conf() {
    mkdir -p "$1/spool"
    cat >"$1/rsyslog.conf" <<EOF
# Private rsyslogd relay: imtcp on loopback in, one omfwd connection (RFC 5424, octet-counted) out;
# one worker, so the messages leave in the order they came and over one connection.
global(workDirectory="$1/spool")
main_queue(queue.workerThreads="1")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$2" ruleset="relay")
ruleset(name="relay") {
    action(type="omfwd" target="127.0.0.1" port="$3" protocol="tcp" TCP_Framing="octet-counted"
           template="RSYSLOG_SyslogProtocol23Format")
}
EOF
}

# total_bytes DATA_DIR: sum of the sizes of DATA_DIR/hosts/*/*.log.
total_bytes() {
    local files=("$1"/hosts/*/*.log) sum=0 s
    [ -e "${files[0]}" ] || { printf 0; return; }
    for s in $(stat -c %s -- "${files[@]}"); do sum=$((sum + s)); done
    printf '%s' "$sum"
}

# count_lines DATA_DIR: number of lines in DATA_DIR/hosts/*/*.log.
count_lines() {
    local files=("$1"/hosts/*/*.log)
    [ -e "${files[0]}" ] || { printf 0; return; }
    cat -- "${files[@]}" | wc -l | tr -d ' '
}

# wait_for_lines DATA_DIR WANT TIMEOUT_S SETTLE_S: waits until DATA_DIR/hosts/*/*.log hold WANT
# lines. Polls file sizes every 50 ms (cheap) and counts lines only when the size suggests it is
# done (WANT lines of the mean length of the first 64 KiB of one file: lines of different lengths
# need more than the first line; after a count that falls short, of the mean length of all lines
# stored, so a sample of short lines does not make it count on every poll) or has stopped
# growing. Gives up after TIMEOUT_S, or once nothing has grown for SETTLE_S. Sets WAIT_LINES
# (lines seen) and WAIT_END_US (the poll at which the size last grew, so the wait for it to stop
# growing is not counted). True when WANT reached.
wait_for_lines() {
    local dir=$1 want=$2 timeout=$3 settle=$4
    local start now size line_len=0 last_size=-1 counted_size=-1 changed_at deadline files sample_lines sample_bytes
    start=$(now_us)
    deadline=$((start + timeout * 1000000))
    changed_at=$start
    WAIT_LINES=0
    WAIT_END_US=0
    while :; do
        now=$(now_us)
        size=$(total_bytes "$dir")
        if [ "$line_len" = 0 ] && [ "$size" -gt 0 ]; then
            files=("$dir"/hosts/*/*.log)
            read -r sample_lines sample_bytes < <(head -c 65536 -- "${files[0]}" | wc -lc)
            if [ "$sample_lines" -gt 0 ]; then line_len=$((sample_bytes / sample_lines)); fi
        fi
        if [ "$size" != "$last_size" ]; then
            last_size=$size
            changed_at=$now
        fi
        if [ "$size" != "$counted_size" ] && [ "$size" -gt 0 ] \
            && { { [ "$line_len" -gt 0 ] && [ $((size * 100)) -ge $((want * line_len * 97)) ]; } \
                || [ $((now - changed_at)) -ge 300000 ]; }; then
            counted_size=$size
            WAIT_LINES=$(count_lines "$dir")
            if [ "$WAIT_LINES" -ge "$want" ]; then
                WAIT_END_US=$changed_at
                return 0
            fi
            if [ "$WAIT_LINES" -gt 0 ]; then line_len=$((size / WAIT_LINES)); fi
        fi
        [ "$now" -lt "$deadline" ] || break
        [ $((now - changed_at)) -lt $((settle * 1000000)) ] || break
        sleep 0.05
    done
    WAIT_LINES=$(count_lines "$dir")
    [ "$WAIT_LINES" -ge "$want" ] || return 1
    # shellcheck disable=SC2034  # read by the caller
    WAIT_END_US=$changed_at
}

# send_tcp_file HOST PORT FILE: sends FILE's bytes unchanged over one TCP connection with nc,
# half-closing after the last byte; bounded to 10 s.
send_tcp_file() {
    timeout 10 nc -N -w 3 "$1" "$2" <"$3"
}

# send_udp_file HOST PORT FILE: sends the datagrams of a captured FILE (lengths in FILE.len, one
# per line) one nc call each, unchanged.
send_udp_file() {
    local host=$1 port=$2 file=$3 len offset=0 one
    one=$(mktemp)
    while read -r len; do
        [ -n "$len" ] || continue
        tail -c +$((offset + 1)) "$file" | head -c "$len" >"$one"
        timeout 5 nc -u -w1 -q0 "$host" "$port" <"$one" || { rm -f "$one"; return 1; }
        offset=$((offset + len))
    done <"$file.len"
    rm -f "$one"
}

# ship_edit IN OUT FROM TO [FROM TO]...: copies the shipped file IN to OUT with FROM (a fixed
# string) replaced by TO on the one line that is not a comment and has it: the edit an operator
# makes. False, with SHIP_WHY saying so, when FROM is not on exactly one such line.
# shellcheck disable=SC2034  # SHIP_WHY is read by the caller
ship_edit() {
    local in=$1 out=$2 n
    shift 2
    cp -- "$in" "$out" || { SHIP_WHY="cannot copy $in"; return 1; }
    while [ $# -ge 2 ]; do
        n=$(grep -v '^[[:space:]]*#' -- "$out" | grep -cF -- "$1")
        if [ "$n" != 1 ]; then
            SHIP_WHY="${in#"${ROOT:-}"/}: '$1' is on $n uncommented lines, not 1"
            return 1
        fi
        FROM=$1 TO=$2 awk '
            !/^[[:space:]]*#/ && (i = index($0, ENVIRON["FROM"])) {
                $0 = substr($0, 1, i - 1) ENVIRON["TO"] substr($0, i + length(ENVIRON["FROM"]))
            }
            { print }' "$out" >"$out.tmp" && mv -- "$out.tmp" "$out"
        shift 2
    done
}

# system_rsyslog_conf SNIPPET OUT: writes to OUT this machine's /etc/rsyslog.conf with its
# `$IncludeConfig /etc/rsyslog.d/...` line replaced by an include of SNIPPET: the config rsyslogd
# reads once SNIPPET is installed in /etc/rsyslog.d/. False, writing nothing, when there is no
# /etc/rsyslog.conf or it has no such line.
system_rsyslog_conf() {
    [ -f /etc/rsyslog.conf ] && grep -q '^[$]IncludeConfig /etc/rsyslog\.d/' /etc/rsyslog.conf || return 1
    sed "s|^\\\$IncludeConfig /etc/rsyslog\\.d/.*|include(file=\"$1\")|" /etc/rsyslog.conf >"$2"
}

# make_relay_key FILE: writes a fresh relay key (64 hex digits, mode 0600) to FILE.
make_relay_key() {
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1")
}

# line_value PREFIX FILE KEY: KEY=N of the last line of FILE that starts with PREFIX (0 if none).
line_value() {
    local v
    v=$(grep "^$1" "$2" 2>/dev/null | tail -n1 | grep -o " $3=[0-9]*" | head -n1 | cut -d= -f2)
    printf '%s' "${v:-0}"
}
# relay_listener_value FILE KEY: KEY=N of a central's last `vigil: relay listener` line.
relay_listener_value() { line_value 'vigil: relay listener ' "$@"; }
# relay_sender_value FILE KEY: KEY=N of an edge's last `vigil: relay syslog+…` line.
relay_sender_value() { line_value 'vigil: relay syslog+' "$@"; }

# rsyslog_hash64mod N: reads one key a line on stdin and prints "KEY PARTITION" for each, where
# PARTITION is what rsyslog's fmhash hash64mod(KEY, N) returns. Debian's rsyslog builds fmhash
# without xxhash (fmhash.so links no libxxhash), so hash64 is the "modified Bernstein" hash of
# rsyslog's contrib/fmhash/fmhash.c: h = 5381, then h = (33 * h) ^ c for each byte c as a signed
# char, modulo 2^64; hash64mod is h % N (unsigned), seed 0.
rsyslog_hash64mod() {
    python3 -c '
import sys
n = int(sys.argv[1])
for line in sys.stdin.buffer:
    key = line.rstrip(b"\n")
    h = 5381
    for c in key:
        if c >= 128:
            c -= 256
        h = ((33 * h) ^ (c & 0xFFFFFFFFFFFFFFFF)) & 0xFFFFFFFFFFFFFFFF
    sys.stdout.buffer.write(key + b" %d\n" % (h % n))
' "$1"
}
