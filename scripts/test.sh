#!/usr/bin/env bash
# The whole test suite: unit and socket tests, then the end-to-end run with real clients.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build
bash scripts/e2e.sh
