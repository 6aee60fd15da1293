#!/usr/bin/env bash
# Builds vigil with the Swift runtime linked in (--static-swift-stdlib: the binary needs only libc,
# libm, libstdc++ and libgcc_s, never the toolchain) and installs it, its config and its systemd
# units. Starts nothing. Idempotent: a file already as it should be is left alone (same contents,
# same mtime), and an existing vigil.conf is never overwritten.
#
#   scripts/install.sh [PREFIX] [--sysconfdir DIR] [--unitdir DIR] [--datadir DIR]
#                      [--binary PATH] [--build-only]
#
# PREFIX (default /usr/local) gets bin/vigil. With PREFIX /usr/local or /usr (the system layout) the
# config goes to /etc/vigil, the units to /etc/systemd/system and the data directory is
# /var/lib/vigil; with any other PREFIX everything stays below it: PREFIX/etc/vigil,
# PREFIX/lib/systemd/system, PREFIX/var/lib/vigil. The flags override each of these.
# --binary PATH installs that binary instead of building one (it must not need the toolchain's
# libswift*.so either); --build-only builds and prints the binary's path (used by scripts/deploy.sh).
# docs/install.md has the details.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Its own scratch path, so that it never disturbs the development build in .build/release.
SCRATCH=$ROOT/.build/install

usage() {
    sed -n '7,8p' "${BASH_SOURCE[0]}" | sed 's/^# //'
    exit 0
}
bad() { echo "install.sh: $*" >&2; exit 2; }

PREFIX=
SYSCONFDIR=
UNITDIR=
DATADIR=
BINARY=
BUILD_ONLY=0
while [ $# -gt 0 ]; do
    case $1 in
        --sysconfdir | --unitdir | --datadir | --binary)
            if [ $# -lt 2 ] || [ -z "$2" ]; then bad "$1 needs a value"; fi
            case $1 in
                --sysconfdir) SYSCONFDIR=$2 ;;
                --unitdir) UNITDIR=$2 ;;
                --datadir) DATADIR=$2 ;;
                --binary) BINARY=$2 ;;
            esac
            shift 2 ;;
        --build-only) BUILD_ONLY=1; shift ;;
        -h | --help) usage ;;
        -*) bad "unknown option $1 (see --help)" ;;
        *)
            [ -z "$PREFIX" ] || bad "one PREFIX only (got $PREFIX and $1)"
            PREFIX=$1; shift ;;
    esac
done
PREFIX=${PREFIX:-/usr/local}
[[ $PREFIX == /* ]] || bad "PREFIX must be an absolute path: $PREFIX"
PREFIX=${PREFIX%/}
[ -n "$PREFIX" ] || bad "PREFIX must not be /"
for d in "$SYSCONFDIR" "$UNITDIR" "$DATADIR"; do
    [ -z "$d" ] || [[ $d == /* ]] || bad "directories must be absolute paths: $d"
done
if [ "$PREFIX" = /usr/local ] || [ "$PREFIX" = /usr ]; then
    SYSCONFDIR=${SYSCONFDIR:-/etc/vigil}
    UNITDIR=${UNITDIR:-/etc/systemd/system}
    DATADIR=${DATADIR:-/var/lib/vigil}
else
    SYSCONFDIR=${SYSCONFDIR:-$PREFIX/etc/vigil}
    UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
    DATADIR=${DATADIR:-$PREFIX/var/lib/vigil}
fi

# toolchain_libs BINARY: the libswift*.so lines of BINARY's ldd output (none for a good build).
toolchain_libs() { ldd "$1" 2>/dev/null | grep 'libswift' || true; }

if [ -n "$BINARY" ]; then
    if ! [ -f "$BINARY" ] || ! [ -x "$BINARY" ]; then bad "--binary $BINARY is not an executable file"; fi
else
    command -v swift >/dev/null 2>&1 || { echo "install.sh: swift is not on PATH (or pass --binary PATH)" >&2; exit 1; }
    echo "building: swift build -c release --static-swift-stdlib --product vigil --scratch-path $SCRATCH" >&2
    (cd "$ROOT" && swift build -c release --static-swift-stdlib --product vigil --scratch-path "$SCRATCH" >&2) \
        || { echo "install.sh: swift build failed" >&2; exit 1; }
    BINARY=$(cd "$ROOT" && swift build -c release --static-swift-stdlib --product vigil \
        --scratch-path "$SCRATCH" --show-bin-path)/vigil
fi
libs=$(toolchain_libs "$BINARY")
if [ -n "$libs" ]; then
    echo "install.sh: $BINARY needs the Swift runtime's shared libraries (build with --static-swift-stdlib):" >&2
    printf '%s\n' "$libs" >&2
    exit 1
fi
if [ "$BUILD_ONLY" = 1 ]; then
    printf '%s\n' "$BINARY"
    exit 0
fi

CHANGED=0
UNCHANGED=0
say_changed() { CHANGED=$((CHANGED + 1)); printf 'installed  %s\n' "$1"; }
say_same() { UNCHANGED=$((UNCHANGED + 1)); printf 'unchanged  %s%s\n' "$1" "${2:+ ($2)}"; }

# put MODE SOURCE DEST: installs SOURCE as DEST unless DEST already has the same bytes and mode.
# Written next to DEST and renamed over it, so a running binary is never overwritten in place.
put() {
    local mode=$1 src=$2 dest=$3
    if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "${mode#0}" ]; then
        say_same "$dest"
        return 0
    fi
    install -d -m 0755 "$(dirname "$dest")"
    install -m "$mode" "$src" "$dest.new.$$"
    mv -f "$dest.new.$$" "$dest"
    say_changed "$dest"
}

# 1. The binary.
put 0755 "$BINARY" "$PREFIX/bin/vigil"

# 2. The config: conf/vigil.conf (every key at its default) unless one is there already; the
#    systemd unit runs `serve --config $SYSCONFDIR/vigil.conf`, so it must exist.
if [ -e "$SYSCONFDIR/vigil.conf" ]; then
    if cmp -s "$ROOT/conf/vigil.conf" "$SYSCONFDIR/vigil.conf"; then
        say_same "$SYSCONFDIR/vigil.conf"
    else
        say_same "$SYSCONFDIR/vigil.conf" "kept: it differs from conf/vigil.conf, and an existing config is never overwritten"
    fi
else
    install -d -m 0755 "$SYSCONFDIR"
    install -m 0644 "$ROOT/conf/vigil.conf" "$SYSCONFDIR/vigil.conf"
    say_changed "$SYSCONFDIR/vigil.conf"
fi

# 3. The data directory (systemd's StateDirectory=vigil takes /var/lib/vigil over at the first
#    start: DynamicUser= moves it to /var/lib/private/vigil and gives it to the service's user).
if [ -d "$DATADIR" ]; then
    say_same "$DATADIR" "directory exists"
else
    install -d -m 0750 "$DATADIR"
    CHANGED=$((CHANGED + 1))
    printf 'created    %s\n' "$DATADIR"
fi

# 4. Every systemd unit in conf/ (vigil.service, and vigil-forward.service where present), their paths rewritten when the binary or the config go elsewhere
#    than the units' /usr/local/bin/vigil and /etc/vigil.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for path in "$ROOT"/conf/*.service; do
    unit=${path##*/}
    [ -f "$ROOT/conf/$unit" ] || continue
    sed -e "s|/usr/local/bin/vigil|$PREFIX/bin/vigil|g" -e "s|/etc/vigil/|$SYSCONFDIR/|g" \
        "$ROOT/conf/$unit" >"$TMP/$unit"
    put 0644 "$TMP/$unit" "$UNITDIR/$unit"
done

echo "$CHANGED changed, $UNCHANGED unchanged; nothing was started."
"$PREFIX/bin/vigil" --version
if [ "$UNITDIR" = /etc/systemd/system ]; then
    echo "next: systemctl daemon-reload && systemctl enable --now vigil.service"
else
    echo "next: systemctl link $UNITDIR/vigil.service && systemctl enable --now vigil.service"
    echo "  or by hand: $PREFIX/bin/vigil serve --config $SYSCONFDIR/vigil.conf --data-dir $DATADIR"
fi
