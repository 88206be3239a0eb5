#!/usr/bin/env bash
# Replay benchmark (decode + detect): 1,000,000 messages over 1,000 zones, then 4x that.
#   scripts/bench-replay.sh [--format sub|jsonl] [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
scripts/bootstrap.sh
swift build -c release --product crowdkit-bench
exec .build/release/crowdkit-bench "$@"
