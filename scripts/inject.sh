#!/usr/bin/env bash
# Sends every captured sample frame (Tests/Fixtures/samples) to a running vigil, for trying it by
# hand: each *.tcp file over one TCP connection with nc, each datagram of each *.udp file over UDP.
#
#   scripts/inject.sh HOST PORT [UDP_PORT]      e.g.  scripts/inject.sh 127.0.0.1 5514
#
# UDP_PORT defaults to PORT (vigil listens on both protocols at 5514 by default).
# Then look at DATA/hosts/*/ (vm, edge-tcp-forward, edge-udp-proto23, ...).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
SAMPLES=$ROOT/Tests/Fixtures/samples

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 HOST PORT [UDP_PORT]" >&2
    exit 2
fi
HOST=$1
TCP_PORT=$2
UDP_PORT=${3:-$2}
for p in "$TCP_PORT" "$UDP_PORT"; do
    if ! [[ $p =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
        echo "bad port: $p" >&2
        exit 2
    fi
done
command -v nc >/dev/null || die "nc is missing (apt-get install netcat-openbsd)"

frames=0
for f in "$SAMPLES"/*.tcp; do
    send_tcp_file "$HOST" "$TCP_PORT" "$f" || die "could not send $(basename "$f") to $HOST:$TCP_PORT (tcp)"
    echo "tcp $HOST:$TCP_PORT  $(basename "$f")  $(wc -c <"$f") bytes"
done
for f in "$SAMPLES"/*.udp; do
    send_udp_file "$HOST" "$UDP_PORT" "$f" || die "could not send $(basename "$f") to $HOST:$UDP_PORT (udp)"
    n=$(grep -c '' "$f.len")
    frames=$((frames + n))
    echo "udp $HOST:$UDP_PORT  $(basename "$f")  $n datagrams"
done
echo "done: every sample sent ($frames UDP datagrams)"
