#!/usr/bin/env bash
# Offline log analysis speed: `vigil analyze` against sshguard's parser, fail2ban-regex and
# GoAccess on the same files made by `vigil generate`: auth.log, the attack lines (invalid
# users, their closed connections, failed passwords) of a generated auth log with their
# addresses folded onto BENCH_AUTH_IPS sources; auth-mixed.log, a generated auth log as it is
# (mostly logins, a new address each); access.log, an nginx combined log. For each tool:
# lines/s (by wall time and by CPU time) and peak RSS from /usr/bin/time; then the ratios
# vigil/sshguard (on auth.log) and vigil/goaccess.
#
# What each tool does with the lines differs: sshg-parser only parses (one line out per
# attack), fail2ban-regex matches the sshd filter's regexes, GoAccess parses and aggregates;
# vigil analyze parses, joins sshd connections, runs the seven detection rules and builds
# its whole report, on as many threads as the CPUs it may use (its default); auth.log is
# also analysed with --threads 1.
#
# Environment: BENCH_LINES (lines per file, default 1000000), BENCH_AUTH_IPS (source addresses
# of auth.log, default 50000), BENCH_BIG_LINES (when set, also
# runs vigil analyze on files this long, e.g. 9000000 for about 1 GB, to show memory does not
# follow file size), BENCH_RUNS (runs of each tool, default 5: the run of median wall time is
# reported (of an even number, the faster of the two middle ones), since a run of a quarter
# of a second varies by a third on a shared machine;
# fail2ban-regex, at half a minute, runs once), BENCH_TIMEOUT (seconds per run, default 300), BENCH_NO_BUILD=1,
# VIGIL=PATH (another vigil binary), BENCH_KEEP=DIR (keep the generated files there).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

LINES=${BENCH_LINES:-1000000}
AUTH_IPS=${BENCH_AUTH_IPS:-50000}
BIG=${BENCH_BIG_LINES:-}
TIMEOUT=${BENCH_TIMEOUT:-300}
RUNS=${BENCH_RUNS:-5}
SSHG=/usr/libexec/sshguard/sshg-parser
F2B_FILTER=/etc/fail2ban/filter.d/sshd.conf

for n in "$LINES" "$AUTH_IPS" "$TIMEOUT" "$RUNS" ${BIG:+"$BIG"}; do
    if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -eq 0 ]; then die "bench settings must be positive integers (got '$n')"; fi
done

if [ -n "${BENCH_KEEP:-}" ]; then
    WORK=$BENCH_KEEP
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d /tmp/vigil-bench-analyze.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
fi
trap 'exit 130' INT TERM

ensure_command /usr/bin/time time
ensure_command timeout coreutils
ensure_command "$SSHG" sshguard
ensure_command fail2ban-regex fail2ban
ensure_command goaccess goaccess

if [ -n "${VIGIL:-}" ]; then
    BIN=$VIGIL
elif [ "${BENCH_NO_BUILD:-}" = 1 ]; then
    BIN=$(cd "$ROOT" && swift build -c release --show-bin-path)/vigil
else
    build_release "$ROOT"
    BIN=$BIN_DIR/vigil
fi
[ -x "$BIN" ] || die "no vigil binary at $BIN"

# generate NAME KIND LINES [ARGS...]: writes $WORK/NAME with `vigil generate`, once.
generate() {
    local name=$1 kind=$2 lines=$3
    shift 3
    [ -s "$WORK/$name" ] && return 0
    say "generating $name ($lines lines)"
    timeout "$TIMEOUT" "$BIN" generate "$kind" --count "$lines" --seed 7 "$@" --out "$WORK/$name" \
        || die "vigil generate $kind failed"
}

# measure LABEL INPUT CMD...: runs CMD (stdin from INPUT, stdout discarded) RUNS times (once
# for fail2ban), each bounded by the timeout; sets WALL, CPU (user+sys seconds) and RSS_KB of
# the run of median wall time. Dies when a run fails or times out.
measure() {
    local label=$1 input=$2
    shift 2
    local stats=$WORK/time.$$ runs=$RUNS r
    [ "$label" = fail2ban ] && runs=1
    local all=()
    say "running $label ($runs times): $*"
    for ((r = 0; r < runs; r++)); do
        if ! /usr/bin/time -f '%e %U %S %M' -o "$stats" timeout "$TIMEOUT" "$@" <"$input" >/dev/null 2>"$WORK/$label.err"; then
            tail -3 "$WORK/$label.err" >&2 || true
            die "$label failed or took longer than ${TIMEOUT}s"
        fi
        all+=("$(tail -1 "$stats")")
    done
    read -r WALL user sys RSS_KB < <(printf '%s\n' "${all[@]}" | sort -n -k1,1 | sed -n "$(((runs + 1) / 2))p")
    CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
}

# rate LINES SECONDS: lines per second.
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s <= 0) s = 0.01; printf "%.0f", n / s }'; }

RESULTS=()
# row LABEL LINES: records the last measurement.
row() {
    local label=$1 lines=$2
    RESULTS+=("$(printf '%-44s %10s %8s %8s %12s %12s %9s' "$label" "$lines" "$WALL" "$CPU" \
        "$(rate "$lines" "$WALL")" "$(rate "$lines" "$CPU")" "$((RSS_KB / 1024))")")
}

generate auth-mixed.log ssh "$LINES" --attack bruteforce,distributed
generate access.log http "$LINES"
if [ ! -s "$WORK/auth.log" ]; then
    # About one generated line in seven is an attack line: generate eight times as many.
    generate auth-source.log ssh "$((LINES * 8))" --attack bruteforce,distributed
    say "folding the attack lines onto $AUTH_IPS addresses"
    awk -v ips="$AUTH_IPS" -v lines="$LINES" '
        /: Invalid user |: Failed password |: Connection closed by invalid user / {
            for (i = 2; i <= NF; i++) if ($i == "port") {
                split($(i - 1), o, ".")
                n = ((o[2] * 256 + o[3]) * 256 + o[4]) % ips
                $(i - 1) = "172." (16 + int(n / 65536)) "." (int(n / 256) % 256) "." (n % 256)
                break
            }
            print
            if (++c >= lines) exit
        }' "$WORK/auth-source.log" >"$WORK/auth.log" || die "folding the attack lines failed"
    rm -f "$WORK/auth-source.log"
fi
AUTH_LINES=$(wc -l <"$WORK/auth.log")
MIXED_LINES=$(wc -l <"$WORK/auth-mixed.log")
ACCESS_LINES=$(wc -l <"$WORK/access.log")
# Warm the page cache so every tool reads from memory.
cat "$WORK/auth.log" "$WORK/auth-mixed.log" "$WORK/access.log" >/dev/null

measure vigil-auth /dev/null "$BIN" analyze "$WORK/auth.log"
row "vigil analyze auth.log" "$AUTH_LINES"; V_AUTH_WALL=$WALL; V_AUTH_CPU=$CPU
measure vigil-auth-1 /dev/null "$BIN" analyze --threads 1 "$WORK/auth.log"
row "vigil analyze --threads 1 auth.log" "$AUTH_LINES"; V_AUTH1_WALL=$WALL
measure sshguard "$WORK/auth.log" "$SSHG"
row "sshg-parser < auth.log" "$AUTH_LINES"; S_WALL=$WALL; S_CPU=$CPU
measure fail2ban /dev/null fail2ban-regex "$WORK/auth.log" "$F2B_FILTER"
row "fail2ban-regex auth.log sshd.conf" "$AUTH_LINES"
measure vigil-mixed /dev/null "$BIN" analyze "$WORK/auth-mixed.log"
row "vigil analyze auth-mixed.log" "$MIXED_LINES"; V_MIX_WALL=$WALL; V_MIX_CPU=$CPU
measure sshguard-mixed "$WORK/auth-mixed.log" "$SSHG"
row "sshg-parser < auth-mixed.log" "$MIXED_LINES"; SM_WALL=$WALL; SM_CPU=$CPU
measure vigil-access /dev/null "$BIN" analyze "$WORK/access.log"
row "vigil analyze access.log" "$ACCESS_LINES"; V_ACC_WALL=$WALL; V_ACC_CPU=$CPU
measure goaccess /dev/null goaccess "$WORK/access.log" --log-format=COMBINED -o "$WORK/report.json"
row "goaccess access.log (COMBINED)" "$ACCESS_LINES"; G_WALL=$WALL; G_CPU=$CPU

if [ -n "$BIG" ]; then
    generate auth-big.log ssh "$BIG" --attack bruteforce,distributed
    generate access-big.log http "$BIG"
    for f in auth-big.log access-big.log; do
        n=$(wc -l <"$WORK/$f")
        measure "vigil-$f" /dev/null "$BIN" analyze "$WORK/$f"
        row "vigil analyze $f ($(($(stat -c %s "$WORK/$f") / 1048576)) MiB)" "$n"
    done
fi

printf '%-44s %10s %8s %8s %12s %12s %9s\n' tool lines wall_s cpu_s lines/s_wall lines/s_cpu rss_MiB
printf '%s\n' "${RESULTS[@]}"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a <= 0) a = 0.01; printf "%.1f", b / a }'; }
printf 'vigil/sshguard lines/s on auth.log: %sx by wall time, %sx by CPU time (target 8x by wall time); --threads 1: %sx\n' \
    "$(ratio "$V_AUTH_WALL" "$S_WALL")" "$(ratio "$V_AUTH_CPU" "$S_CPU")" "$(ratio "$V_AUTH1_WALL" "$S_WALL")"
printf 'vigil/sshguard lines/s on auth-mixed.log: %sx by wall time, %sx by CPU time\n' \
    "$(ratio "$V_MIX_WALL" "$SM_WALL")" "$(ratio "$V_MIX_CPU" "$SM_CPU")"
printf 'vigil/goaccess lines/s: %sx by wall time, %sx by CPU time (target 20x)\n' \
    "$(ratio "$V_ACC_WALL" "$G_WALL")" "$(ratio "$V_ACC_CPU" "$G_CPU")"
