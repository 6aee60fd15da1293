#!/bin/sh
# The half of scripts/deploy.sh that runs on each target host (POSIX sh: any Linux with sh, cmp,
# install, mktemp). deploy.sh sends it with the files in one tar stream over ssh and runs
#   sh BUNDLE/deploy-remote.sh BUNDLE [SHOWN]
# where BUNDLE/settings sets ROOT_DIR ("" = the real system; else everything goes below it and
# no service is touched), CONFIG_MODE (replace: the config was given with --config; keep: the
# default conf/vigil.conf, installed only when the host has no config), FORWARD ("", rsyslog or
# vigil) and PLAN (1: print every command instead of running it, for --dry-run; run locally).
#
# Idempotent: a file whose bytes and mode are already right is not written (its mtime stays), and
# a service is restarted only when one of its files changed or it is not running.
set -eu

B=$1
# shellcheck source=/dev/null
. "$B/settings"
# Under PLAN the bundle's path is printed as the host would see it ($2, e.g. `$d`).
[ "$PLAN" = 1 ] && B=${2:-$B}
R=${ROOT_DIR:-}
SUDO=
if [ -z "$R" ] && [ "$(id -u)" != 0 ] && [ "$PLAN" != 1 ]; then SUDO="sudo -n"; fi
SYSTEMD=0
if [ -z "$R" ] && [ -d /run/systemd/system ]; then SYSTEMD=1; fi
# Tests only (scripts/e2e/deploy.sh runs this file directly with a stand-in systemctl on PATH):
# the systemd steps below a --root.
[ "${TEST_SYSTEMD:-0}" = 1 ] && SYSTEMD=1
[ "$PLAN" = 1 ] && [ -z "$R" ] && SYSTEMD=1

# run CMD...: runs CMD (with sudo when not root), or prints it under PLAN.
run() {
    if [ "$PLAN" = 1 ]; then
        echo "  $*"
    else
        # shellcheck disable=SC2086  # SUDO is empty or two words
        $SUDO "$@"
    fi
}

# put MODE SRC DEST: installs SRC as DEST (written beside it, then renamed) unless DEST already
# has the same bytes and mode. True when it wrote DEST.
put() {
    mode=$1 src=$2 dest=$3
    if [ "$PLAN" = 1 ]; then
        echo "  install -D -m $mode $src $dest   # only when it differs"
        return 1
    fi
    if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "${mode#0}" ]; then
        echo "unchanged  $dest"
        return 1
    fi
    # (set -e does not act inside a function called in an && list: every step says if it failed.)
    { run install -d -m 0755 "$(dirname "$dest")" && run install -m "$mode" "$src" "$dest.vigil-new" \
        && run mv -f "$dest.vigil-new" "$dest"; } || { echo "error: cannot install $dest"; exit 1; }
    echo "installed  $dest"
    return 0
}

BIN=$R/usr/local/bin/vigil
CONF=$R/etc/vigil/vigil.conf
UNIT=$R/etc/systemd/system/vigil.service

# 1. The new binary must run here, and accept the config it will run with (the host's own when
#    it is kept), before anything is touched.
CHECK=$B/vigil.conf
if [ "$CONFIG_MODE" = keep ] && [ "$PLAN" != 1 ] && [ -e "$CONF" ]; then CHECK=$CONF; fi
if [ "$PLAN" = 1 ]; then
    echo "  $B/vigil --version && $B/vigil check-config $CHECK   # the host's $CONF when it is kept"
else
    "$B/vigil" --version >/dev/null || { echo "error: the new vigil binary does not run on this host"; exit 1; }
    "$B/vigil" check-config "$CHECK" >/dev/null || { echo "error: the new binary refuses $CHECK; nothing changed"; exit 1; }
fi

# 2. Binary, config, unit, data directory.
changed=0
put 0755 "$B/vigil" "$BIN" && changed=1
if [ "$CONFIG_MODE" = replace ]; then
    put 0644 "$B/vigil.conf" "$CONF" && changed=1
elif [ "$PLAN" = 1 ]; then
    echo "  install -D -m 0644 $B/vigil.conf $CONF   # only when $CONF does not exist"
elif [ -e "$CONF" ]; then
    echo "kept       $CONF (exists; no --config given, so it is not replaced)"
else
    put 0644 "$B/vigil.conf" "$CONF" && changed=1
fi
unit_changed=0
put 0644 "$B/vigil.service" "$UNIT" && { changed=1; unit_changed=1; }
if [ "$PLAN" = 1 ]; then
    echo "  install -d -m 0750 $R/var/lib/vigil   # only when missing"
elif [ ! -d "$R/var/lib/vigil" ]; then
    run install -d -m 0750 "$R/var/lib/vigil"
    echo "created    $R/var/lib/vigil"
fi

# 3. Forwarding this host's logs to the collector.
fwd_changed=0
case ${FORWARD:-} in
    rsyslog)
        put 0644 "$B/60-vigil.conf" "$R/etc/rsyslog.d/60-vigil.conf" && fwd_changed=1
        if [ "$PLAN" = 1 ] || [ ! -d "$R/var/spool/rsyslog" ]; then
            run install -d -m 0700 "$R/var/spool/rsyslog"
        fi
        if [ "$PLAN" = 1 ]; then
            echo "  rsyslogd -N1${R:+ -f $R/etc/rsyslog.d/60-vigil.conf}"
        elif command -v rsyslogd >/dev/null 2>&1; then
            if [ -n "$R" ]; then
                rsyslogd -N1 -f "$R/etc/rsyslog.d/60-vigil.conf" >/dev/null 2>&1 \
                    || { echo "error: rsyslogd -N1 refuses $R/etc/rsyslog.d/60-vigil.conf"; exit 1; }
            else
                run rsyslogd -N1 >/dev/null 2>&1 || { echo "error: rsyslogd -N1 refuses the configuration"; exit 1; }
            fi
            echo "checked    rsyslogd -N1 accepts the forwarding snippet"
        else
            echo "warning: rsyslogd is not installed here; the snippet waits for it"
        fi
        if [ "$SYSTEMD" = 1 ] && [ "$fwd_changed" = 1 ]; then run systemctl restart rsyslog.service; fi
        ;;
    vigil)
        put 0644 "$B/vigil-forward.service" "$R/etc/systemd/system/vigil-forward.service" && fwd_changed=1
        put 0644 "$B/forward.env" "$R/etc/vigil/forward.env" && fwd_changed=1
        ;;
esac

# 4. Start or restart what changed, then check health.
if [ "$SYSTEMD" = 1 ]; then
    if [ "$unit_changed" = 1 ] || [ "$fwd_changed" = 1 ] || [ "$PLAN" = 1 ]; then run systemctl daemon-reload; fi
    run systemctl enable --quiet vigil.service
    if [ "$changed" = 1 ] || [ "$PLAN" = 1 ] || ! systemctl is-active --quiet vigil.service; then
        run systemctl restart vigil.service
    else
        echo "unchanged  vigil.service (active; not restarted)"
    fi
    if [ "${FORWARD:-}" = vigil ]; then
        run systemctl enable --quiet vigil-forward.service
        if [ "$fwd_changed" = 1 ] || [ "$changed" = 1 ] || [ "$PLAN" = 1 ] \
            || ! systemctl is-active --quiet vigil-forward.service; then
            run systemctl restart vigil-forward.service
        fi
    fi
    if [ "$PLAN" = 1 ]; then
        echo "  systemctl is-active vigil.service   # up to 10 s"
        exit 0
    fi
    # Health: active now, and still active (not restarting) a moment later.
    units=vigil.service
    [ "${FORWARD:-}" = vigil ] && units="$units vigil-forward.service"
    for u in $units; do
        i=0
        until systemctl is-active --quiet "$u"; do
            i=$((i + 1))
            if [ "$i" -ge 10 ]; then
                echo "error: $u is not active:"
                run journalctl -u "$u" -n 20 --no-pager || true
                exit 1
            fi
            sleep 1
        done
        echo "healthy    $u is active"
    done
else
    if [ "$PLAN" = 1 ]; then
        echo "  $BIN --version && $BIN check-config $CONF"
        exit 0
    fi
    if ! "$BIN" --version >/dev/null || ! "$BIN" check-config "$CONF" >/dev/null; then
        echo "error: the installed $BIN does not run or refuses $CONF"
        exit 1
    fi
    echo "healthy    $("$BIN" --version) runs and accepts $CONF (no systemd${R:+: installed below $R}; nothing started)"
fi
