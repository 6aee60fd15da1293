# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, WORK, VIGIL): `vigil analyze` as a user
# runs it on one file.
#   - --threads: 0 (the CPUs online), 1, 2 and 256 give the same report; -1, x, 257, a number
#     too big for an Int, an empty value and a missing one are refused in one line, exit 2;
#   - --top: 1 and 1000000 are accepted; 0, -1, x, 1000001, a number too big for an Int, an
#     empty value and a missing one are refused in one line, exit 2;
#   - a line of 1.5 MiB between normal lines is counted as 1 cut line, at 1 and 2 threads alike;
#   - a read error mid-file at --threads 1 and 2: standard input is a non-blocking pipe whose
#     writer stays open, so once the lines written are read, read() fails with EAGAIN. The
#     report has every line written, there is one line on stderr, exit 1, and no hang.

AN=$WORK/analyze
mkdir -p "$AN"
"$VIGIL" generate ssh --count 6000 --attack bruteforce --seed 9 --format auth --out "$AN/auth.log" 2>"$AN/generate.stderr"
AN_LINES=$(wc -l <"$AN/auth.log")

# --- --threads: accepted values give one report; bad ones one line and exit 2

an_same=1
for n in 1 0 2 256; do
    if ! "$VIGIL" analyze "$AN/auth.log" --threads "$n" >"$AN/threads$n.out" 2>"$AN/threads$n.stderr" \
        || [ -s "$AN/threads$n.stderr" ] || ! cmp -s "$AN/threads1.out" "$AN/threads$n.out" 2>/dev/null; then
        an_same=0
        fail "analyze --threads $n: exit 0, the report of --threads 1" "$(head -n 3 "$AN/threads$n.stderr")"
    fi
done
if [ "$an_same" = 1 ] && grep -qxF "$AN/auth.log: auth, $AN_LINES lines, 0 invalid" "$AN/threads1.out"; then
    pass "analyze --threads 0 (the CPUs vigil may use), 1, 2 and 256: exit 0, the same report"
fi

# bad_values FLAG RANGE VALUE...: each VALUE of FLAG is one clear line naming RANGE, no report,
# exit 2; so is FLAG without a value.
bad_values() {
    local flag=$1 range=$2 bad rc
    shift 2
    for bad in "$@"; do
        "$VIGIL" analyze "$AN/auth.log" "$flag" "$bad" >"$AN/bad.out" 2>"$AN/bad.stderr"
        rc=$?
        # shellcheck disable=SC2016  # the backquotes are in vigil's message
        if [ "$rc" = 2 ] && [ ! -s "$AN/bad.out" ] && [ "$(grep -c '' "$AN/bad.stderr")" = 1 ] \
            && grep -qxF "vigil analyze: $flag must be $range, got \`$bad\`" "$AN/bad.stderr"; then
            pass "analyze $flag '$bad': one clear line, exit 2"
        else
            fail "analyze $flag '$bad': one clear line, exit 2" "exit $rc: $(cat "$AN/bad.stderr")"
        fi
    done
    "$VIGIL" analyze "$AN/auth.log" "$flag" >"$AN/bad.out" 2>"$AN/bad.stderr"
    rc=$?
    if [ "$rc" = 2 ] && [ ! -s "$AN/bad.out" ] && [ "$(cat "$AN/bad.stderr")" = "vigil analyze: $flag needs a value" ]; then
        pass "analyze $flag without a value: one clear line, exit 2"
    else
        fail "analyze $flag without a value: one clear line, exit 2" "exit $rc: $(cat "$AN/bad.stderr")"
    fi
}
bad_values --threads 0...256 -1 x 257 99999999999999999999 ''

# --- --top: 1 and 1000000 accepted; bad values one line (the --threads style) and exit 2

if "$VIGIL" analyze "$AN/auth.log" --top 1 >"$AN/top1.out" 2>"$AN/top1.stderr" && [ ! -s "$AN/top1.stderr" ] \
    && "$VIGIL" analyze "$AN/auth.log" --top 1000000 >"$AN/topmax.out" 2>"$AN/topmax.stderr" && [ ! -s "$AN/topmax.stderr" ] \
    && grep -qE '^top failing IPs: [0-9.]+ [0-9]+$' "$AN/top1.out" \
    && grep -qE '^top failing IPs: ([0-9.]+ [0-9]+, ){10}' "$AN/topmax.out"; then
    pass "analyze --top 1 and 1000000: exit 0, one failing IP at 1, more than 10 at 1000000"
else
    fail "analyze --top 1 and 1000000: exit 0, one failing IP at 1, more than 10 at 1000000" \
        "$(cat "$AN/top1.stderr" "$AN/topmax.stderr")"
fi
bad_values --top 1...1000000 0 -1 x 1000001 99999999999999999999 ''

# --- a line longer than the 1 MiB read buffer: counted as cut, the others analysed

{
    head -n 100 "$AN/auth.log"
    head -c 1572864 /dev/zero | tr '\0' x
    printf '\n'
    tail -n +101 "$AN/auth.log"
} >"$AN/long.log"
for n in 1 2; do
    "$VIGIL" analyze "$AN/long.log" --threads "$n" >"$AN/long$n.out" 2>"$AN/long$n.stderr"
    echo "$?" >"$AN/long$n.rc"
done
if [ "$(cat "$AN/long1.rc") $(cat "$AN/long2.rc")" = "0 0" ] && cmp -s "$AN/long1.out" "$AN/long2.out" \
    && grep -qxF "$AN/long.log: auth, $((AN_LINES + 1)) lines, 1 invalid, 1 cut (too long)" "$AN/long1.out" \
    && cmp -s <(sed -n '/^== ssh ==$/,$p' "$AN/threads1.out") <(sed -n '/^== ssh ==$/,$p' "$AN/long1.out"); then
    pass "analyze: a 1.5 MiB line is counted as 1 cut line and the others analysed, the same at --threads 1 and 2"
else
    fail "analyze: a 1.5 MiB line is counted as 1 cut line, the same at --threads 1 and 2" \
        "exit $(cat "$AN/long1.rc") / $(cat "$AN/long2.rc")" "$(grep -F "$AN/long.log:" "$AN/long1.out" "$AN/long2.out")"
fi

# --- a read error mid-file: EAGAIN from a non-blocking standard input whose writer stays open

for n in 1 2; do
    an_rc=$(python3 - "$VIGIL" "$AN/auth.log" "$AN/stdin$n" "$n" <<'PY'
import fcntl, os, subprocess, sys
vigil, log, out, threads = sys.argv[1:5]
data = open(log, "rb").read()
r, w = os.pipe()
fcntl.fcntl(w, 1031, 1 << 20)  # F_SETPIPE_SZ: the whole file fits, so one write puts it all in
assert len(data) < 1 << 20 and os.write(w, data) == len(data)
os.set_blocking(r, False)
with open(out + ".out", "wb") as o, open(out + ".stderr", "wb") as e:
    p = subprocess.Popen([vigil, "analyze", "-", "--threads", threads], stdin=r, stdout=o, stderr=e)
    os.close(r)
    try:
        print(p.wait(timeout=30))
    except subprocess.TimeoutExpired:
        p.kill()
        print("timeout")
os.close(w)
PY
)
    if [ "$an_rc" = 1 ] && [ "$(grep -c '' "$AN/stdin$n.stderr")" = 1 ] \
        && grep -qxF "vigil analyze: -: read error: Resource temporarily unavailable (the report has the lines read before it)" \
            "$AN/stdin$n.stderr" \
        && grep -qxF -- "-: auth, $AN_LINES lines, 0 invalid" "$AN/stdin$n.out" \
        && cmp -s <(sed -n '/^== ssh ==$/,$p' "$AN/threads1.out") <(sed -n '/^== ssh ==$/,$p' "$AN/stdin$n.out"); then
        pass "analyze --threads $n: a read error mid-input is one line on stderr, exit 1, the report has every line read"
    else
        fail "analyze --threads $n: a read error mid-input is one line on stderr, exit 1" "exit $an_rc" \
            "$(cat "$AN/stdin$n.stderr")" "$(grep -- '^-:' "$AN/stdin$n.out")"
    fi
done
