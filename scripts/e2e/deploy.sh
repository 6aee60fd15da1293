# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, WORK, ROOT, RUN, EXTRA_PIDS, MADE_RUN_SSHD
# and lib.sh's helpers): scripts/deploy.sh for real, over ssh, to a private sshd on a free loopback
# port (key authentication with a key generated here, its host key pinned in a known_hosts file):
#   - --dry-run prints the commands and changes nothing (no file, no ssh login);
#   - a deploy to root@127.0.0.1 --root DIR --forward rsyslog --collector 127.0.0.1:PORT installs
#     below DIR the binary (scripts/install.sh's static build), conf/vigil.conf, conf/vigil.service
#     and conf/rsyslog-forward.conf as etc/rsyslog.d/60-vigil.conf with target and port set, and
#     reports the host healthy;
#   - a second deploy, and a dry run, change nothing (same contents, modes and mtimes); an edited
#     config is kept when no --config is given; a config check-config refuses is not deployed;
#   - --config replaces only the config; a host that cannot log in fails alone, named, exit 1;
#   - --forward vigil --forward-files FILE installs vigil-forward.service and forward.env with
#     VIGIL_FORWARD_TO and VIGIL_FORWARD_FILES; --forward-files without --forward vigil, or with a
#     relative path, is refused (exit 2);
#   - the installed binary started as the unit's ExecStart runs it (paths below DIR, listeners on
#     free loopback ports) reaches `vigil: ready` and stores a logger line; vigil-forward.service's
#     ExecStart with the deployed forward.env ships a new line of FILE to it;
#   - scripts/deploy-remote.sh's systemd steps, run directly with a stand-in systemctl that records
#     its calls: reload, enable, restart, is-active the first time; no restart the second time.
# Every server listens on loopback only; every wait is bounded.

DEP=$WORK/deploy
DEP_ROOT=$DEP/root
mkdir -p "$DEP"
ensure_command sshd openssh-server
ensure_command ssh openssh-client
ensure_command logger bsdutils

# dep_state DIR: one line per path below DIR with size, mode and mtime (nothing when DIR is absent).
dep_state() { [ -e "$1" ] || return 0; find "$1" -printf '%p %s %m %T@\n' | sort; }
# dep_logins: public-key logins the private sshd has accepted so far.
dep_logins() { grep -c 'Accepted publickey' "$DEP/sshd.stderr" 2>/dev/null || true; }

DEP_SSHD=$(command -v sshd)
DEP_SSH_PORT=$(free_port)
ssh-keygen -q -t ed25519 -N '' -C vigil-e2e-host -f "$DEP/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C vigil-e2e-deploy -f "$DEP/client_ed25519"
cp "$DEP/client_ed25519.pub" "$DEP/authorized_keys"
printf '[127.0.0.1]:%s %s\n' "$DEP_SSH_PORT" "$(cut -d' ' -f1,2 "$DEP/host_ed25519.pub")" >"$DEP/known_hosts"
cat >"$DEP/sshd_config" <<EOF
# Private sshd for scripts/e2e/deploy.sh: loopback only, public keys only, its own host key.
HostKey $DEP/host_ed25519
PidFile $DEP/sshd.pid
ListenAddress 127.0.0.1
Port $DEP_SSH_PORT
LogLevel INFO
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile $DEP/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
EOF
if [ ! -d /run/sshd ]; then
    # shellcheck disable=SC2034  # read by scripts/e2e.sh's cleanup, which removes it
    mkdir -m 755 /run/sshd && MADE_RUN_SSHD=1
fi
"$DEP_SSHD" -D -e -f "$DEP/sshd_config" 2>"$DEP/sshd.stderr" &
DEP_SSHD_PID=$!
EXTRA_PIDS+=("$DEP_SSHD_PID")
DEP_UP=0
if wait_for 10 tcp_listening "$DEP_SSH_PORT" && kill -0 "$DEP_SSHD_PID" 2>/dev/null; then
    pass "private sshd for deploy.sh listens on 127.0.0.1:$DEP_SSH_PORT (public keys only)"
    DEP_UP=1
else
    fail "private sshd for deploy.sh listens on 127.0.0.1:$DEP_SSH_PORT" "$(cat "$DEP/sshd.stderr")"
fi

printf '# e2e target\nroot@127.0.0.1\n' >"$DEP/hosts"
DEP_COLLECTOR_PORT=$(free_port)
DEP_SSH_OPTS="-F /dev/null -p $DEP_SSH_PORT -i $DEP/client_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=$DEP/known_hosts -o StrictHostKeyChecking=yes"
DEP_ARGS=("$DEP/hosts" --root "$DEP_ROOT" --forward rsyslog --collector "127.0.0.1:$DEP_COLLECTOR_PORT"
    --ssh-opts "$DEP_SSH_OPTS")

if [ "$DEP_UP" = 1 ]; then
    # --- a dry run on an empty root: commands printed, nothing done, no login
    logins0=$(dep_logins)
    if "$ROOT/scripts/deploy.sh" "${DEP_ARGS[@]}" --dry-run >"$DEP/dry1.out" 2>"$DEP/dry1.stderr" \
        && [ ! -e "$DEP_ROOT" ] && [ "$(dep_logins)" = "$logins0" ] \
        && grep -q 'ssh .*root@127.0.0.1' "$DEP/dry1.out" && grep -q 'install .*/usr/local/bin/vigil' "$DEP/dry1.out"; then
        pass "deploy.sh --dry-run prints the ssh and install commands and changes nothing (no file, no login)"
    else
        fail "deploy.sh --dry-run prints the commands and changes nothing" "$(tail -n 3 "$DEP/dry1.out" "$DEP/dry1.stderr")"
    fi

    # --- the real deploy
    dep_start=$(now_us)
    if "$ROOT/scripts/deploy.sh" "${DEP_ARGS[@]}" >"$DEP/deploy1.out" 2>"$DEP/deploy1.stderr"; then
        dep_ms=$(( ($(now_us) - dep_start) / 1000 ))
        built=$("$ROOT/scripts/install.sh" --build-only 2>/dev/null)
        problems=
        cmp -s "$built" "$DEP_ROOT/usr/local/bin/vigil" || problems+=" binary;"
        [ "$(stat -c %a "$DEP_ROOT/usr/local/bin/vigil" 2>/dev/null)" = 755 ] || problems+=" binary mode;"
        cmp -s "$ROOT/conf/vigil.conf" "$DEP_ROOT/etc/vigil/vigil.conf" || problems+=" vigil.conf;"
        cmp -s "$ROOT/conf/vigil.service" "$DEP_ROOT/etc/systemd/system/vigil.service" || problems+=" vigil.service;"
        [ -d "$DEP_ROOT/var/lib/vigil" ] || problems+=" var/lib/vigil;"
        snippet=$DEP_ROOT/etc/rsyslog.d/60-vigil.conf
        if ! grep -q '^[[:space:]]*target="127\.0\.0\.1"' "$snippet" 2>/dev/null \
            || ! grep -q "^[[:space:]]*port=\"$DEP_COLLECTOR_PORT\"" "$snippet" \
            || [ "$(diff "$ROOT/conf/rsyslog-forward.conf" "$snippet" | grep -c '^>')" != 2 ]; then
            problems+=" rsyslog snippet;"
        fi
        grep -q '^\[root@127\.0\.0\.1\] healthy' "$DEP/deploy1.out" || problems+=" no healthy line;"
        [ "$(dep_logins)" -gt "$logins0" ] || problems+=" no ssh login in sshd's log;"
        if [ -z "$problems" ]; then
            pass "deploy.sh to root@127.0.0.1 over ssh (${dep_ms} ms): binary, conf/vigil.conf, vigil.service, 60-vigil.conf (target 127.0.0.1, port $DEP_COLLECTOR_PORT) below --root; host healthy"
        else
            fail "deploy.sh installs everything below --root" "wrong:$problems" "$(tail -n 5 "$DEP/deploy1.out")"
        fi
    else
        fail "deploy.sh to root@127.0.0.1 over ssh succeeds" "$(tail -n 8 "$DEP/deploy1.out" "$DEP/deploy1.stderr")"
    fi

    # --- twice: nothing changes; a dry run changes nothing either
    dep_state "$DEP_ROOT" >"$DEP/state1"
    if "$ROOT/scripts/deploy.sh" "${DEP_ARGS[@]}" >"$DEP/deploy2.out" 2>"$DEP/deploy2.stderr"; then
        dep_state "$DEP_ROOT" >"$DEP/state2"
        if [ -s "$DEP/state1" ] && cmp -s "$DEP/state1" "$DEP/state2" && ! grep -q '] installed' "$DEP/deploy2.out"; then
            pass "a second deploy.sh changes nothing ($(wc -l <"$DEP/state2") paths: same contents, modes, mtimes)"
        else
            fail "a second deploy.sh changes nothing" "$(diff "$DEP/state1" "$DEP/state2" | head -n 6)" \
                "$(grep '] installed' "$DEP/deploy2.out" | head -n 3)"
        fi
    else
        fail "a second deploy.sh succeeds" "$(tail -n 8 "$DEP/deploy2.out" "$DEP/deploy2.stderr")"
    fi
    logins0=$(dep_logins)
    if "$ROOT/scripts/deploy.sh" "${DEP_ARGS[@]}" --dry-run >"$DEP/dry2.out" 2>"$DEP/dry2.stderr" \
        && dep_state "$DEP_ROOT" | cmp -s - "$DEP/state1" && [ "$(dep_logins)" = "$logins0" ]; then
        pass "deploy.sh --dry-run over an installed root changes nothing"
    else
        fail "deploy.sh --dry-run over an installed root changes nothing"
    fi

    # --- the config: an edited one is kept without --config; a refused one is not deployed
    sed -i "s/^max_age_days = 30\$/max_age_days = 14  # edited on the host $RUN/" "$DEP_ROOT/etc/vigil/vigil.conf"
    dep_state "$DEP_ROOT" >"$DEP/state3"
    if "$ROOT/scripts/deploy.sh" "${DEP_ARGS[@]}" >"$DEP/deploy3.out" 2>"$DEP/deploy3.stderr" \
        && dep_state "$DEP_ROOT" | cmp -s - "$DEP/state3" && grep -q '] kept .*vigil.conf' "$DEP/deploy3.out"; then
        pass "deploy.sh without --config keeps the host's edited vigil.conf"
    else
        fail "deploy.sh without --config keeps the host's edited vigil.conf" "$(tail -n 5 "$DEP/deploy3.out" "$DEP/deploy3.stderr")"
    fi
    printf '[server]\nudp = 5\n' >"$DEP/bad.conf"
    rc=0
    "$ROOT/scripts/deploy.sh" "${DEP_ARGS[@]}" --config "$DEP/bad.conf" >"$DEP/deploy4.out" 2>"$DEP/deploy4.stderr" || rc=$?
    if [ "$rc" = 2 ] && dep_state "$DEP_ROOT" | cmp -s - "$DEP/state3" && grep -q 'refused by check-config' "$DEP/deploy4.stderr"; then
        pass "deploy.sh --config with a config check-config refuses: exit 2, nothing deployed"
    else
        fail "deploy.sh --config with a refused config: exit 2, nothing deployed" "exit $rc; $(tail -n 3 "$DEP/deploy4.stderr")"
    fi

    # --- --config replaces the host's config, and only it
    dep_state "$DEP_ROOT" | grep -v '/etc/vigil' >"$DEP/state5"
    if "$ROOT/scripts/deploy.sh" "${DEP_ARGS[@]}" --config "$ROOT/conf/vigil.conf" >"$DEP/deploy5.out" 2>"$DEP/deploy5.stderr" \
        && cmp -s "$ROOT/conf/vigil.conf" "$DEP_ROOT/etc/vigil/vigil.conf" \
        && dep_state "$DEP_ROOT" | grep -v '/etc/vigil' | cmp -s - "$DEP/state5" \
        && [ "$(grep -c '] installed' "$DEP/deploy5.out")" = 1 ]; then
        pass "deploy.sh --config replaces the host's edited vigil.conf and writes nothing else"
    else
        fail "deploy.sh --config replaces the host's vigil.conf and writes nothing else" "$(grep '] installed' "$DEP/deploy5.out")" \
            "$(tail -n 3 "$DEP/deploy5.stderr")"
    fi

    # --- a host that fails (nobody cannot log in) fails alone, named, exit 1
    printf 'root@127.0.0.1\nnobody@127.0.0.1\n' >"$DEP/hosts2"
    rc=0
    "$ROOT/scripts/deploy.sh" "$DEP/hosts2" "${DEP_ARGS[@]:1}" >"$DEP/deploy6.out" 2>"$DEP/deploy6.stderr" || rc=$?
    if [ "$rc" = 1 ] && grep -q '^deployed: 1 ok, 1 failed (nobody@127.0.0.1)' "$DEP/deploy6.out"; then
        pass "deploy.sh with a failing host: exit 1, the other host deployed, the failed one named"
    else
        fail "deploy.sh with a failing host: exit 1 naming it" "exit $rc; $(tail -n 3 "$DEP/deploy6.out")"
    fi

    # --- --forward vigil, with --forward-files naming a file of this test's (a host without
    # nginx cannot run the unit's default, whose /var/log/nginx does not exist there)
    DEP_ROOT2=$DEP/root-forward
    DEP_FWD_SRC=$DEP/forward-src/app.log
    if "$ROOT/scripts/deploy.sh" "$DEP/hosts" --root "$DEP_ROOT2" --forward vigil \
        --collector "127.0.0.1:$DEP_COLLECTOR_PORT" --forward-files "$DEP_FWD_SRC" --ssh-opts "$DEP_SSH_OPTS" \
        >"$DEP/deploy7.out" 2>"$DEP/deploy7.stderr" \
        && cmp -s "$ROOT/conf/vigil-forward.service" "$DEP_ROOT2/etc/systemd/system/vigil-forward.service" \
        && grep -qx "VIGIL_FORWARD_TO=tcp://127.0.0.1:$DEP_COLLECTOR_PORT" "$DEP_ROOT2/etc/vigil/forward.env" \
        && grep -qx "VIGIL_FORWARD_FILES=\"$DEP_FWD_SRC\"" "$DEP_ROOT2/etc/vigil/forward.env"; then
        pass "deploy.sh --forward vigil --forward-files installs vigil-forward.service and forward.env (VIGIL_FORWARD_TO, VIGIL_FORWARD_FILES)"
    else
        fail "deploy.sh --forward vigil --forward-files installs vigil-forward.service and forward.env" \
            "$(tail -n 5 "$DEP/deploy7.out" "$DEP/deploy7.stderr" "$DEP_ROOT2/etc/vigil/forward.env")"
    fi
    rc=0
    "$ROOT/scripts/deploy.sh" "${DEP_ARGS[@]}" --forward-files /var/log/auth.log >"$DEP/deploy8.out" 2>"$DEP/deploy8.stderr" || rc=$?
    rc2=0
    "$ROOT/scripts/deploy.sh" "$DEP/hosts" --root "$DEP_ROOT2" --forward vigil --collector "127.0.0.1:$DEP_COLLECTOR_PORT" \
        --forward-files "/var/log/auth.log relative.log" --ssh-opts "$DEP_SSH_OPTS" >"$DEP/deploy9.out" 2>"$DEP/deploy9.stderr" || rc2=$?
    if [ "$rc" = 2 ] && grep -q 'needs --forward vigil' "$DEP/deploy8.stderr" \
        && [ "$rc2" = 2 ] && grep -q "'relative.log' is not an absolute path" "$DEP/deploy9.stderr"; then
        pass "deploy.sh refuses --forward-files without --forward vigil, and a relative path in it (exit 2)"
    else
        fail "deploy.sh refuses --forward-files without --forward vigil, and a relative path in it" \
            "exit $rc: $(cat "$DEP/deploy8.stderr")" "exit $rc2: $(cat "$DEP/deploy9.stderr")"
    fi

    # deployed_forward_delivers: runs vigil-forward.service's ExecStart as systemd would (its
    # Environment= defaults, then the deployed forward.env, whose VIGIL_FORWARD_FILES names this
    # test's file; paths below the root, a private state directory) against the collector the
    # forward deploy named, which the deployed vigil.service is now serving: a new line arrives.
    deployed_forward_delivers() {
        local unit=$DEP_ROOT2/etc/systemd/system/vigil-forward.service line words w files cmd=() fwd_pid src=$DEP_FWD_SRC
        mkdir -p "$DEP/forward-src" "$DEP/forward-state"
        line=$(sed -n 's/^ExecStart=//p' "$unit" | head -n1)
        # shellcheck disable=SC1091
        VIGIL_FORWARD_TO=$(. "$DEP_ROOT2/etc/vigil/forward.env" && printf '%s' "$VIGIL_FORWARD_TO")
        # shellcheck disable=SC1091
        read -ra files <<<"$(. "$DEP_ROOT2/etc/vigil/forward.env" && printf '%s' "$VIGIL_FORWARD_FILES")"
        read -ra words <<<"$line"
        for w in "${words[@]}"; do
            case $w in
                '$VIGIL_FORWARD_FILES') cmd+=("${files[@]}"); continue ;;
                '${VIGIL_FORWARD_TO}') w=$VIGIL_FORWARD_TO ;;
                /var/lib/vigil-forward) w=$DEP/forward-state ;;
                /*) w=$DEP_ROOT2$w ;;
            esac
            cmd+=("$w")
        done
        "${cmd[@]}" 2>"$DEP/forward-unit.stderr" &
        fwd_pid=$!
        EXTRA_PIDS+=("$fwd_pid")
        # The file appears after forward watches for it, so it is read from its start.
        wait_for 10 grep -q 'does not exist yet' "$DEP/forward-unit.stderr"
        printf 'e2e-deploy-forward-%s\n' "$RUN" >"$src"
        if wait_for 10 grep -rqF -- "e2e-deploy-forward-$RUN" "$DEP_ROOT/var/lib/vigil/hosts"; then
            pass "the deployed vigil-forward.service, run as its ExecStart with forward.env, delivers a new line to the collector"
        else
            fail "the deployed vigil-forward.service delivers a new line" "${cmd[*]}" "$(tail -n 3 "$DEP/forward-unit.stderr")"
        fi
        stop_pid "$fwd_pid" 10 || fail "the deployed vigil forward exits 0 on SIGTERM"
    }

    # --- the installed binary, started as the unit's ExecStart runs it
    exec_line=$(sed -n 's/^ExecStart=//p' "$DEP_ROOT/etc/systemd/system/vigil.service" 2>/dev/null | head -n1)
    read -ra exec_words <<<"$exec_line"
    # TCP on the port the forward deploy named as the collector, so the deployed forward (below) sends to it.
    unit_cmd=()
    prev=
    for w in "${exec_words[@]}"; do
        case $w in
            /*) w=$DEP_ROOT$w ;;
            *:514) if [ "$prev" = --tcp ]; then w=127.0.0.1:$DEP_COLLECTOR_PORT; else w=127.0.0.1:0; fi ;;
        esac
        unit_cmd+=("$w")
        prev=$w
    done
    if [ ${#unit_cmd[@]} -gt 2 ] && [ -x "${unit_cmd[0]}" ]; then
        # The config's API port (8514) may be taken on this machine: a free one instead.
        : >"$DEP/unit.stderr"
        "${unit_cmd[@]}" --http 127.0.0.1:0 >/dev/null 2>"$DEP/unit.stderr" &
        DEP_VIGIL_PID=$!
        EXTRA_PIDS+=("$DEP_VIGIL_PID")
        if wait_for 10 _vigil_ready "$DEP/unit.stderr" "$DEP_VIGIL_PID" && grep -q '^vigil: ready' "$DEP/unit.stderr"; then
            dep_tcp=$(sed -n 's/^vigil: listening tcp 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$DEP/unit.stderr" | head -n1)
            logger -n 127.0.0.1 -P "$dep_tcp" -T --octet-count --rfc5424 -t e2edeploy "e2e-deploy-$RUN"
            if wait_for 5 grep -rqF -- "e2e-deploy-$RUN" "$DEP_ROOT/var/lib/vigil/hosts"; then
                pass "the deployed binary run as the unit's ExecStart (below --root, loopback ports) is ready and stores a logger line in var/lib/vigil"
            else
                fail "the deployed binary run as the unit's ExecStart stores a logger line" "$(tail -n 3 "$DEP/unit.stderr")"
            fi
            deployed_forward_delivers
        else
            fail "the deployed binary run as the unit's ExecStart reaches vigil: ready" "${unit_cmd[*]}" "$(tail -n 3 "$DEP/unit.stderr")"
        fi
        stop_pid "$DEP_VIGIL_PID" 10 || fail "the deployed binary exits 0 on SIGTERM"
    else
        fail "the deployed vigil.service has an ExecStart naming the deployed binary" "ExecStart=$exec_line"
    fi
fi

# --- the systemd steps of scripts/deploy-remote.sh, with a stand-in systemctl that records its
# calls (no systemd runs here): the first run reloads, enables, restarts and checks; a second run
# restarts nothing; a service found stopped is restarted.
DEP_SD=$DEP/systemd
mkdir -p "$DEP_SD/bin" "$DEP_SD/bundle"
cat >"$DEP_SD/bin/systemctl" <<'EOF'
#!/bin/sh
# Stand-in systemctl for scripts/e2e/deploy.sh: records each call; a restarted unit is active.
echo "$*" >>"$FAKE_SYSTEMCTL_LOG"
case $1 in
    is-active) for a in "$@"; do u=$a; done; [ -e "$FAKE_SYSTEMCTL_LOG.$u" ] ;;
    restart) : >"$FAKE_SYSTEMCTL_LOG.$2" ;;
esac
EOF
chmod +x "$DEP_SD/bin/systemctl"
if dep_bin=$("$ROOT/scripts/install.sh" --build-only 2>/dev/null); then
    cp "$dep_bin" "$DEP_SD/bundle/vigil"
    cp "$ROOT/conf/vigil.service" "$DEP_SD/bundle/vigil.service"
    cp "$ROOT/conf/vigil.conf" "$DEP_SD/bundle/vigil.conf"
    sed 's/^\([[:space:]]*target=\)"[^"]*"/\1"127.0.0.1"/' "$ROOT/conf/rsyslog-forward.conf" >"$DEP_SD/bundle/60-vigil.conf"
    printf "ROOT_DIR='%s'\nCONFIG_MODE=keep\nFORWARD='rsyslog'\nPLAN=0\n" "$DEP_SD/root" >"$DEP_SD/bundle/settings"
    export FAKE_SYSTEMCTL_LOG=$DEP_SD/calls
    # sd_run N: runs the remote half once; its systemctl calls go to $DEP_SD/calls.N.
    sd_run() {
        local rc=0
        : >"$FAKE_SYSTEMCTL_LOG"
        PATH=$DEP_SD/bin:$PATH TEST_SYSTEMD=1 sh "$ROOT/scripts/deploy-remote.sh" "$DEP_SD/bundle" >"$DEP_SD/out.$1" 2>&1 || rc=$?
        cp "$FAKE_SYSTEMCTL_LOG" "$DEP_SD/calls.$1"
        return "$rc"
    }
    sd_calls() { paste -sd ';' "$DEP_SD/calls.$1"; }
    if sd_run 1 && grep -qx 'daemon-reload' "$DEP_SD/calls.1" && grep -qx 'restart vigil.service' "$DEP_SD/calls.1" \
        && grep -qx 'restart rsyslog.service' "$DEP_SD/calls.1" && grep -qx 'enable --quiet vigil.service' "$DEP_SD/calls.1" \
        && grep -q '^healthy    vigil.service is active' "$DEP_SD/out.1"; then
        pass "deploy-remote.sh with systemd, first run: $(sd_calls 1)"
    else
        fail "deploy-remote.sh with systemd, first run: daemon-reload, enable, restart, is-active" "calls: $(sd_calls 1)" "$(tail -n 3 "$DEP_SD/out.1")"
    fi
    if sd_run 2 && ! grep -q 'restart\|daemon-reload' "$DEP_SD/calls.2" && grep -q '^healthy' "$DEP_SD/out.2"; then
        pass "deploy-remote.sh with systemd, second run reloads and restarts nothing: $(sd_calls 2)"
    else
        fail "deploy-remote.sh with systemd, second run restarts nothing" "calls: $(sd_calls 2)"
    fi
    rm -f "$FAKE_SYSTEMCTL_LOG.vigil.service"
    if sd_run 3 && grep -qx 'restart vigil.service' "$DEP_SD/calls.3" && ! grep -q 'rsyslog' "$DEP_SD/calls.3"; then
        pass "deploy-remote.sh with systemd: a stopped vigil.service is restarted, rsyslog left alone"
    else
        fail "deploy-remote.sh with systemd: a stopped vigil.service is restarted" "calls: $(sd_calls 3)"
    fi
    unset FAKE_SYSTEMCTL_LOG
else
    fail "scripts/install.sh --build-only prints the static binary"
fi
