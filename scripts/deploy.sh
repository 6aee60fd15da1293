#!/usr/bin/env bash
# Deploys vigil to many hosts over ssh, idempotently: the binary, a config, the systemd unit and,
# with --forward, what makes each host forward its logs to a collector; then (re)starts what
# changed and checks it is healthy.
#
#   scripts/deploy.sh HOSTS_FILE [--dry-run] [--binary PATH] [--config PATH]
#                     [--forward rsyslog|vigil] [--collector HOST:PORT] [--forward-files "FILE..."]
#                     [--ssh-opts "OPTS"] [--root DIR] [--user USER] [--parallel N]
#
# HOSTS_FILE: one host per line, `host` or `user@host`; blank lines and `#` comments are ignored.
# --binary: default the static build of scripts/install.sh (.build/install/release/vigil, built or
#   brought up to date first); refused when it needs the toolchain's libswift*.so or does not run
#   here (deploy from a machine of the hosts' architecture).
# --config: installed (replacing the host's) after the new binary's check-config accepts it;
#   without it conf/vigil.conf (every key at its default) is installed only where none exists.
# --forward rsyslog: conf/rsyslog-forward.conf, target and port set to --collector, as
#   /etc/rsyslog.d/60-vigil.conf (checked with rsyslogd -N1, rsyslog restarted when it changed).
# --forward vigil: conf/vigil-forward.service and /etc/vigil/forward.env (VIGIL_FORWARD_TO).
# --forward-files: with --forward vigil, the files it ships (absolute paths, space-separated), as
#   VIGIL_FORWARD_FILES in forward.env; without it, the unit's default (auth.log and nginx's
#   access.log), which fails on a host without /var/log/nginx.
# --ssh-opts: extra ssh options, split on spaces (e.g. "-p 2222 -i ~/.ssh/deploy").
# --root DIR: everything is written below DIR on the host and no service is touched (tests).
# --dry-run: prints the commands, for every host, without connecting or changing anything.
# On each host: /usr/local/bin/vigil, /etc/vigil/vigil.conf, /etc/systemd/system/vigil.service,
# /var/lib/vigil; the remote user is root or has passwordless sudo. Health: `systemctl is-active`
# where systemd runs, else the installed binary's --version and check-config. A second run changes
# nothing and restarts nothing. Exit status 1 if any host failed, 2 on a bad argument.
# The remote half is scripts/deploy-remote.sh; docs/install.md has the details.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    sed -n '6,8p' "${BASH_SOURCE[0]}" | sed 's/^# //'
    exit 0
}
bad() { echo "deploy.sh: $*" >&2; exit 2; }

HOSTS_FILE=
BINARY=
CONFIG=
FORWARD=
COLLECTOR=
FORWARD_FILES=
SSH_EXTRA=
ROOT_DIR=
SSH_USER=
PARALLEL=4
DRY_RUN=0
VERSION=

while [ $# -gt 0 ]; do
    case $1 in
        --hosts | --binary | --config | --forward | --collector | --forward-files | --ssh-opts | --root | --user | --parallel)
            if [ $# -lt 2 ] || [ -z "$2" ]; then bad "$1 needs a value"; fi
            case $1 in
                --hosts) HOSTS_FILE=$2 ;;
                --binary) BINARY=$2 ;;
                --config) CONFIG=$2 ;;
                --forward) FORWARD=$2 ;;
                --collector) COLLECTOR=$2 ;;
                --forward-files) FORWARD_FILES=$2 ;;
                --ssh-opts) SSH_EXTRA=$2 ;;
                --root) ROOT_DIR=$2 ;;
                --user) SSH_USER=$2 ;;
                --parallel) PARALLEL=$2 ;;
            esac
            shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h | --help) usage ;;
        -*) bad "unknown option $1 (see --help)" ;;
        *)
            [ -z "$HOSTS_FILE" ] || bad "one HOSTS_FILE only (got $HOSTS_FILE and $1)"
            HOSTS_FILE=$1; shift ;;
    esac
done

[ -n "$HOSTS_FILE" ] || bad "missing HOSTS_FILE (see --help)"
[ -r "$HOSTS_FILE" ] || bad "cannot read hosts file $HOSTS_FILE"
[[ $PARALLEL =~ ^[1-9][0-9]*$ ]] || bad "--parallel must be a positive number, not '$PARALLEL'"
case $FORWARD in
    '' | rsyslog | vigil) ;;
    *) bad "--forward must be rsyslog or vigil, not '$FORWARD'" ;;
esac
if [ -n "$FORWARD" ] && [ -z "$COLLECTOR" ]; then bad "--forward $FORWARD needs --collector HOST:PORT"; fi
if [ -z "$FORWARD" ] && [ -n "$COLLECTOR" ]; then bad "--collector needs --forward rsyslog or --forward vigil"; fi
COLLECTOR_HOST=
COLLECTOR_PORT=
if [ -n "$COLLECTOR" ]; then
    if [[ $COLLECTOR =~ ^\[([0-9A-Fa-f:.]+)\]:([0-9]+)$ ]] || [[ $COLLECTOR =~ ^([A-Za-z0-9.-]+):([0-9]+)$ ]]; then
        COLLECTOR_HOST=${BASH_REMATCH[1]}
        COLLECTOR_PORT=${BASH_REMATCH[2]}
    fi
    if [ -z "$COLLECTOR_PORT" ] || [ "$COLLECTOR_PORT" -lt 1 ] || [ "$COLLECTOR_PORT" -gt 65535 ]; then
        bad "--collector must be HOST:PORT (IPv6 as [ADDR]:PORT, port 1-65535), not '$COLLECTOR'"
    fi
fi
if [ -n "$FORWARD_FILES" ]; then
    [ "$FORWARD" = vigil ] || bad "--forward-files needs --forward vigil"
    read -ra FORWARD_FILE_WORDS <<<"$FORWARD_FILES"
    [ ${#FORWARD_FILE_WORDS[@]} -gt 0 ] || bad "--forward-files needs a value"
    for f in "${FORWARD_FILE_WORDS[@]}"; do
        # Nothing the unit's $VIGIL_FORWARD_FILES (split on spaces) or forward.env could misread.
        [[ $f =~ ^/[A-Za-z0-9._/@+-]+$ ]] || bad "--forward-files: '$f' is not an absolute path of letters, digits and ._/@+-"
    done
    FORWARD_FILES="${FORWARD_FILE_WORDS[*]}"
fi
if [ "$FORWARD" = vigil ] && [ ! -f "$ROOT/conf/vigil-forward.service" ]; then
    bad "--forward vigil needs conf/vigil-forward.service, which is not in this tree (use --forward rsyslog)"
fi
if [ -n "$ROOT_DIR" ] && ! [[ $ROOT_DIR =~ ^/[A-Za-z0-9._/-]+$ ]]; then
    bad "--root must be an absolute path of letters, digits and ._-/, not '$ROOT_DIR'"
fi
ROOT_DIR=${ROOT_DIR%/}
if [ -n "$SSH_USER" ] && ! [[ $SSH_USER =~ ^[A-Za-z0-9._-]+$ ]]; then bad "bad --user '$SSH_USER'"; fi
if [ -n "$CONFIG" ] && [ ! -r "$CONFIG" ]; then bad "cannot read --config $CONFIG"; fi
read -ra SSH_EXTRA_WORDS <<<"$SSH_EXTRA"

HOSTS=()
while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    [ -n "$line" ] || continue
    if ! [[ $line =~ ^([A-Za-z0-9._-]+@)?[A-Za-z0-9._:-]+$ ]] || [[ $line == -* ]]; then
        bad "bad host entry '$line' in $HOSTS_FILE"
    fi
    HOSTS+=("$line")
done <"$HOSTS_FILE"
[ ${#HOSTS[@]} -gt 0 ] || bad "no hosts in $HOSTS_FILE"

# The binary: scripts/install.sh's static build unless --binary; never one tied to the toolchain.
if [ -z "$BINARY" ]; then
    if [ "$DRY_RUN" = 1 ]; then
        BINARY=$ROOT/.build/install/release/vigil
        echo "# the binary would be built first: scripts/install.sh --build-only"
    else
        BINARY=$("$ROOT/scripts/install.sh" --build-only) || { echo "deploy.sh: building the binary failed" >&2; exit 1; }
    fi
fi
if [ "$DRY_RUN" = 0 ] || [ -e "$BINARY" ]; then
    if ! [ -f "$BINARY" ] || ! [ -x "$BINARY" ]; then bad "--binary $BINARY is not an executable file"; fi
    if ldd "$BINARY" 2>/dev/null | grep -q libswift; then
        bad "$BINARY needs the Swift runtime's shared libraries (build it with scripts/install.sh --build-only)"
    fi
    VERSION=$("$BINARY" --version 2>/dev/null | head -n1) || true
    [[ $VERSION == "vigil "* ]] || bad "--binary $BINARY is not a vigil binary that runs here (its --version: '${VERSION:0:60}')"
fi
if [ -n "$CONFIG" ] && [ -x "$BINARY" ] && ! "$BINARY" check-config "$CONFIG" >&2; then
    bad "--config $CONFIG is refused by check-config (above)"
fi

# The bundle every host gets: the files and the remote half, sent as one tar stream.
BUNDLE=$(mktemp -d)
TARBALL=
trap 'rm -rf "$BUNDLE" "$TARBALL"' EXIT
if [ -e "$BINARY" ]; then cp "$BINARY" "$BUNDLE/vigil"; fi
cp "$ROOT/conf/vigil.service" "$BUNDLE/vigil.service"
cp "${CONFIG:-$ROOT/conf/vigil.conf}" "$BUNDLE/vigil.conf"
cp "$ROOT/scripts/deploy-remote.sh" "$BUNDLE/deploy-remote.sh"
if [ "$FORWARD" = rsyslog ]; then
    sed -e "s/^\([[:space:]]*target=\)\"[^\"]*\"/\1\"$COLLECTOR_HOST\"/" \
        -e "s/^\([[:space:]]*port=\)\"[^\"]*\"/\1\"$COLLECTOR_PORT\"/" \
        "$ROOT/conf/rsyslog-forward.conf" >"$BUNDLE/60-vigil.conf"
    if ! grep -q "^[[:space:]]*target=\"$COLLECTOR_HOST\"" "$BUNDLE/60-vigil.conf" \
        || ! grep -q "^[[:space:]]*port=\"$COLLECTOR_PORT\"" "$BUNDLE/60-vigil.conf"; then
        echo "deploy.sh: conf/rsyslog-forward.conf has no target=\"...\" and port=\"...\" line to set" >&2
        exit 1
    fi
elif [ "$FORWARD" = vigil ]; then
    cp "$ROOT/conf/vigil-forward.service" "$BUNDLE/vigil-forward.service"
    {
        printf '# Written by scripts/deploy.sh: where vigil forward sends.\nVIGIL_FORWARD_TO=tcp://%s\n' "$COLLECTOR"
        if [ -n "$FORWARD_FILES" ]; then
            printf '# What it sends (--forward-files), instead of the unit'"'"'s default.\nVIGIL_FORWARD_FILES="%s"\n' "$FORWARD_FILES"
        fi
    } >"$BUNDLE/forward.env"
fi
{
    printf "ROOT_DIR='%s'\n" "$ROOT_DIR"
    printf "CONFIG_MODE=%s\n" "$([ -n "$CONFIG" ] && echo replace || echo keep)"
    printf "FORWARD='%s'\n" "$FORWARD"
    printf "PLAN=%s\n" "$DRY_RUN"
} >"$BUNDLE/settings"

SSH_OPTS=(-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=10 -o ServerAliveCountMax=3 "${SSH_EXTRA_WORDS[@]}")
# Runs on the host: unpack the bundle into a private directory, run the remote half, clean up.
# shellcheck disable=SC2016  # expanded by the remote shell
REMOTE='d=$(mktemp -d /tmp/vigil-deploy.XXXXXX) && trap '\''rm -rf "$d"'\'' EXIT && tar -xzf - -C "$d" && sh "$d/deploy-remote.sh" "$d"'
# Packed once for all hosts (gzip -1: the 19 MB binary travels as about 6.5 MB).
TARBALL=$(mktemp)
tar -C "$BUNDLE" -cf - . | gzip -1 >"$TARBALL"

# deploy_one HOST: the whole sequence for one host; output prefixed with the host name.
deploy_one() {
    local host=$1 dest=$1
    if [ -n "$SSH_USER" ] && [[ $host != *@* ]]; then dest="$SSH_USER@$host"; fi
    if [ "$DRY_RUN" = 1 ]; then
        {
            printf '# BUNDLE.tgz holds: %s\n' "$(cd "$BUNDLE" && echo *)"
            printf '%q ' ssh "${SSH_OPTS[@]}" "$dest" "$REMOTE"
            printf '< BUNDLE.tgz'
            printf '\n# then, on %s:\n' "$host"
            # shellcheck disable=SC2016  # printed as the remote shell's variable
            sh "$BUNDLE/deploy-remote.sh" "$BUNDLE" '$d'
        } 2>&1 | sed "s/^/[$host] /"
        return "${PIPESTATUS[0]}"
    fi
    # shellcheck disable=SC2029  # REMOTE is meant to be expanded here, once, as a whole
    ssh "${SSH_OPTS[@]}" "$dest" "$REMOTE" <"$TARBALL" 2>&1 | sed "s/^/[$host] /"
    return "${PIPESTATUS[0]}"
}

[ "$DRY_RUN" = 1 ] && echo "# dry run: nothing is executed; the commands for each host follow"
echo "deploying ${VERSION:-vigil} to ${#HOSTS[@]} host(s), $PARALLEL at a time${ROOT_DIR:+, below $ROOT_DIR}"

RESULTS=$(mktemp -d)
trap 'rm -rf "$BUNDLE" "$RESULTS" "$TARBALL"' EXIT
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
    echo "dry run: commands printed for $ok host(s); nothing was changed"
    exit 0
fi
failed=$(find "$RESULTS" -name 'failed.*' | sed 's|.*/failed\.||' | sort | paste -sd ' ' -)
echo "deployed: $ok ok, $(( ${#HOSTS[@]} - ok )) failed${failed:+ ($failed)}"
[ "$ok" = "${#HOSTS[@]}" ]
