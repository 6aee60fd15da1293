# shellcheck shell=bash
# Sourced by scripts/e2e.sh (which defines pass, fail, WORK, ROOT, RUN, EXTRA_PIDS and lib.sh's
# helpers): installing vigil, its systemd units, and the Dockerfile's build stage.
#   - scripts/install.sh PREFIX into a temporary prefix builds with --static-swift-stdlib and
#     installs bin/vigil, etc/vigil/vigil.conf, var/lib/vigil and lib/systemd/system/*.service;
#   - the installed binary: `--version` and `version` print `vigil X.Y.Z` (the constant in
#     Sources/vigil/Version.swift); ldd shows no libswift*.so; `serve` with the installed config
#     reaches `vigil: ready` on free loopback ports and stores a logger line;
#   - a second install changes nothing (same contents, modes and mtimes) and keeps an edited config;
#   - `systemd-analyze verify` accepts every installed unit of conf/, and the config the unit names
#     was installed;
#   - the Dockerfile's build stage: its COPY lines copy exactly those paths from a clean
#     `git archive HEAD` into an empty context, its RUN command builds there (/out/ mapped to a
#     directory of the test), and the binary the final stage copies runs `--version` and needs only
#     libraries debian:bookworm-slim has; without any one of its COPY lines the build fails.
# Every server listens on loopback only; every wait is bounded.

INST=$WORK/install
INST_PREFIX=$INST/prefix
mkdir -p "$INST"
ensure_command logger bsdutils

# tree_state DIR: one line per file and directory below DIR: path, size, mode, mtime.
tree_state() { find "$1" -printf '%p %s %m %T@\n' | sort; }

# --- scripts/install.sh into a temporary prefix

inst_start=$(now_us)
if scripts_out=$("$ROOT/scripts/install.sh" "$INST_PREFIX" 2>"$INST/install1.stderr"); then
    inst_ms=$(( ($(now_us) - inst_start) / 1000 ))
    printf '%s\n' "$scripts_out" >"$INST/install1.out"
    missing=
    for f in bin/vigil etc/vigil/vigil.conf var/lib/vigil lib/systemd/system/vigil.service; do
        [ -e "$INST_PREFIX/$f" ] || missing+=" $f"
    done
    if [ -z "$missing" ] && [ -x "$INST_PREFIX/bin/vigil" ]; then
        pass "scripts/install.sh PREFIX installs bin/vigil ($(stat -c %s "$INST_PREFIX/bin/vigil") bytes), etc/vigil/vigil.conf, var/lib/vigil, lib/systemd/system/vigil.service (${inst_ms} ms, build included)"
    else
        fail "scripts/install.sh PREFIX installs everything" "missing under $INST_PREFIX:$missing"
    fi
else
    fail "scripts/install.sh PREFIX succeeds" "$(tail -n 5 "$INST/install1.stderr")"
fi

IVIGIL=$INST_PREFIX/bin/vigil
if [ -x "$IVIGIL" ]; then
    want_version=$(sed -n 's/^let vigilVersion = "\([^"]*\)"$/\1/p' "$ROOT/Sources/vigil/Version.swift")
    v1=$("$IVIGIL" --version 2>&1)
    v2=$("$IVIGIL" version 2>&1)
    if [ -n "$want_version" ] && [ "$v1" = "vigil $want_version" ] && [ "$v2" = "$v1" ] \
        && "$IVIGIL" help | grep -q -- '--version'; then
        pass "installed vigil --version and vigil version print '$v1' (Sources/vigil/Version.swift); help lists --version"
    else
        fail "installed vigil --version prints 'vigil $want_version'" "--version: '$v1'; version: '$v2'"
    fi

    swift_libs=$(ldd "$IVIGIL" 2>&1 | grep -i 'libswift\|not found' || true)
    if [ -z "$swift_libs" ]; then
        pass "installed binary needs no toolchain library (ldd: $(ldd "$IVIGIL" | awk '{ print $1 }' | tr '\n' ' '))"
    else
        fail "installed binary needs no toolchain library" "$swift_libs"
    fi

    # serve with the installed config, as the unit runs it, but on free loopback ports.
    INST_MSG="e2e-install-$RUN"
    if VIGIL=$IVIGIL start_vigil "$INST/data" "$INST/serve.stderr" --config "$INST_PREFIX/etc/vigil/vigil.conf"; then
        EXTRA_PIDS+=("$VIGIL_PID")
        INST_PID=$VIGIL_PID
        logger -n 127.0.0.1 -P "$VIGIL_TCP_PORT" -T --octet-count --rfc5424 -t e2einstall "$INST_MSG"
        if wait_for 5 grep -rqF -- "$INST_MSG" "$INST/data/hosts"; then
            pass "installed vigil serve --config PREFIX/etc/vigil/vigil.conf is ready and stores a logger line"
        else
            fail "installed vigil serve stores a logger line" "$(tail -n 3 "$INST/serve.stderr")"
        fi
        stop_pid "$INST_PID" 10 || fail "installed vigil serve exits 0 on SIGTERM"
    else
        fail "installed vigil serve --config PREFIX/etc/vigil/vigil.conf reaches vigil: ready"
    fi
fi

# --- a second install: nothing changes, an edited config is kept

if [ -f "$INST_PREFIX/etc/vigil/vigil.conf" ]; then
    sed -i "s/^max_age_days = 30\$/max_age_days = 14  # edited by e2e $RUN/" "$INST_PREFIX/etc/vigil/vigil.conf"
    tree_state "$INST_PREFIX" >"$INST/state1"
    if "$ROOT/scripts/install.sh" "$INST_PREFIX" >"$INST/install2.out" 2>"$INST/install2.stderr"; then
        tree_state "$INST_PREFIX" >"$INST/state2"
        if cmp -s "$INST/state1" "$INST/state2" && grep -q '^0 changed' "$INST/install2.out" \
            && grep -q "edited by e2e $RUN" "$INST_PREFIX/etc/vigil/vigil.conf"; then
            pass "a second scripts/install.sh changes nothing ($(wc -l <"$INST/state2") paths: same contents, modes, mtimes) and keeps the edited vigil.conf"
        else
            fail "a second scripts/install.sh changes nothing" "$(diff "$INST/state1" "$INST/state2" | head -n 6)" \
                "$(grep -v '^unchanged' "$INST/install2.out" | head -n 3)"
        fi
    else
        fail "a second scripts/install.sh succeeds" "$(tail -n 5 "$INST/install2.stderr")"
    fi
fi

# --- systemd-analyze verify on every unit of conf/, as installed (it checks that ExecStart exists)

if ! command -v systemd-analyze >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    # Only when apt would remove nothing (e.g. no other init system to replace).
    _apt_update_once
    if DEBIAN_FRONTEND=noninteractive apt-get install -s --no-install-recommends systemd 2>/dev/null | grep -q '^Remv'; then
        say "installing systemd would remove packages; not installing it"
    else
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null 2>&1 \
            || say "apt-get install systemd failed"
    fi
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
    printf 'skipped systemd-analyze verify of conf/*.service: systemd-analyze is missing and the systemd package cannot be installed without disturbing this machine\n'
else
    for unit_src in "$ROOT"/conf/*.service; do
        unit=$INST_PREFIX/lib/systemd/system/${unit_src##*/}
        if [ ! -f "$unit" ]; then
            fail "scripts/install.sh installs conf/${unit_src##*/}"
            continue
        fi
        if out=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then
            pass "systemd-analyze verify conf/${unit_src##*/} (as installed): no complaint"
        else
            fail "systemd-analyze verify conf/${unit_src##*/} (as installed)" "$out"
        fi
    done
fi
unit_conf=$(grep -o -- '--config [^ ]*' "$INST_PREFIX/lib/systemd/system/vigil.service" 2>/dev/null | head -n1 | cut -d' ' -f2)
if [ -n "$unit_conf" ] && [ -f "$unit_conf" ] && "$IVIGIL" check-config "$unit_conf" >/dev/null 2>&1; then
    pass "the installed vigil.service names a config the install provided ($unit_conf), and check-config accepts it"
else
    fail "the installed vigil.service names a config the install provided" "ExecStart --config: '${unit_conf:-none}'"
fi

# --- the Dockerfile's build stage, without a Docker daemon

# docker_stage DOCKERFILE: the build stage (first FROM up to the next) with continuation lines
# joined and comments dropped, one instruction a line.
docker_stage() {
    sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' "$1" | grep -v '^[[:space:]]*#' | awk '/^FROM /{ n++ } n == 1'
}

# docker_context DOCKERFILE SRC CTX: copies into CTX what the build stage's COPY lines copy from
# SRC (Docker's semantics: a directory's contents go into DEST; DEST relative to WORKDIR). Fails,
# saying why, on a source that does not exist, that SRC/.dockerignore excludes, or a form it does
# not handle.
docker_context() {
    local dockerfile=$1 src=$2 ctx=$3 line workdir=/ words dest s target
    while IFS= read -r line; do
        read -ra words <<<"$line"
        case ${words[0]:-} in
            WORKDIR) workdir=${words[1]} ;;
            COPY | ADD)
                if [ "${words[0]}" != COPY ] || [[ ${words[1]} == --* ]] || [[ ${words[1]} == \[* ]]; then
                    echo "unsupported: $line"
                    return 1
                fi
                dest=${words[${#words[@]} - 1]}
                case $dest in
                    /*) [[ $dest == "$workdir"* ]] || { echo "unsupported destination outside WORKDIR: $line"; return 1; }
                        dest=${dest#"$workdir"}; dest=${dest#/} ;;
                esac
                for s in "${words[@]:1:${#words[@]}-2}"; do
                    [ -e "$src/$s" ] || { echo "COPY source $s is not in the checkout"; return 1; }
                    # Docker sends no path .dockerignore names (patterns here: plain paths and *).
                    if [ -f "$src/.dockerignore" ]; then
                        while IFS= read -r pat; do
                            case $pat in '' | '#'*) continue ;; esac
                            # shellcheck disable=SC2053  # pat is a glob on purpose
                            if [[ ${s%/} == $pat ]] || [[ ${s%/} == $pat/* ]]; then
                                echo "COPY source $s is excluded by .dockerignore ($pat)"
                                return 1
                            fi
                        done <"$src/.dockerignore"
                    fi
                    target=$ctx/$dest
                    if [ -d "$src/$s" ]; then
                        mkdir -p "$target" && cp -a "$src/$s/." "$target/"
                    elif [[ $dest == */ ]] || [ "$dest" = . ] || [ "${#words[@]}" -gt 3 ]; then
                        mkdir -p "$target" && cp -a "$src/$s" "$target/"
                    else
                        mkdir -p "$(dirname "$target")" && cp -a "$src/$s" "$target"
                    fi
                done ;;
        esac
    done < <(docker_stage "$dockerfile")
}

# docker_run DOCKERFILE CTX OUT LOG: runs the build stage's RUN commands in CTX with /bin/sh -c, as
# Docker does, /out/ replaced by OUT/. TMPDIR is the test's own: SwiftPM leaves a lock file there
# named after each build directory.
docker_run() {
    local dockerfile=$1 ctx=$2 out=$3 log=$4 cmd
    mkdir -p "$INST/tmp"
    while IFS= read -r cmd; do
        cmd=${cmd//\/out\//$out\/}
        (cd "$ctx" && TMPDIR=$INST/tmp sh -c "$cmd") >>"$log" 2>&1 || return 1
    done < <(docker_stage "$dockerfile" | sed -n 's/^RUN[[:space:]]*//p')
}

DOCK_SRC=$INST/checkout
mkdir -p "$DOCK_SRC"
# A clean checkout: git archive of HEAD (commit first); without git, the working tree minus
# the build directories.
if git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    DOCK_FROM="a clean git archive of HEAD"
    git -C "$ROOT" archive HEAD | tar -x -C "$DOCK_SRC"
    if ! git -C "$ROOT" diff --quiet HEAD -- Dockerfile .dockerignore Package.swift Sources Tests; then
        say "note: the Dockerfile check builds HEAD; uncommitted changes to what it copies are not in it"
    fi
else
    DOCK_FROM="the working tree (not a git checkout)"
    tar -C "$ROOT" --exclude=./.build --exclude='./.build-*' --exclude='./.build_*' --exclude=./.git -cf - . | tar -x -C "$DOCK_SRC"
fi
if [ -f "$DOCK_SRC/Dockerfile" ]; then
    # The context keeps its .build between runs (everything else is copied afresh each time; a
    # file whose bytes did not change gets its previous mtime back), so that a rerun compiles only
    # what changed; E2E_DOCKER_CLEAN=1 starts from nothing.
    DOCK_CTX=$ROOT/.build/docker-context
    DOCK_PREV=$INST/docker-context-before
    [ "${E2E_DOCKER_CLEAN:-0}" = 1 ] && rm -rf "$DOCK_CTX"
    mkdir -p "$DOCK_CTX" "$DOCK_PREV"
    find "$DOCK_CTX" -mindepth 1 -maxdepth 1 ! -name .build -exec mv -t "$DOCK_PREV" {} +
    DOCK_OUT=$INST/docker-out
    copy_lines=$(docker_stage "$DOCK_SRC/Dockerfile" | grep -c '^COPY')
    run_lines=$(docker_stage "$DOCK_SRC/Dockerfile" | grep -c '^RUN')
    # The file the final stage takes from the build stage (COPY --from=build /out/vigil ...).
    dock_bin=$(sed -n 's|^COPY --from=build /out/\([^ ]*\) .*|\1|p' "$DOCK_SRC/Dockerfile" | head -n1)
    if ! why=$(docker_context "$DOCK_SRC/Dockerfile" "$DOCK_SRC" "$DOCK_CTX"); then
        fail "Dockerfile build stage: its COPY lines work on a clean checkout" "$why"
    elif ! (cd "$DOCK_CTX" && find . -path ./.build -prune -o -type f -print0 | while IFS= read -r -d '' f; do
        if cmp -s "$f" "$DOCK_PREV/$f"; then touch -r "$DOCK_PREV/$f" "$f"; fi
    done); then
        fail "Dockerfile build context: unchanged files keep their mtimes"
    elif [ "$run_lines" -lt 1 ] || [ -z "$dock_bin" ]; then
        fail "Dockerfile: a RUN in the build stage and a COPY --from=build /out/... in the final stage"
    else
        dock_start=$(now_us)
        if docker_run "$DOCK_SRC/Dockerfile" "$DOCK_CTX" "$DOCK_OUT" "$INST/docker-build.log" \
            && [ -x "$DOCK_OUT/$dock_bin" ]; then
            dock_ms=$(( ($(now_us) - dock_start) / 1000 ))
            dv=$("$DOCK_OUT/$dock_bin" --version 2>&1)
            # What debian:bookworm-slim has: libc6, libgcc-s1 and libstdc++6 (apt needs them).
            extra_libs=$(ldd "$DOCK_OUT/$dock_bin" | awk '{ print $1 }' \
                | grep -v -E '^(linux-vdso\.so\.1|/lib64/ld-linux-x86-64\.so\.2|/lib/ld-linux-aarch64\.so\.1|lib(c|m|stdc\+\+|gcc_s|pthread|dl|rt)\.so\.[0-9]+)$' || true)
            if [ "$dv" = "$("$IVIGIL" --version 2>/dev/null)" ] && [ -z "$extra_libs" ]; then
                pass "Dockerfile build stage from $DOCK_FROM ($copy_lines COPY, $run_lines RUN, ${dock_ms} ms): /out/$dock_bin runs '$dv', needs only libc/libm/libstdc++/libgcc_s"
            else
                fail "Dockerfile build stage's binary runs --version and needs only bookworm-slim's libraries" \
                    "--version: '$dv'" "other libraries: $extra_libs"
            fi
        else
            fail "Dockerfile build stage builds from $DOCK_FROM" "$(tail -n 5 "$INST/docker-build.log")"
        fi
        # Each COPY line is needed: without it the same RUN fails (at the manifest, in seconds).
        needed=0
        for i in $(seq 1 "$copy_lines"); do
            short=$INST/short-$i
            mkdir -p "$short/ctx"
            awk -v k="$i" '/^COPY / && !/--from/ { c++; if (c == k) next } { print }' \
                "$DOCK_SRC/Dockerfile" >"$short/Dockerfile"
            docker_context "$short/Dockerfile" "$DOCK_SRC" "$short/ctx" >/dev/null || continue
            if docker_run "$short/Dockerfile" "$short/ctx" "$short/out" "$short/build.log"; then
                fail "Dockerfile without COPY line $i does not build (so the check above would catch too little copied)" \
                    "$(docker_stage "$DOCK_SRC/Dockerfile" | grep '^COPY' | sed -n "${i}p")"
            else
                needed=$((needed + 1))
            fi
            rm -rf "$short"
        done
        [ "$needed" = "$copy_lines" ] && pass "Dockerfile: without any one of its $copy_lines COPY lines the build stage fails"
    fi
else
    fail "a clean checkout ($DOCK_FROM) has a Dockerfile"
fi
