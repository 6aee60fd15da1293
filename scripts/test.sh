#!/usr/bin/env bash
# The whole test suite: VigilCore's folders used without cycles (scripts/layers.sh), unit and
# socket tests, the end-to-end run with real clients, then 20 s of coverage-guided fuzzing per
# fuzz target (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
bash scripts/layers.sh >/dev/null
swift test --skip-build
bash scripts/e2e.sh
bash scripts/fuzz.sh all 20
