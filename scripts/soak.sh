#!/usr/bin/env bash
# A soak of `vigil serve`: scripts/soak.sh MINUTES (1 to 240). Run as root (it mounts a tmpfs).
#
# For MINUTES, scripts/soak/traffic.py sends mixed traffic on loopback: realistic sshd and nginx
# lines over TCP (octet-counted and LF-framed), UDP datagrams, 1,000 connections opened every
# 30 s, hostile frames every 2 s, and a brute force from a new address every 15 s (so alerts
# fire and resolve throughout). Meanwhile, every 5 minutes:
#   +1:00  the webhook sink's receiver goes down for 60 s (alerts spool, then are delivered);
#   +2:30  the disk fills (the data directory's tmpfs is filled for 30 s): TCP is pushed back;
#   +3:30  SIGHUP with a changed configuration (a rule's threshold);
#   +4:30  the day files are renamed away (logrotate) and SIGHUP reopens them.
# Every 10 s it samples vigil's resident memory, open descriptors, CPU and counters into
# .build/soak/soak.csv; at the end it draws .build/soak/soak.png (gnuplot) and checks that every
# TCP message sent is stored (and how many datagrams were), and that the webhook got every alert.
# Exit status 1 when a TCP message or an alert is missing or vigil did not exit 0 on SIGTERM.
# Environment: SOAK_RATE (octet-counted TCP messages per second, default 1000; LF-framed half,
# UDP a fifth), SOAK_NO_BUILD=1, SOAK_PNG (where to copy the plot, e.g. docs/soak.png).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

MINUTES=${1:-}
[[ $MINUTES =~ ^[0-9]+$ ]] && [ "$MINUTES" -ge 1 ] && [ "$MINUTES" -le 240 ] || die "usage: scripts/soak.sh MINUTES (1 to 240)"
RATE=${SOAK_RATE:-1000}
[ "$(id -u)" = 0 ] || die "run as root: the soak mounts a tmpfs to fill the disk"
ensure_command gnuplot gnuplot-nox
ensure_command python3 python3
if [ "${SOAK_NO_BUILD:-0}" = 1 ]; then
    BIN_DIR=$(cd "$ROOT" && swift build -c release --show-bin-path)
else
    build_release "$ROOT"
fi
VIGIL=$BIN_DIR/vigil

OUT=$ROOT/.build/soak
TMPFS=$OUT/tmpfs
[ -d "$TMPFS" ] && umount "$TMPFS" 2>/dev/null || true
rm -rf "$OUT"
mkdir -p "$TMPFS"
mount -t tmpfs -o size=2g vigil-soak "$TMPFS"
DATA=$TMPFS/data
CSV=$OUT/soak.csv
VIGIL_PID= HOOK_PID= TRAFFIC_PID=
cleanup() {
    local pid
    for pid in "$TRAFFIC_PID" "$HOOK_PID" "$VIGIL_PID"; do
        # `|| true`: a killed child's status must not become the script's (set -e in a trap).
        [ -n "$pid" ] && { kill -KILL "$pid"; wait "$pid"; } 2>/dev/null || true
    done
    umount "$TMPFS" 2>/dev/null || true
}
trap cleanup EXIT

HOOK_PORT=$(free_port)
start_hook() {
    python3 "$ROOT/scripts/soak/webhook.py" "$HOOK_PORT" "$OUT/webhook.count" &
    HOOK_PID=$!
    wait_for 10 tcp_listening "$HOOK_PORT" || die "the webhook receiver did not start"
}
start_hook
write_config() {
    cat >"$OUT/vigil.conf" <<EOF
[server]
stats_interval = "10s"
[rule.ssh_bruteforce]
threshold = $1
[rule.http_high_traffic]
threshold = 50
[sink.hook]
url = "http://127.0.0.1:$HOOK_PORT/alerts"
EOF
}
write_config 5
start_vigil "$DATA" "$OUT/vigil.stderr" --config "$OUT/vigil.conf" || die "vigil did not start"
PORT=$VIGIL_TCP_PORT
say "soak: $MINUTES min, $RATE TCP msgs/s, vigil pid $VIGIL_PID, data on a tmpfs, webhook on $HOOK_PORT"

UDP_PORT=$VIGIL_UDP_PORT
SECONDS_TOTAL=$((MINUTES * 60))
python3 "$ROOT/scripts/soak/traffic.py" "$PORT" "$RATE" "$SECONDS_TOTAL" "$UDP_PORT" >"$OUT/traffic.json" 2>"$OUT/traffic.err" &
TRAFFIC_PID=$!

echo "seconds,rss_mib,fds,cpu_percent,received,lost,store_errors,frames_cut,connections,event" >"$CSV"
start=$(now_us)
last_ticks=$(cpu_ticks "$VIGIL_PID")
last_us=$start
event=start
threshold=5
next_sample=10
reloaded=-1
rotated=-1
while kill -0 "$TRAFFIC_PID" 2>/dev/null; do
    elapsed=$((($(now_us) - start) / 1000000))
    phase=$((elapsed % 300))
    if [ "$phase" -ge 60 ] && [ "$phase" -lt 120 ] && [ -n "$HOOK_PID" ]; then
        kill -KILL "$HOOK_PID"; wait "$HOOK_PID" 2>/dev/null || true; HOOK_PID=; event=sink-down
    elif [ "$phase" -ge 120 ] && [ -z "$HOOK_PID" ]; then
        start_hook; event=sink-up
    fi
    if [ "$phase" -ge 150 ] && [ "$phase" -lt 180 ] && [ ! -e "$TMPFS/filler" ]; then
        # Fill what is free, leaving nothing for vigil's next write.
        free_kib=$(df -k --output=avail "$TMPFS" | tail -n1)
        fallocate -l "$((free_kib * 1024))" "$TMPFS/filler" 2>/dev/null || dd if=/dev/zero of="$TMPFS/filler" bs=1M status=none 2>/dev/null || true
        event=disk-full
    elif [ "$phase" -ge 180 ] && [ -e "$TMPFS/filler" ]; then
        rm -f "$TMPFS/filler"; event=disk-room
    fi
    cycle=$((elapsed / 300))
    if [ "$phase" -ge 210 ] && [ "$reloaded" != "$cycle" ]; then
        threshold=$((threshold == 5 ? 6 : 5)); write_config "$threshold"; kill -HUP "$VIGIL_PID"; event=reload; reloaded=$cycle
    fi
    if [ "$phase" -ge 270 ] && [ "$rotated" != "$cycle" ]; then
        for f in "$DATA"/hosts/*/*.log; do [ -e "$f" ] && mv "$f" "$f.$elapsed"; done
        kill -HUP "$VIGIL_PID"; event=rotate; rotated=$cycle
    fi
    if [ "$elapsed" -ge "$next_sample" ]; then
        now=$(now_us)
        ticks=$(cpu_ticks "$VIGIL_PID")
        cpu=$(((ticks - last_ticks) * 100 * 1000000 / 100 / (now - last_us)))
        last_ticks=$ticks; last_us=$now
        rss=$(($(rss_kib "$VIGIL_PID") / 1024))
        fds=$(ls "/proc/$VIGIL_PID/fd" | wc -l)
        printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$elapsed" "$rss" "$fds" "$cpu" "$(stat_value "$OUT/vigil.stderr" received)" \
            "$(stat_value "$OUT/vigil.stderr" lost)" "$(stat_value "$OUT/vigil.stderr" store_errors)" \
            "$(stat_value "$OUT/vigil.stderr" frames_cut)" "$(stat_value "$OUT/vigil.stderr" connections)" "$event" >>"$CSV"
        event=
        next_sample=$((next_sample + 10))
    fi
    sleep 1  # the sampler's own pace: one look a second at the schedule above
done
wait "$TRAFFIC_PID" || die "the traffic generator failed: $(cat "$OUT/traffic.err")"
TRAFFIC_PID=
[ -e "$TMPFS/filler" ] && rm -f "$TMPFS/filler"
[ -z "$HOOK_PID" ] && start_hook
# Let vigil catch up with what the senders' kernels still hold (pushed back during the last full
# disk) and write it (a blocked store retries within 8 s): until the stats line (every 10 s) has
# shown nothing new for 15 s.
_settled() {
    local now_received
    now_received=$(stat_value "$OUT/vigil.stderr" received)
    if [ "$now_received" != "${SETTLE_LAST:-}" ]; then SETTLE_LAST=$now_received; SETTLE_SINCE=$(now_us); return 1; fi
    [ $(($(now_us) - SETTLE_SINCE)) -ge 15000000 ] && ! tail -n 3 "$OUT/vigil.stderr" | grep -q 'store: cannot write'
}
wait_for 120 _settled || say "soak: vigil was still receiving after 120 s; stopping it anyway"
stop_pid "$VIGIL_PID" 30
rc=$?
VIGIL_PID=

sent=$(cat "$OUT/traffic.json")
count_stored() { cat "$DATA"/hosts/*/* 2>/dev/null | grep -c -- "soak-$1-" || true; }
status=0
summary="minutes=$MINUTES exit=$rc"
for kind in tcp lf churn attack udp; do
    want=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['$kind'])" "$sent")
    got=$(count_stored "$kind")
    summary="$summary $kind=$got/$want"
    if [ "$kind" != udp ] && [ "$got" != "$want" ]; then status=1; fi
done
rss_first=$(sed -n '2p' "$CSV" | cut -d, -f2)
rss_max=$(tail -n +2 "$CSV" | cut -d, -f2 | sort -n | tail -n1)
rss_last=$(tail -n1 "$CSV" | cut -d, -f2)
fds_max=$(tail -n +2 "$CSV" | cut -d, -f3 | sort -n | tail -n1)
summary="$summary rss_mib=$rss_first..$rss_max..$rss_last fds_max=$fds_max datagrams_lost_by_vigil=$(stat_value "$OUT/vigil.stderr" lost)"
# Every alert went to the webhook: the sink's last stats line shows nothing dropped or waiting, and
# the receiver counted at least what vigil delivered (at least once: a retry may repeat one).
hook_line=$(grep 'sink hook ' "$OUT/vigil.stderr" | tail -n1)
hook_stat() { printf '%s' "$hook_line" | grep -o " $1=[0-9]*" | cut -d= -f2; }
delivered=$(hook_stat delivered) dropped=$(hook_stat dropped) spooled=$(hook_stat spooled)
waiting=$(($(hook_stat queued) + $(hook_stat spool_pending)))
received=$(cat "$OUT/webhook.count" 2>/dev/null || echo 0)
summary="$summary alerts_delivered=$delivered alerts_spooled=$spooled alerts_dropped=$dropped alerts_waiting=$waiting webhook_received=$received"
[ "$dropped" = 0 ] && [ "$waiting" = 0 ] && [ "$delivered" -gt 0 ] && [ "$received" -ge "$delivered" ] || status=1
[ "$rc" = 0 ] || status=1

gnuplot <<EOF
set terminal pngcairo size 1000,650 font ",10"
set output "$OUT/soak.png"
set datafile separator ","
set multiplot layout 2,1 title "vigil serve, $MINUTES-minute soak ($RATE + $((RATE / 2)) TCP and $((RATE / 5)) UDP msgs/s, 1,000-connection churn, hostile frames;\nevery 5 minutes: a sink outage, a full disk, a reload, a rotation)"
set xlabel "minutes"
set ylabel "resident memory (MiB)"
set y2label "open descriptors"
set ytics nomirror
set y2tics
set yrange [0:$((rss_max * 3 / 2 + 1))]
set y2range [0:*]
set key top left
plot "$CSV" using (\$1/60):2 axes x1y1 with lines lw 2 title "resident memory (MiB)", "$CSV" using (\$1/60):3 axes x1y2 with lines title "open descriptors"
unset y2label
unset y2tics
set ytics mirror
set yrange [0:*]
set ylabel "count since start"
plot "$CSV" using (\$1/60):6 with lines lw 2 title "datagrams lost (vigil's count)", "$CSV" using (\$1/60):8 with lines title "partial frames cut", "$CSV" using (\$1/60):7 with lines title "failed store writes (retried)"
unset multiplot
EOF
[ -n "${SOAK_PNG:-}" ] && cp "$OUT/soak.png" "$SOAK_PNG"
printf 'soak: %s\n' "$summary"
printf 'soak: samples in %s, plot in %s\n' "$CSV" "$OUT/soak.png"
exit $status
