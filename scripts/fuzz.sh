#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, with AddressSanitizer) of the code that reads input from the
# network or from files: scripts/fuzz.sh TARGET SECONDS, or scripts/fuzz.sh all SECONDS.
#
# Targets (Tests/Fuzz/*.swift, each compiled with the VigilCore sources):
#   framer       the TCP framer (octet counting, LF framing, cutting partial frames)
#   syslog5424   the syslog parser on RFC 5424 frames (and the timestamp memo against a fresh read)
#   syslog3164   the syslog parser on RFC 3164 frames and file lines
#   extractors   the sshd, access-log (CLF, Combined, CSV) and session-summary extractors
#   relay        the relay decoder, unsealed and sealed (to reach the checks behind the MAC)
#   config       the config file parser and schema (check-config, serve)
#   http         the API's request head parser, query parameters and host names from URLs
#
# The seed corpus is Tests/Fixtures/samples (frames and log lines captured from real clients) and
# conf/vigil.conf; what libFuzzer learns is kept in .build/fuzz/corpus/TARGET. A crash leaves its
# input in .build/fuzz/crashes/TARGET/ and fails the run (exit 1): turn it into a regression test.
# Prints, per target, the executions, executions per second and coverage reached.
# SWIFT_BACKTRACE is set to enable=no so that a crash is reported by the sanitizer.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

TARGETS="framer syslog5424 syslog3164 extractors relay config http"
[ $# = 2 ] || die "usage: scripts/fuzz.sh TARGET|all SECONDS (targets: $TARGETS)"
WHICH=$1
SECONDS_EACH=$2
[[ $SECONDS_EACH =~ ^[0-9]+$ ]] && [ "$SECONDS_EACH" -gt 0 ] || die "SECONDS must be a positive integer"
if [ "$WHICH" = all ]; then LIST=$TARGETS; else
    [[ " $TARGETS " == *" $WHICH "* ]] || die "unknown target $WHICH (targets: $TARGETS)"
    LIST=$WHICH
fi

OUT=$ROOT/.build/fuzz
mkdir -p "$OUT/modules/CVigilHints"
export SWIFT_BACKTRACE=enable=no
FLAGS=(-sanitize=fuzzer,address -parse-as-library -O -swift-version 6
       -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault)

# VigilCore once, as a static library with the sanitizers, rebuilt when a source is newer.
cat >"$OUT/modules/CVigilHints/module.modulemap" <<EOF
module CVigilHints {
    header "$ROOT/Sources/CVigilHints/include/CVigilHints.h"
    export *
}
EOF
mapfile -t CORE < <(find "$ROOT/Sources/VigilCore" -name '*.swift' | sort)
if [ ! -f "$OUT/libVigilCore.a" ] || [ -n "$(find "$ROOT/Sources/VigilCore" "$ROOT/Sources/CVigilHints" -newer "$OUT/libVigilCore.a" -print -quit)" ]; then
    say "building VigilCore with -sanitize=fuzzer,address"
    swiftc "${FLAGS[@]}" -module-name VigilCore -emit-library -static -emit-module \
        -emit-module-path "$OUT/VigilCore.swiftmodule" -o "$OUT/libVigilCore.a" -I "$OUT/modules/CVigilHints" "${CORE[@]}" \
        2> >(grep -v 'Cannot export local symbol' >&2)
fi

# source_of TARGET: the target's Swift file(s).
source_of() {
    case $1 in
        framer) echo "$ROOT/Tests/Fuzz/Framer.swift" ;;
        syslog5424) echo "$ROOT/Tests/Fuzz/Syslog5424.swift $ROOT/Tests/Fuzz/ParseCheck.swift" ;;
        syslog3164) echo "$ROOT/Tests/Fuzz/Syslog3164.swift $ROOT/Tests/Fuzz/ParseCheck.swift" ;;
        extractors) echo "$ROOT/Tests/Fuzz/Extractors.swift" ;;
        relay) echo "$ROOT/Tests/Fuzz/Relay.swift" ;;
        config) echo "$ROOT/Tests/Fuzz/Config.swift" ;;
        http) echo "$ROOT/Tests/Fuzz/HTTPRequest.swift" ;;
    esac
}

# seed TARGET DIR: copies the seed inputs of TARGET into DIR (once).
seed() {
    local dir=$2 f
    [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return 0
    case $1 in
        config) cp "$ROOT/conf/vigil.conf" "$dir/" ;;
        framer) cp "$ROOT"/Tests/Fixtures/samples/*.tcp "$dir/" ;;
        http)
            # Requests as curl, a browser and Prometheus send them, with a 0 limits byte in front.
            printf '\000GET /hosts/web1/logs?filter=Failed+password&count=5&file=sshd&since=2026-12-03 HTTP/1.1\r\nHost: 127.0.0.1:8514\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nAuthorization: Bearer 0123abcd\r\n\r\n' >"$dir/curl"
            printf '\000GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:8514\r\nUser-Agent: Prometheus/2.42.0\r\nAccept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\nAccept-Encoding: gzip\r\nAuthorization: Bearer x\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n' >"$dir/prometheus"
            printf '\000GET /hosts/%%2e%%2e/ssh/logins?day=2026-12-03 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\n\r\n' >"$dir/pipelined"
            ;;
        *)
            # One seed per line of every sample (frames and log lines), so the parsers start from real input.
            local n=0
            for f in "$ROOT"/Tests/Fixtures/samples/*.log "$ROOT"/Tests/Fixtures/samples/*.tcp; do
                while IFS= read -r line; do
                    n=$((n + 1))
                    printf '%s' "$line" >"$dir/seed-$n"
                done <"$f"
            done
            ;;
    esac
}

status=0
SUMMARY=()
for target in $LIST; do
    bin=$OUT/$target
    # shellcheck disable=SC2046  # the target's files, split on purpose
    swiftc "${FLAGS[@]}" -I "$OUT" -I "$OUT/modules/CVigilHints" -L "$OUT" -lVigilCore $(source_of "$target") -o "$bin" \
        2> >(grep -v 'Cannot export local symbol' >&2)
    corpus=$OUT/corpus/$target
    crashes=$OUT/crashes/$target
    mkdir -p "$corpus" "$crashes"
    seed "$target" "$corpus"
    say "fuzzing $target for $SECONDS_EACH s"
    log=$OUT/$target.log
    if "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -artifact_prefix="$crashes/" -max_len=4096 \
        -rss_limit_mb=2048 "$corpus" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
        SUMMARY+=("$(printf '%-11s %9s runs  %7s exec/s  cov %s' "$target" "$runs" "$rate" "$cov")")
    else
        status=1
        SUMMARY+=("$(printf '%-11s CRASH: see %s and %s' "$target" "$log" "$crashes")")
        grep -E 'ERROR|Fatal error|precondition' "$log" | head -n 5 >&2 || true
    fi
done
printf '%s\n' "${SUMMARY[@]}"
exit $status
