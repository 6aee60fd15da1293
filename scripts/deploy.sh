#!/usr/bin/env bash
# Deploys vigil to many hosts over ssh: copies the binary, the systemd unit and (optionally) the
# config, installs them, reloads systemd and restarts the service, then checks it is active.
#
#   scripts/deploy.sh --hosts FILE [--binary PATH] [--unit PATH] [--config PATH]
#                     [--user USER] [--parallel N] [--dry-run]
#
# FILE: one host per line, `host` or `user@host` (ports and other options go in ~/.ssh/config);
# blank lines and `#` comments are ignored. The remote user needs passwordless sudo.
# --dry-run prints every command instead of running it. Exit status 1 if any host failed.
# Never run by the tests.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2
    exit 2
}

HOSTS_FILE=
BINARY=$ROOT/.build/release/vigil
UNIT=$ROOT/conf/vigil.service
CONFIG=
SSH_USER=
PARALLEL=4
DRY_RUN=0

while [ $# -gt 0 ]; do
    case $1 in
        --hosts) HOSTS_FILE=${2:?--hosts needs a file}; shift 2 ;;
        --binary) BINARY=${2:?--binary needs a path}; shift 2 ;;
        --unit) UNIT=${2:?--unit needs a path}; shift 2 ;;
        --config) CONFIG=${2:?--config needs a path}; shift 2 ;;
        --user) SSH_USER=${2:?--user needs a name}; shift 2 ;;
        --parallel) PARALLEL=${2:?--parallel needs a number}; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h | --help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done

[ -n "$HOSTS_FILE" ] || usage
[ -r "$HOSTS_FILE" ] || { echo "cannot read hosts file $HOSTS_FILE" >&2; exit 2; }
[[ $PARALLEL =~ ^[1-9][0-9]*$ ]] || { echo "--parallel must be a positive number" >&2; exit 2; }
for f in "$BINARY" "$UNIT" ${CONFIG:+"$CONFIG"}; do
    if [ ! -r "$f" ]; then
        if [ "$DRY_RUN" = 1 ]; then
            echo "# warning: $f does not exist (build with: swift build -c release)" >&2
        else
            echo "missing $f (build the binary with: swift build -c release)" >&2
            exit 2
        fi
    fi
done

HOSTS=()
while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [ -n "$line" ] || continue
    if ! [[ $line =~ ^([A-Za-z0-9._-]+@)?[A-Za-z0-9._-]+$ ]] || [[ $line == -* ]]; then
        echo "bad host entry: '$line'" >&2
        exit 2
    fi
    HOSTS+=("$line")
done <"$HOSTS_FILE"
[ ${#HOSTS[@]} -gt 0 ] || { echo "no hosts in $HOSTS_FILE" >&2; exit 2; }

SSH_OPTS=(-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=10 -o ServerAliveCountMax=3)

# run CMD...: runs CMD, or prints it under --dry-run.
run() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '%q ' "$@"
        printf '\n'
    else
        "$@"
    fi
}

# deploy_one HOST: the whole sequence for one host; output prefixed with the host name.
deploy_one() {
    local host=$1 dest=$1 stage
    [ -n "$SSH_USER" ] && [[ $host != *@* ]] && dest="$SSH_USER@$host"
    stage="/tmp/vigil-deploy.$$"
    local remote="set -e
trap 'rm -rf $stage' EXIT"
    if [ -n "$CONFIG" ]; then
        # Validate the new config with the new binary before touching anything.
        remote+="
$stage/vigil check-config $stage/vigil.conf"
    fi
    remote+="
sudo install -d -m 0755 /etc/vigil
sudo install -m 0755 $stage/vigil /usr/local/bin/vigil.new
sudo mv -f /usr/local/bin/vigil.new /usr/local/bin/vigil
sudo install -m 0644 $stage/vigil.service /etc/systemd/system/vigil.service"
    if [ -n "$CONFIG" ]; then
        remote+="
sudo install -m 0644 $stage/vigil.conf /etc/vigil/vigil.conf"
    fi
    remote+="
sudo systemctl daemon-reload
sudo systemctl enable vigil.service >/dev/null
sudo systemctl restart vigil.service
sleep 2
systemctl is-active --quiet vigil.service || { sudo journalctl -u vigil.service -n 20 --no-pager; exit 1; }"
    local files=("$BINARY" "$UNIT")
    [ -n "$CONFIG" ] && files+=("$CONFIG")
    {
        run ssh "${SSH_OPTS[@]}" "$dest" "mkdir -m 0700 $stage" \
            && run scp -q "${SSH_OPTS[@]}" "${files[@]}" "$dest:$stage/" \
            && run ssh "${SSH_OPTS[@]}" "$dest" "$remote"
    } 2>&1 | sed "s/^/[$host] /"
    return "${PIPESTATUS[0]}"
}

say_mode() { [ "$DRY_RUN" = 1 ] && echo "# dry run: nothing is executed"; return 0; }
say_mode
echo "deploying to ${#HOSTS[@]} host(s), $PARALLEL at a time"

RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT
running=0
for host in "${HOSTS[@]}"; do
    if [ "$DRY_RUN" = 1 ]; then
        # Sequential so the printed commands read in order.
        if deploy_one "$host"; then touch "$RESULTS/ok.$host"; else touch "$RESULTS/failed.$host"; fi
        continue
    fi
    (if deploy_one "$host"; then touch "$RESULTS/ok.$host"; else touch "$RESULTS/failed.$host"; fi) &
    running=$((running + 1))
    if [ "$running" -ge "$PARALLEL" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

ok=$(find "$RESULTS" -name 'ok.*' | wc -l)
if [ "$DRY_RUN" = 1 ]; then
    echo "dry run: commands printed for $ok host(s)"
    exit 0
fi
failed=$(find "$RESULTS" -name 'failed.*' | sed 's|.*/failed\.||' | sort | tr '\n' ' ')
echo "deployed: $ok ok, $(( ${#HOSTS[@]} - ok )) failed${failed:+ ($failed)}"
[ "$ok" = "${#HOSTS[@]}" ]
