#!/usr/bin/env bash
# High-availability benchmark (issue 17), not a test: three `crowd-notifier run` instances on one
# temporary PostgreSQL, 300 cameras x 4 zones from ../shared/bench's load generator, one instance
# killed with SIGKILL at half time of a paced feed. Prints JSON: notifications due vs delivered,
# duplicates, time for the cameras to move, combined ingest vs a C subscriber, page p50/p99.
#   scripts/bench-ha.sh                       # release build, the issue's shape
#   scripts/bench-ha.sh --events 1000000      # the page with a million events in PostgreSQL
#   scripts/bench-ha.sh -C 60 -M 120 --paced-seconds 20 --bin .build/debug/crowd-notifier
# Needs: postgresql, mosquitto, libmosquitto-dev, gcc, python3. Options: scripts/bench-ha.py --help.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/bench-ha.py "$@"
