# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, WORK, VIGIL): `vigil analyze` as a user
# runs it on one file.
#   - --threads: 0 (the CPUs online), 1, 2 and 256 give the same report; -1, x, 257, a number
#     too big for an Int, an empty value and a missing one are refused in one line, exit 2.

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
    pass "analyze --threads 0 (the CPUs online), 1, 2 and 256: exit 0, the same report"
fi

for bad in -1 x 257 99999999999999999999 ''; do
    "$VIGIL" analyze "$AN/auth.log" --threads "$bad" >"$AN/bad.out" 2>"$AN/bad.stderr"
    rc=$?
    # shellcheck disable=SC2016  # the backquotes are in vigil's message
    if [ "$rc" = 2 ] && [ ! -s "$AN/bad.out" ] && [ "$(grep -c '' "$AN/bad.stderr")" = 1 ] \
        && grep -qxF "vigil analyze: --threads must be 0...256, got \`$bad\`" "$AN/bad.stderr"; then
        pass "analyze --threads '$bad': one clear line, exit 2"
    else
        fail "analyze --threads '$bad': one clear line, exit 2" "exit $rc: $(cat "$AN/bad.stderr")"
    fi
done
"$VIGIL" analyze "$AN/auth.log" --threads >"$AN/bad.out" 2>"$AN/bad.stderr"
rc=$?
if [ "$rc" = 2 ] && [ ! -s "$AN/bad.out" ] && [ "$(cat "$AN/bad.stderr")" = "vigil analyze: --threads needs a value" ]; then
    pass "analyze --threads without a value: one clear line, exit 2"
else
    fail "analyze --threads without a value: one clear line, exit 2" "exit $rc: $(cat "$AN/bad.stderr")"
fi
