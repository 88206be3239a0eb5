#!/usr/bin/env bash
# Installs what the tests need (system packages included) and runs every test: one build, then
# the tests without rebuilding. Integration tests start their own mosquitto on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
scripts/bootstrap.sh --test
swift build --build-tests
swift test --skip-build "$@"
