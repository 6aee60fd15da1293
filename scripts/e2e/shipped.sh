# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, expect, host_count, WORK, VIGIL, RUN, DATA,
# HOST_FULL, EXTRA_PIDS, RSYSLOG_PID, NGINX_PID): the forwarding configs vigil ships in conf/, each
# checked by the program it is written for, then run by it against one `vigil serve`:
#   - conf/rsyslog-forward.conf (TCP, octet-counted) and conf/rsyslog-forward-udp.conf: accepted by
#     `rsyslogd -N1` inside this machine's /etc/rsyslog.conf and inside a private config; a private
#     rsyslogd (imuxsock on a private socket, spool in $WORK) fed by `logger -u` forwards through
#     each, and the lines are stored under the input's host; a message with a raw LF inside
#     (control-character escaping off) stays one stored message; for TCP, an outage: vigil
#     stopped, messages logged, rsyslogd restarted (queue to the spool and back), vigil started;
#   - conf/syslog-ng-forward.conf: Debian's syslog-ng-core unpacked (never installed: that would
#     remove rsyslog), `syslog-ng --syntax-only`, then a real run from a private unix-dgram socket,
#     and the same outage (the messages wait in the reliable disk buffer);
#   - conf/nginx-syslog.conf: `nginx -t` with the file included in http {}, then a real request:
#     its access line is stored under this host, recognised as HTTP (its section in the stats
#     block), and the http-level access.log still gets it once.
# Each shipped file is edited only where its comments tell an operator to (the collector's name
# and port), by ship_edit; the syslog-ng disk buffer's dir() also moves into $WORK. Every process
# is private (own sockets, pid and spool files under $WORK) and talks on loopback only.

SHIP=$WORK/shipped
mkdir -p "$SHIP"
ensure_command rsyslogd rsyslog
ensure_command logger bsdutils
ensure_command nginx nginx-light
ensure_command curl curl
# syslog-ng is unpacked once per machine, outside $WORK.
SHIP_TOOLS=${E2E_TOOLS:-$ROOT/.build/e2e-tools}
SHIP_DATA=$SHIP/data
SHIP_OUT=$SHIP/vigil.stdout

# ship_stop NAME PID: stops PID (SIGTERM, 10 s) and fails NAME unless it exits 0.
ship_stop() {
    local rc=0
    stop_pid "$2" 10 || rc=$?
    [ "$rc" = 0 ] || fail "$1 exits 0 on SIGTERM" "exit status $rc"
}

DATA_SAVED=$DATA
DATA=$SHIP_DATA
if VIGIL_STDOUT=$SHIP_OUT start_vigil "$SHIP_DATA" "$SHIP/vigil.stderr" --stats-interval 1s; then
    SHIP_PID=$VIGIL_PID
    EXTRA_PIDS+=("$SHIP_PID")
    SHIP_TCP=$VIGIL_TCP_PORT
    SHIP_UDP=$VIGIL_UDP_PORT
    pass "vigil serve starts for the shipped configs (tcp $SHIP_TCP, udp $SHIP_UDP)"
else
    fail "vigil serve starts for the shipped configs"
    SHIP_PID=
fi
SHIP_RESTARTS=0

# ship_vigil_stop: stops vigil (SIGTERM), as an upgrade would; false if it did not exit 0.
ship_vigil_stop() {
    local rc=0
    stop_pid "$SHIP_PID" 15 || rc=$?
    SHIP_PID=
    [ "$rc" = 0 ] || { fail "vigil serve (shipped configs) exits 0 on SIGTERM" "exit status $rc"; return 1; }
}

# ship_vigil_start: starts vigil again on the same data directory and the same ports (besides
# the ephemeral ones start_vigil asks for); false if it does not come up.
ship_vigil_start() {
    SHIP_RESTARTS=$((SHIP_RESTARTS + 1))
    if VIGIL_STDOUT=$SHIP_OUT start_vigil "$SHIP_DATA" "$SHIP/vigil-$SHIP_RESTARTS.stderr" --stats-interval 1s \
        --tcp "127.0.0.1:$SHIP_TCP" --udp "127.0.0.1:$SHIP_UDP"; then
        SHIP_PID=$VIGIL_PID
        EXTRA_PIDS+=("$SHIP_PID")
    else
        fail "vigil serve restarts on 127.0.0.1:$SHIP_TCP (tcp) and :$SHIP_UDP (udp)"
        return 1
    fi
}

# _ship_section SECTION: true once a stats block on vigil's stdout lists SECTION in its top sections.
_ship_section() { grep -F '  top sections: ' "$SHIP_OUT" | grep -qF -- " $1 "; }

# _ship_seen FILE TEXT N: true once FILE has N lines with TEXT.
_ship_seen() { [ "$(grep -cF -- "$2" "$1" 2>/dev/null)" -ge "$3" ]; }

# --- rsyslog: TCP octet-counted with a disk-assisted queue, and UDP

# ship_rsyslog NAME FILE PORT [outage]: checks and runs the shipped rsyslog snippet FILE; with
# `outage`, then stops vigil, logs, restarts rsyslogd (its queue goes to the spool and back) and
# vigil, and checks what arrives.
ship_rsyslog() {
    local name=$1 file=$2 port=$3 outage=${4:-} dir=$SHIP/$1 host=shipped-$1 out i got first
    mkdir -p "$dir/spool"
    if ! ship_edit "$ROOT/conf/$file" "$dir/60-vigil.conf" \
        'target="vigil.example.net"' 'target="127.0.0.1"' 'port="5514"' "port=\"$port\""; then
        fail "conf/$file: the target and port lines an operator edits" "$SHIP_WHY"
        return
    fi
    # As installed: this machine's rsyslog.conf, its include of /etc/rsyslog.d/ pointing at the file.
    if system_rsyslog_conf "$dir/60-vigil.conf" "$dir/system.conf"; then
        if out=$(rsyslogd -N1 -f "$dir/system.conf" 2>&1); then
            pass "conf/$file: rsyslogd -N1 accepts it inside /etc/rsyslog.conf"
        else
            fail "conf/$file: rsyslogd -N1 accepts it inside /etc/rsyslog.conf" "$out"
        fi
    fi
    # The private rsyslogd: no system socket, one input whose messages carry the host name $host.
    # Control characters are passed raw (rsyslog escapes them by default) so that an LF inside a
    # message reaches the wire and the framing has to carry it.
    cat >"$dir/rsyslog.conf" <<EOF
# Private rsyslogd for scripts/e2e/shipped.sh: the shipped snippet's action, fed by logger -u.
global(workDirectory="$dir/spool" parser.escapeControlCharactersOnReceive="off")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$dir/log.sock" HostName="$host")
include(file="$dir/60-vigil.conf")
# After the shipped action: once a message is here, it is in that action's queue too.
action(type="omfile" file="$dir/seen.log")
EOF
    if out=$(rsyslogd -N1 -f "$dir/rsyslog.conf" 2>&1); then
        pass "conf/$file: rsyslogd -N1 accepts it inside a private config"
    else
        fail "conf/$file: rsyslogd -N1 accepts it inside a private config" "$out"
        return
    fi
    if ! start_rsyslogd "$dir/rsyslog.conf" "$dir" || ! wait_for 10 test -S "$dir/log.sock"; then
        fail "conf/$file: a private rsyslogd starts with it" "$(cat "$dir/rsyslogd.out" 2>/dev/null)"
        [ -n "$RSYSLOG_PID" ] && stop_pid "$RSYSLOG_PID" 2
        RSYSLOG_PID=
        return
    fi
    for i in 1 2 3; do
        logger -u "$dir/log.sock" -t shipped "$name $RUN #$i"
    done
    logger -u "$dir/log.sock" -t shipped "$name-lf $RUN first"$'\n'"second"
    expect "conf/$file: rsyslogd forwards through it to vigil (hosts/$host)" "$host" "$name $RUN #" 3
    expect "conf/$file: a message with an LF inside is one stored message" "$host" "$name-lf $RUN first#012second" 1
    if [ "$outage" = outage ]; then
        ship_rsyslog_outage || return
    fi
    ship_stop "conf/$file: the private rsyslogd" "$RSYSLOG_PID"
    RSYSLOG_PID=
    # Anything rsyslogd said about the snippet (queue, spool, action) while it ran is a finding
    # (but for what an outage makes it say, left out above).
    if cat -- "$dir"/rsyslogd*.out | grep -iE 'error|warning' >/dev/null; then
        fail "conf/$file: rsyslogd ran it without an error or warning" "$(cat -- "$dir"/rsyslogd*.out | grep -iE 'error|warning' | head -n3)"
    else
        pass "conf/$file: rsyslogd ran it without an error or warning"
    fi
}

# ship_log_while_down SOCKET SEEN TEXT WHAT: stops vigil, logs three messages "TEXT #1..3" to
# the shipper's SOCKET and waits until its SEEN file shows it took them; WHAT names the shipper in
# the failure line.
ship_log_while_down() {
    local i
    ship_vigil_stop || return 1
    for i in 1 2 3; do
        logger -u "$1" -t shipped "$3 #$i"
    done
    if ! wait_for 10 _ship_seen "$2" "$3 #" 3; then
        fail "$4 takes three messages while vigil is down" "seen.log: $(tail -n 3 "$2" 2>/dev/null)"
        return 1
    fi
}

# ship_rsyslog_outage (from ship_rsyslog, whose locals it uses): vigil stopped, three messages
# logged, rsyslogd restarted (the queue saved to the spool and read back), vigil started again.
# Plain TCP has no acknowledgement: the first message rsyslogd sends after vigil closed the
# connection goes into the dead connection and is lost (docs/forwarding.md); the rest must arrive.
ship_rsyslog_outage() {
    local before
    # What rsyslogd says about the outage (closed connection, refused, queue spooled) is expected;
    # what it said before is checked by the caller.
    before=$(grep -c '' "$dir/rsyslogd.out")
    ship_log_while_down "$dir/log.sock" "$dir/seen.log" "$name-outage $RUN" "conf/$file: rsyslogd" || return 1
    ship_stop "conf/$file: the private rsyslogd, vigil down," "$RSYSLOG_PID"
    RSYSLOG_PID=
    # start_rsyslogd below starts rsyslogd.out afresh; this run's output up to the outage is
    # checked at the end too.
    mv -- "$dir/rsyslogd.out" "$dir/rsyslogd-outage.log"
    head -n "$before" "$dir/rsyslogd-outage.log" >"$dir/rsyslogd-1.out"
    if [ -f "$dir/spool/fwd_vigil.qi" ]; then
        pass "conf/$file: rsyslogd saves its queue in the spool on shutdown while vigil is down"
    else
        fail "conf/$file: rsyslogd saves its queue in the spool on shutdown while vigil is down" \
            "spool: $(find "$dir/spool" -mindepth 1 -printf '%f ')"
    fi
    ship_vigil_start || return 1
    if ! start_rsyslogd "$dir/rsyslog.conf" "$dir" || ! wait_for 10 test -S "$dir/log.sock"; then
        fail "conf/$file: the private rsyslogd starts again" "$(cat "$dir/rsyslogd.out" 2>/dev/null)"
        return 1
    fi
    wait_for 15 _count_reached "$host" "$name-outage $RUN #" 2
    got=$(host_count "$host" "$name-outage $RUN #")
    first=$(host_count "$host" "$name-outage $RUN #1")
    if [ "$(host_count "$host" "$name-outage $RUN #2")" = 1 ] && [ "$(host_count "$host" "$name-outage $RUN #3")" = 1 ] \
        && [ "$first" -le 1 ]; then
        if [ "$first" = 1 ]; then first="none lost"; else first="the first one lost in the closed connection, as plain TCP does"; fi
        pass "conf/$file: messages logged while vigil was down arrive after rsyslogd and vigil restart ($first)"
    else
        fail "conf/$file: messages logged while vigil was down arrive after rsyslogd and vigil restart" \
            "expected #2 and #3 once each (and #1 at most once) in hosts/$host; found $got: $(grep -hF -- "$name-outage $RUN" "$SHIP_DATA/hosts/$host"/*.log | tr '\n' ' ')"
    fi
}

if [ -n "$SHIP_PID" ]; then
    ship_rsyslog rsyslog-tcp rsyslog-forward.conf "$SHIP_TCP" outage
fi
if [ -n "$SHIP_PID" ]; then
    ship_rsyslog rsyslog-udp rsyslog-forward-udp.conf "$SHIP_UDP"
fi

# --- syslog-ng: Debian's syslog-ng-core unpacked beside its missing libraries, never installed

SNG_ROOT=$SHIP_TOOLS/syslog-ng
SNG=$SHIP/syslog-ng
SNG_HOST=shipped-syslog-ng
mkdir -p "$SNG/buffer"
# sng ARGS...: Debian's syslog-ng from the unpacked tree (libraries and modules from there).
# It execs: call it in the background (`sng ... &`: $! is then syslog-ng itself, for stop_pid and
# cleanup) or in a subshell, never in this shell.
sng() {
    local libs=$SNG_ROOT/usr/lib/syslog-ng d
    # The multiarch directories (x86_64-linux-gnu, aarch64-linux-gnu, ...) the .debs put libraries in.
    for d in "$SNG_ROOT"/usr/lib/*-linux-gnu* "$SNG_ROOT"/lib/*-linux-gnu*; do
        [ -d "$d" ] && libs=$libs:$d
    done
    LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        exec "$SNG_ROOT/usr/sbin/syslog-ng" --module-path="$SNG_MODULES" "$@"
}
SNG_OK=0
if [ -z "$SHIP_PID" ]; then
    :
elif ! extract_package syslog-ng-core "$SNG_ROOT"; then
    fail "syslog-ng-core and its libraries unpacked from their .debs" "apt-get download or dpkg-deb failed (see above)"
elif ! SNG_MODULES=$(find "$SNG_ROOT/usr/lib/syslog-ng" -mindepth 1 -maxdepth 1 -type d -name '[0-9]*' | head -n1) \
    || [ -z "$SNG_MODULES" ] || ! SNG_VERSION=$(sng --version 2>&1 | sed -n 's/^Installer-Version: //p') \
    || [ -z "$SNG_VERSION" ]; then
    fail "the unpacked syslog-ng runs" "$(sng --version 2>&1 | head -n3) (remove $SNG_ROOT to unpack it again)"
elif ! ship_edit "$ROOT/conf/syslog-ng-forward.conf" "$SNG/vigil.conf" \
    '"vigil.example.net"' '"127.0.0.1"' 'port(5514)' "port($SHIP_TCP)" \
    'dir("/var/lib/syslog-ng")' "dir(\"$SNG/buffer\")"; then
    fail "conf/syslog-ng-forward.conf: the collector and port lines an operator edits" "$SHIP_WHY"
else
    # Debian's syslog-ng.conf defines the source s_src and includes conf.d/ at its end; here s_src
    # is a private socket whose messages carry the host name $SNG_HOST.
    cat >"$SNG/syslog-ng.conf" <<EOF
@version: ${SNG_VERSION%.*}
# Private syslog-ng for scripts/e2e/shipped.sh: the shipped destination, fed by logger -u.
options { chain_hostnames(off); use_dns(no); dns_cache(no); use_fqdn(no); stats_freq(0); };
source s_src { unix-dgram("$SNG/log.sock" host-override("$SNG_HOST")); };
@include "$SNG/vigil.conf"
# After the shipped log path: once a message is here, it is in d_vigil's disk buffer too.
destination d_seen { file("$SNG/seen.log"); };
log { source(s_src); destination(d_seen); };
EOF
    if (sng --syntax-only -f "$SNG/syslog-ng.conf") >"$SHIP/syslog-ng-syntax.stderr" 2>&1; then
        pass "conf/syslog-ng-forward.conf: syslog-ng $SNG_VERSION --syntax-only accepts it"
        SNG_OK=1
    else
        # Its first line says what is wrong; the rest (the file around it) is in the dump.
        fail "conf/syslog-ng-forward.conf: syslog-ng $SNG_VERSION --syntax-only accepts it" \
            "$(head -n1 "$SHIP/syslog-ng-syntax.stderr") (whole output: shipped/syslog-ng-syntax.stderr)"
    fi
    # Its UDP alternative, as an operator switches to it: the TCP destination block out, the
    # commented UDP destination in.
    awk '/^destination d_vigil \{$/ { skip = 1 } skip { if (/^};$/) skip = 0; next }
         /^#   destination d_vigil \{ syslog\(.*transport\("udp"\)\); \};$/ { sub(/^#   /, ""); n++ }
         { print } END { exit n != 1 }' "$SNG/vigil.conf" >"$SNG/vigil-udp.conf"
    udp_ok=$?
    sed "s|$SNG/vigil.conf|$SNG/vigil-udp.conf|" "$SNG/syslog-ng.conf" >"$SNG/syslog-ng-udp.conf"
    if [ "$udp_ok" = 0 ] && (sng --syntax-only -f "$SNG/syslog-ng-udp.conf") >"$SHIP/syslog-ng-udp-syntax.stderr" 2>&1; then
        pass "conf/syslog-ng-forward.conf: syslog-ng --syntax-only accepts its commented UDP alternative in place of the TCP destination"
    elif [ "$udp_ok" != 0 ]; then
        fail "conf/syslog-ng-forward.conf: its commented UDP alternative" "no single '#   destination d_vigil { syslog(... transport(\"udp\")); };' line"
    else
        fail "conf/syslog-ng-forward.conf: syslog-ng --syntax-only accepts its commented UDP alternative in place of the TCP destination" \
            "$(head -n1 "$SHIP/syslog-ng-udp-syntax.stderr") (whole output: shipped/syslog-ng-udp-syntax.stderr)"
    fi
fi
# sng_start: starts the private syslog-ng (its log appended to syslog-ng.stderr) and waits for
# its socket; sets SNG_PID. False, with the failure reported, when it does not come up.
sng_start() {
    sng -F --no-caps -e -f "$SNG/syslog-ng.conf" --control="$SNG/syslog-ng.ctl" \
        --pidfile="$SNG/syslog-ng.pid" --persist-file="$SNG/syslog-ng.persist" 2>>"$SHIP/syslog-ng.stderr" &
    SNG_PID=$!
    EXTRA_PIDS+=("$SNG_PID")
    if wait_for 10 test -S "$SNG/log.sock" && kill -0 "$SNG_PID" 2>/dev/null; then
        return 0
    fi
    fail "conf/syslog-ng-forward.conf: a private syslog-ng starts with it" "$(tail -n 5 "$SHIP/syslog-ng.stderr")"
    stop_pid "$SNG_PID" 2
    return 1
}

# sng_outage: vigil stopped, three messages logged, syslog-ng restarted (they wait in the disk
# buffer), vigil started again: all three must arrive.
sng_outage() {
    local f=conf/syslog-ng-forward.conf
    ship_log_while_down "$SNG/log.sock" "$SNG/seen.log" "syslog-ng-outage $RUN" "$f: syslog-ng" || return 1
    ship_stop "$f: the private syslog-ng, vigil down," "$SNG_PID"
    ship_vigil_start || return 1
    sng_start || return 1
    wait_for 15 _count_reached "$SNG_HOST" "syslog-ng-outage $RUN #" 3
    if [ "$(host_count "$SNG_HOST" "syslog-ng-outage $RUN #1")" = 1 ] && [ "$(host_count "$SNG_HOST" "syslog-ng-outage $RUN #2")" = 1 ] \
        && [ "$(host_count "$SNG_HOST" "syslog-ng-outage $RUN #3")" = 1 ]; then
        pass "$f: messages logged while vigil was down arrive after syslog-ng and vigil restart (none lost)"
    else
        fail "$f: messages logged while vigil was down arrive after syslog-ng and vigil restart" \
            "expected #1, #2 and #3 once each in hosts/$SNG_HOST; found: $(grep -hF -- "syslog-ng-outage $RUN" "$SHIP_DATA/hosts/$SNG_HOST"/*.log | tr '\n' ' ')"
    fi
}

if [ "$SNG_OK" = 1 ] && sng_start; then
    for i in 1 2 3; do
        logger -u "$SNG/log.sock" -t shipped "syslog-ng $RUN #$i"
    done
    logger -u "$SNG/log.sock" -t shipped "syslog-ng-lf $RUN first"$'\n'"second"
    expect "conf/syslog-ng-forward.conf: syslog-ng forwards through it to vigil (hosts/$SNG_HOST)" \
        "$SNG_HOST" "syslog-ng $RUN #" 3
    expect "conf/syslog-ng-forward.conf: a message with an LF inside is one stored message" \
        "$SNG_HOST" "syslog-ng-lf $RUN first#012second" 1
    rqf=$(find "$SNG/buffer" -name '*.rqf' -printf '%f\n' | head -n1)
    if [ -n "$rqf" ]; then
        pass "conf/syslog-ng-forward.conf: the reliable disk buffer is in use ($rqf in its dir())"
    else
        fail "conf/syslog-ng-forward.conf: the reliable disk buffer is in use" "no *.rqf file in its dir()"
    fi
    sng_outage
    if [ -n "$SNG_PID" ] && kill -0 "$SNG_PID" 2>/dev/null; then
        ship_stop "conf/syslog-ng-forward.conf: the private syslog-ng" "$SNG_PID"
    fi
fi

# --- nginx: access_log syslog: (UDP) in http {}

NGS=$SHIP/nginx
if [ -n "$SHIP_PID" ]; then
    mkdir -p "$NGS"
    if ! ship_edit "$ROOT/conf/nginx-syslog.conf" "$NGS/vigil.conf" \
        'server=vigil.example.net:5514' "server=127.0.0.1:$SHIP_UDP"; then
        fail "conf/nginx-syslog.conf: the server= an operator edits" "$SHIP_WHY"
    else
        SHIP_NGINX_PORT=$(free_port)
        # Like Debian's nginx.conf: an http-level access_log, then the include of conf.d/*.conf.
        cat >"$NGS/nginx.conf" <<EOF
# Private nginx for scripts/e2e/shipped.sh: the shipped snippet in http {}, one loopback server.
worker_processes 1;
pid $NGS/nginx.pid;
error_log $NGS/error.log warn;
events { worker_connections 64; }
http {
    access_log $NGS/access.log;
    include $NGS/vigil.conf;
    client_body_temp_path $NGS/client_body;
    proxy_temp_path $NGS/proxy;
    fastcgi_temp_path $NGS/fastcgi;
    uwsgi_temp_path $NGS/uwsgi;
    scgi_temp_path $NGS/scgi;
    server {
        listen 127.0.0.1:$SHIP_NGINX_PORT;
        location / { return 200 "ok\n"; }
    }
}
EOF
        NGINX_VERSION=$(nginx -v 2>&1 | sed -n 's|^nginx version: nginx/||p')
        if out=$(nginx -t -q -p "$NGS" -c "$NGS/nginx.conf" -e "$NGS/error.log" 2>&1); then
            pass "conf/nginx-syslog.conf: nginx $NGINX_VERSION -t accepts it in http {}"
            nginx -p "$NGS" -c "$NGS/nginx.conf" -e "$NGS/error.log" -g 'daemon off;' 2>"$SHIP/nginx.stderr" &
            NGINX_PID=$!
            if wait_for 10 tcp_listening "$SHIP_NGINX_PORT" && kill -0 "$NGINX_PID" 2>/dev/null; then
                section=/shipped-$RUN
                codes=$(timeout 10 curl -s -o /dev/null -w '%{http_code} ' "http://127.0.0.1:$SHIP_NGINX_PORT$section/[1-3]")
                [ "$codes" = "200 200 200 " ] || fail "curl gets 200 from the private nginx" "got: $codes"
                expect "conf/nginx-syslog.conf: nginx's access lines reach vigil (hosts/$HOST_FULL)" \
                    "$HOST_FULL" "\"GET $section/" 3
                # The stats block on stdout lists the sections of the HTTP requests vigil recognised
                # (per interval: the three requests may be split over two blocks).
                if wait_for 5 _ship_section "$section"; then
                    pass "conf/nginx-syslog.conf: vigil recognises them as HTTP requests (section $section in the stats block)"
                else
                    fail "conf/nginx-syslog.conf: vigil recognises them as HTTP requests" \
                        "no section $section in the stats block on stdout: $(tail -n 5 "$SHIP_OUT" | tr '\n' ' ')"
                fi
                n=$(grep -cF -- "\"GET $section/" "$NGS/access.log" 2>/dev/null)
                if [ "$n" = 3 ]; then
                    pass "conf/nginx-syslog.conf: the http-level access.log still gets each request once"
                else
                    fail "conf/nginx-syslog.conf: the http-level access.log still gets each request once" "3 requests, $n lines"
                fi
                ship_stop "conf/nginx-syslog.conf: the private nginx" "$NGINX_PID"
            else
                fail "conf/nginx-syslog.conf: a private nginx starts with it" "$(cat "$SHIP/nginx.stderr" "$NGS/error.log" 2>/dev/null)"
                stop_pid "$NGINX_PID" 3
            fi
            NGINX_PID=
        else
            fail "conf/nginx-syslog.conf: nginx $NGINX_VERSION -t accepts it in http {}" "$out"
        fi
    fi
fi

if [ -n "$SHIP_PID" ]; then
    ship_stop "vigil serve (shipped configs)" "$SHIP_PID"
fi
DATA=$DATA_SAVED
