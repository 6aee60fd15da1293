# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, expect, json_get, WORK, VIGIL, RUN, DATA,
# EXTRA_PIDS): the HTTP API (`vigil serve --http`), driven with curl. Against the release binary:
#   - /healthz and / answer without a token; every other endpoint answers 401 with
#     WWW-Authenticate without a token or with a wrong one, 200 with the one in DATA/api-token;
#   - /hosts/H/logs?filter=&count= gives the newest matching lines, newest first; /hosts/H/files
#     and /hosts/H/ssh/logins count what was sent;
#   - host names that try to leave the store (.., %2e%2e, %2f, NUL) are refused with 400, an
#     unknown host is 404; a 20 KB request line is 414, 30 KB of headers 431;
#   - `promtool check metrics` accepts /metrics (promtool unpacked from Debian's prometheus .deb,
#     never installed: the package would start a Prometheus server on every interface);
#   - a non-loopback --http without a token is refused by check-config and by serve (exit 2);
#     VIGIL_API_TOKEN replaces the token file's token; --api.token's value is hidden from ps;
#   - 50 concurrent clients all get /stats.
# Every server listens on loopback only; every wait and load is bounded.

API=$WORK/api
mkdir -p "$API"
ensure_command curl curl
ensure_command python3 python3
API_HOST=e2e-api
API_KEY=$API/relay.key
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$API_KEY")
# Wherever promtool comes from, it is kept out of $WORK so that it is unpacked once per machine.
API_TOOLS=${E2E_TOOLS:-$ROOT/.build/e2e-tools}

# api_get PATH [TOKEN] [CURL_ARGS...]: GET http://127.0.0.1:$API_PORT/PATH as written (no dot
# segment folding), 10 s at most, with TOKEN as bearer token when not empty. The body goes to
# $API/body, the headers to $API/headers (CRs removed); prints the status (000: no answer).
api_get() {
    local path=$1 token=${2:-} code
    shift
    [ $# -gt 0 ] && shift
    local auth=()
    [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
    : >"$API/body"
    : >"$API/headers"
    code=$(curl -sS --max-time 10 --path-as-is -o "$API/body" -D "$API/headers.raw" -w '%{http_code}' \
        "${auth[@]}" "$@" "http://127.0.0.1:$API_PORT$path" 2>"$API/curl.err") || true
    tr -d '\r' <"$API/headers.raw" >"$API/headers" 2>/dev/null
    printf '%s' "${code:-000}"
}

# api_answer: the last answer, for a failure message.
api_answer() { printf '%s | %s' "$(head -n1 "$API/headers")" "$(head -c 300 "$API/body")"; }

_has_bearer_challenge() { grep -qx 'WWW-Authenticate: Bearer realm="vigil"' "$API/headers"; }

if VIGIL_HTTP=1 start_vigil "$API/data" "$API/vigil.stderr" --stats-interval 1s \
    --relay-listen 127.0.0.1:0 --relay-allow 127.0.0.1/32 --relay-key "$API_KEY"; then
    API_PID=$VIGIL_PID
    EXTRA_PIDS+=("$API_PID")
    API_PORT=$VIGIL_HTTP_PORT
    API_TOKEN=$VIGIL_API_TOKEN_VALUE
    API_TCP=$VIGIL_TCP_PORT
    pass "vigil serve starts with the HTTP API on 127.0.0.1:$API_PORT"
else
    fail "vigil serve starts with the HTTP API on 127.0.0.1:0"
    API_PID=
fi

if [ -n "$API_PID" ]; then
    mode=$(stat -c %a "$API/data/api-token" 2>/dev/null)
    if grep -q "^vigil: api: the bearer token is in $API/data/api-token\$" "$API/vigil.stderr" \
        && [ "$mode" = 600 ] && [[ "$API_TOKEN" =~ ^[0-9a-f]{32,}$ ]]; then
        pass "without a configured token, a random hex token is written to DATA/api-token (mode 0600) and named on stderr"
    else
        fail "without a configured token, a random hex token is written to DATA/api-token (mode 0600) and named on stderr" \
            "mode $mode, token '${API_TOKEN:0:8}...'" "$(grep '^vigil: api' "$API/vigil.stderr")"
    fi

    # Numbered lines (a needle and some hay each), and three failed ssh logins from one address.
    now=$(date -u +%FT%TZ)
    {
        for i in 1 2 3 4 5 6; do
            printf '<14>1 %s %s app - - - needle-%s #%s\n' "$now" "$API_HOST" "$RUN" "$i"
            printf '<14>1 %s %s app - - - hay-%s #%s\n' "$now" "$API_HOST" "$RUN" "$i"
        done
        for i in 1 2 3; do
            printf '<38>1 %s %s sshd 3%s - - Failed password for root from 192.0.2.10 port 4%s ssh2\n' "$now" "$API_HOST" "$i" "$i"
        done
    } | timeout 10 nc -N -w 3 127.0.0.1 "$API_TCP"
    DATA_SAVED=$DATA
    DATA=$API/data
    expect "API host: the numbered lines are stored (hosts/$API_HOST)" "$API_HOST" "needle-$RUN #" 6
    expect "API host: the failed ssh logins are stored (hosts/$API_HOST)" "$API_HOST" "from 192.0.2.10 port" 3
    DATA=$DATA_SAVED

    code=$(api_get /healthz)
    if [ "$code" = 200 ] && [ "$(json_get "$API/body" 'd["status"]')" = ok ]; then
        pass "GET /healthz without a token: 200 {\"status\":\"ok\"}"
    else
        fail "GET /healthz without a token: 200 {\"status\":\"ok\"}" "$code: $(api_answer)"
    fi
    code=$(api_get /)
    if [ "$code" = 200 ] && grep -qi '^Content-Type: text/html' "$API/headers"; then
        pass "GET / (the dashboard) without a token: 200 text/html"
    else
        fail "GET / (the dashboard) without a token: 200 text/html" "$code: $(api_answer)"
    fi

    # The wrong token has the right length and differs in its last character only.
    last=${API_TOKEN: -1}
    if [ "$last" = 0 ]; then WRONG_TOKEN=${API_TOKEN%?}1; else WRONG_TOKEN=${API_TOKEN%?}0; fi
    UNAUTHORIZED=0
    for path in /metrics /stats /hosts "/hosts/$API_HOST/files" "/hosts/$API_HOST/logs" "/hosts/$API_HOST/ssh/logins" /alerts; do
        problems=()
        code=$(api_get "$path")
        if [ "$code" != 401 ] || ! _has_bearer_challenge; then problems+=("no token: $code: $(api_answer)"); fi
        code=$(api_get "$path" "$WRONG_TOKEN")
        if [ "$code" != 401 ] || ! _has_bearer_challenge; then problems+=("wrong token: $code: $(api_answer)"); fi
        code=$(api_get "$path" "$API_TOKEN")
        if [ "$code" != 200 ]; then problems+=("right token: $code: $(api_answer)"); fi
        UNAUTHORIZED=$((UNAUTHORIZED + 2))
        if [ ${#problems[@]} = 0 ]; then
            pass "GET $path: 401 with WWW-Authenticate without a token and with a wrong one, 200 with the token"
        else
            fail "GET $path: 401 with WWW-Authenticate without a token and with a wrong one, 200 with the token" "${problems[@]}"
        fi
    done

    code=$(api_get /hosts "$API_TOKEN")
    got=$(json_get "$API/body" '" ".join("%s:%s:%s:%s" % (h["host"], h["messages"], h["ssh_failures"], h["url"]) for h in d["data"])')
    if [ "$code" = 200 ] && [ "$got" = "$API_HOST:15:3:/hosts/$API_HOST/files" ]; then
        pass "GET /hosts lists exactly the host that sent, with its 15 messages and 3 ssh failures"
    else
        fail "GET /hosts lists exactly the host that sent, with its 15 messages and 3 ssh failures" \
            "expected '$API_HOST:15:3:/hosts/$API_HOST/files' (host:messages:ssh_failures:url), got '$got'" "$code: $(api_answer)"
    fi
    code=$(api_get "/hosts/$API_HOST/logs?filter=needle-$RUN&count=2" "$API_TOKEN")
    got=$(json_get "$API/body" '"|".join(x["line"].split(" - - - ")[-1] for x in d["data"])')
    if [ "$code" = 200 ] && [ "$got" = "needle-$RUN #6|needle-$RUN #5" ]; then
        pass "GET /hosts/H/logs?filter=X&count=2: the 2 newest matching lines, newest first"
    else
        fail "GET /hosts/H/logs?filter=X&count=2: the 2 newest matching lines, newest first" \
            "expected 'needle-$RUN #6|needle-$RUN #5', got '$got'" "$code: $(api_answer)"
    fi
    code=$(api_get "/hosts/$API_HOST/files" "$API_TOKEN")
    got=$(json_get "$API/body" '" ".join(sorted(x["file"] + "=" + x["url"] for x in d["data"]))')
    if [ "$code" = 200 ] && [ "$got" = "app=/hosts/$API_HOST/logs?file=app sshd=/hosts/$API_HOST/logs?file=sshd" ]; then
        pass "GET /hosts/H/files lists the programs the host logged, with their URLs"
    else
        fail "GET /hosts/H/files lists the programs the host logged, with their URLs" "got '$got'" "$code: $(api_answer)"
    fi
    code=$(api_get "/hosts/$API_HOST/ssh/logins" "$API_TOKEN")
    got=$(json_get "$API/body" 'r = d["data"][0]; t = r["top_ips"][0]; print(r["day"], r["attempts"], r["failures"], r["successes"], t["ip"], t["attempts"], t["failures"], end="")')
    if [ "$code" = 200 ] && [ "$got" = "$(date -u +%F) 3 3 0 192.0.2.10 3 3" ]; then
        pass "GET /hosts/H/ssh/logins: today, 3 attempts (sshd PIDs), 3 failures, from 192.0.2.10"
    else
        fail "GET /hosts/H/ssh/logins: today, 3 attempts (sshd PIDs), 3 failures, from 192.0.2.10" \
            "expected '$(date -u +%F) 3 3 0 192.0.2.10 3 3', got '$got'" "$code: $(api_answer)"
    fi

    # Host names that would leave DATA/hosts, as sent (--path-as-is): refused before the store.
    for path in '/hosts/..%2F..%2Fetc/logs' '/hosts/%2e%2e/logs' '/hosts/a%2fb/logs' '/hosts/%00/logs' \
        '/hosts/../logs' "/hosts/${API_HOST^^}/logs"; do
        code=$(api_get "$path" "$API_TOKEN")
        if [ "$code" = 400 ]; then
            pass "GET $path: 400 (invalid host name)"
        else
            fail "GET $path: 400 (invalid host name), never 200" "$code: $(api_answer)"
        fi
    done
    code=$(api_get "/hosts/e2e-nosuch-$RUN/logs" "$API_TOKEN")
    if [ "$code" = 404 ]; then
        pass "GET /hosts/UNKNOWN/logs: 404"
    else
        fail "GET /hosts/UNKNOWN/logs: 404" "$code: $(api_answer)"
    fi

    # Oversized requests: a 20 KB request line, then 100 headers of 300 bytes.
    code=$(api_get "/hosts?pad=$(head -c 20000 /dev/zero | tr '\0' a)" "$API_TOKEN")
    if [ "$code" = 414 ]; then
        pass "a 20 KB request line: 414"
    else
        fail "a 20 KB request line: 414" "$code: $(api_answer)"
    fi
    pad=$(head -c 285 /dev/zero | tr '\0' b)
    headers=()
    for i in $(seq 100 199); do headers+=(-H "X-Pad-$i: $pad"); done
    code=$(api_get /healthz "" "${headers[@]}")
    if [ "$code" = 431 ]; then
        pass "100 headers of 300 bytes: 431"
    else
        fail "100 headers of 300 bytes: 431" "$code: $(api_answer)"
    fi
    code=$(api_get /healthz)
    if [ "$code" = 200 ] && kill -0 "$API_PID" 2>/dev/null; then
        pass "after the oversized requests vigil still answers"
    else
        fail "after the oversized requests vigil still answers" "$code: $(api_answer)"
    fi

    # /metrics: what Prometheus's own linter says, and the refusals counted.
    code=$(api_get /metrics "$API_TOKEN")
    cp "$API/body" "$API/metrics.txt"
    if PROMTOOL=$(extract_command promtool prometheus "$API_TOOLS"); then
        "$PROMTOOL" check metrics <"$API/metrics.txt" >"$API/promtool.out" 2>&1
        rc=$?
        if [ "$code" = 200 ] && [ "$rc" = 0 ]; then
            pass "promtool check metrics accepts /metrics ($(grep -c '^# TYPE' "$API/metrics.txt") families, $(grep -c '' "$API/promtool.out") lint line(s))"
            [ -s "$API/promtool.out" ] && sed 's/^/  promtool: /' "$API/promtool.out" >&2
        else
            fail "promtool check metrics accepts /metrics" "status $code, promtool exit $rc" "$(head -n 10 "$API/promtool.out")"
        fi
    else
        fail "promtool is available (unpacked from Debian's prometheus package)"
    fi
    got=$(sed -n 's/^vigil_api_unauthorized_total \([0-9]*\)$/\1/p' "$API/metrics.txt")
    if grep -q '^vigil_relay_rejected_total{reason="connection_not_allowed"} 0$' "$API/metrics.txt" \
        && [ "${got:-0}" -ge "$UNAUTHORIZED" ]; then
        pass "/metrics counts the refused API requests ($got) and has the relay families"
    else
        fail "/metrics counts the refused API requests and has the relay families" \
            "vigil_api_unauthorized_total=$got, expected >= $UNAUTHORIZED" "$(grep -E '^vigil_(api|relay)_' "$API/metrics.txt")"
    fi

    # 50 concurrent clients, 200 requests in all.
    codes=$(seq 1 200 | timeout 60 xargs -P 50 -I{} curl -s -o /dev/null --max-time 20 -w '%{http_code}\n' \
        -H "Authorization: Bearer $API_TOKEN" "http://127.0.0.1:$API_PORT/stats")
    ok=$(grep -c '^200$' <<<"$codes")
    if [ "$ok" = 200 ]; then
        pass "50 concurrent clients: all 200 requests to /stats get 200"
    else
        fail "50 concurrent clients: all 200 requests to /stats get 200" \
            "$ok got 200; others: $(grep -v '^200$' <<<"$codes" | sort | uniq -c | tr '\n' ' ')"
    fi

    stop_pid "$API_PID" 15
    rc=$?
    if [ "$rc" = 0 ]; then pass "SIGTERM: vigil with the API on exits 0"; else fail "SIGTERM: vigil with the API on exits 0" "exit status $rc"; fi

    # VIGIL_API_TOKEN replaces the token of DATA/api-token (same data directory, still loopback).
    ENV_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    if VIGIL_API_TOKEN=$ENV_TOKEN VIGIL_HTTP=1 start_vigil "$API/data" "$API/vigil-env.stderr" --stats-interval 1s; then
        API_PID=$VIGIL_PID
        EXTRA_PIDS+=("$API_PID")
        API_PORT=$VIGIL_HTTP_PORT
        env_code=$(api_get /hosts "$ENV_TOKEN")
        env_body=$(cat "$API/body")
        file_code=$(api_get /hosts "$API_TOKEN")
        if [ "$env_code" = 200 ] && [ "$file_code" = 401 ] && _has_bearer_challenge \
            && ! grep -q '^vigil: api: the bearer token is in' "$API/vigil-env.stderr"; then
            pass "with VIGIL_API_TOKEN set, that token is accepted and the token file's refused"
        else
            fail "with VIGIL_API_TOKEN set, that token is accepted and the token file's refused" \
                "env token: $env_code: ${env_body:0:200}" "file token: $file_code: $(api_answer)" "$(grep '^vigil: api' "$API/vigil-env.stderr")"
        fi
        if [ "$env_code" = 200 ] && grep -qF "\"host\":\"$API_HOST\"" <<<"$env_body"; then
            pass "after a restart, /hosts lists the hosts of the store"
        else
            fail "after a restart, /hosts lists the hosts of the store" "${env_body:0:300}"
        fi
        stop_pid "$API_PID" 15 || true
    else
        fail "vigil serve starts with VIGIL_API_TOKEN set"
    fi

    # --api.token VALUE: accepted, and VALUE is not in what every user reads in ps / cmdline;
    # nor is a webhook sink's URL (its path is often the credential), given as --sink.NAME.url=URL.
    FLAG_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    HOOK_URL="http://127.0.0.1:9/hooks/$FLAG_TOKEN"
    if VIGIL_HTTP=1 start_vigil "$API/data" "$API/vigil-flag.stderr" --api.token "$FLAG_TOKEN" --sink.hook.url="$HOOK_URL"; then
        API_PID=$VIGIL_PID
        EXTRA_PIDS+=("$API_PID")
        API_PORT=$VIGIL_HTTP_PORT
        flag_code=$(api_get /hosts "$FLAG_TOKEN")
        shown=$(tr '\0' ' ' <"/proc/$API_PID/cmdline")
        if [ "$flag_code" = 200 ] && ! grep -qF "$FLAG_TOKEN" <<<"$shown" && ! ps -o args= -p "$API_PID" | grep -qF "$FLAG_TOKEN" \
            && grep -qF -- "--api.token ********************************" <<<"$shown" \
            && grep -qF -- "--sink.hook.url=$(printf '%*s' ${#HOOK_URL} '' | tr ' ' '*')" <<<"$shown"; then
            pass "--api.token and --sink.NAME.url: the token is accepted, both hidden from ps and /proc/PID/cmdline"
        else
            fail "--api.token and --sink.NAME.url: the token is accepted, both hidden from ps and /proc/PID/cmdline" "status $flag_code" "cmdline: $shown"
        fi
        stop_pid "$API_PID" 15 || true
    else
        fail "vigil serve starts with --api.token"
    fi
fi

# --- a non-loopback API address without a token: refused by check-config, then by serve

NONLOOPBACK_MSG='server.http: 0.0.0.0:0 is not a loopback address and no API token is set'
printf '[server]\nhttp = ["0.0.0.0:0"]\n' >"$API/nonloopback.toml"
env -u VIGIL_API_TOKEN timeout 10 "$VIGIL" check-config "$API/nonloopback.toml" >"$API/check-config.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -qF "$API/nonloopback.toml:2: $NONLOOPBACK_MSG" "$API/check-config.out"; then
    pass "check-config: http on 0.0.0.0 without a token exits 2, naming the file and line ($NONLOOPBACK_MSG)"
    CHECKED_NONLOOPBACK=1
else
    fail "check-config: http on 0.0.0.0 without a token exits 2" "exit $rc: $(cat "$API/check-config.out")"
    CHECKED_NONLOOPBACK=0
fi
printf '[server]\nhttp = ["0.0.0.0:0"]\n[api]\ntoken = "e2e-%s"\n' "$RUN" >"$API/nonloopback-token.toml"
# A config file holding the token is as secret as a token file: every user reading it is refused.
chmod 644 "$API/nonloopback-token.toml"
env -u VIGIL_API_TOKEN timeout 10 "$VIGIL" check-config "$API/nonloopback-token.toml" >"$API/check-config-token.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q "nonloopback-token.toml:4: api.token: .*can be read by every user" "$API/check-config-token.out" \
    && [ "$(grep -c '' "$API/check-config-token.out")" = 1 ]; then
    pass "check-config: a config holding [api] token that every user can read is refused in one line (exit 2)"
else
    fail "check-config: a config holding [api] token that every user can read is refused in one line (exit 2)" \
        "exit $rc: $(cat "$API/check-config-token.out")"
fi
chmod 640 "$API/nonloopback-token.toml"
env -u VIGIL_API_TOKEN timeout 10 "$VIGIL" check-config "$API/nonloopback-token.toml" >"$API/check-config-token.out" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
    pass "check-config: http on 0.0.0.0 with [api] token (config mode 640) is accepted"
else
    fail "check-config: http on 0.0.0.0 with [api] token is accepted" "exit $rc: $(cat "$API/check-config-token.out")"
fi
# A token file other users can read is refused with one line naming the key, and not used.
printf 'e2e-file-token\n' >"$API/open-token"
chmod 644 "$API/open-token"
printf '[server]\nhttp = ["127.0.0.1:0"]\n[api]\ntoken_file = "%s"\n' "$API/open-token" >"$API/open-token.toml"
env -u VIGIL_API_TOKEN timeout 10 "$VIGIL" check-config "$API/open-token.toml" >"$API/check-config-open.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q "open-token.toml:4: api.token_file: .*open-token is open to other users" "$API/check-config-open.out" \
    && [ "$(grep -c '' "$API/check-config-open.out")" = 1 ]; then
    pass "check-config: an API token file readable by others is refused in one line (exit 2)"
else
    fail "check-config: an API token file readable by others is refused in one line (exit 2)" \
        "exit $rc: $(cat "$API/check-config-open.out")"
fi
# Only once check-config refuses it: should serve start after all, it is killed as soon as it
# says it listens (on an ephemeral port, for an instant).
_serve_settled() { ! kill -0 "$2" 2>/dev/null || grep -q '^vigil: listening http' "$1"; }
if [ "$CHECKED_NONLOOPBACK" = 1 ]; then
    mkdir -p "$API/nonloopback"
    started=$(now_us)
    env -u VIGIL_API_TOKEN "$VIGIL" serve --http 0.0.0.0:0 --udp 127.0.0.1:0 --tcp 127.0.0.1:0 \
        --data-dir "$API/nonloopback" >/dev/null 2>"$API/nonloopback.stderr" &
    NL_PID=$!
    EXTRA_PIDS+=("$NL_PID")
    wait_for 10 _serve_settled "$API/nonloopback.stderr" "$NL_PID"
    kill -0 "$NL_PID" 2>/dev/null && kill -KILL "$NL_PID"
    wait "$NL_PID" 2>/dev/null
    rc=$?
    took=$(( ($(now_us) - started) / 1000 ))
    if [ "$rc" = 2 ] && grep -q "^vigil: $NONLOOPBACK_MSG" "$API/nonloopback.stderr"; then
        pass "serve --http 0.0.0.0:0 without a token exits 2 in $took ms, saying why"
    else
        fail "serve --http 0.0.0.0:0 without a token exits 2, saying why" "exit $rc after $took ms" "$(head -n 5 "$API/nonloopback.stderr")"
    fi
fi
