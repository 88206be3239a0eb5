#!/usr/bin/env bash
# Builds and runs the whole notifier on its embedded default: a simulated MV Sense feed, no camera,
# broker or credentials. Extra arguments go to `crowd-notifier demo` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
scripts/bootstrap.sh
swift build --product crowd-notifier
exec .build/debug/crowd-notifier demo "$@"
