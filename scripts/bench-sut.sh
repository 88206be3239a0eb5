#!/usr/bin/env bash
# System under test for ../shared/bench/run.sh: maps the harness environment onto
# `crowd-notifier run` flags (release build).
#   ../shared/bench/run.sh -C 100 -Z 4 -M 500 --runs 3 --label app --sut "scripts/bench-sut.sh"
# Environment set by the harness: MQTT_HOST, MQTT_PORT, MQTT_TOPIC, MIN_PERSONS, DWELL_MS,
# COOLDOWN_MS, WEBEX_API_BASE and MERAKI_API_BASE (notifications go to the harness's sink as Webex
# messages with Meraki video links; BENCH_MERAKI=0 leaves the video links out).
# The broker shares the machine's two cores with the app: the app runs at nice 10 (BENCH_NICE=0:
# unchanged), which counts because the harness starts it in a session of its own.
# Ingest alone (no HTTP): scripts/bench-ingest.py, which sets STATS_INTERVAL for the processed count.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/release/crowd-notifier
[ -x "$BIN" ] || swift build -c release --product crowd-notifier >&2
seconds() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }
WORK="${BENCH_RUN_DIR:-$(mktemp -d)}"
args=(run
  --mqtt-host "${MQTT_HOST:-127.0.0.1}" --mqtt-port "${MQTT_PORT:-1883}" --topic "${MQTT_TOPIC:-/merakimv/#}"
  --min-people "${MIN_PERSONS:-3}" --dwell "$(seconds "${DWELL_MS:-3000}")"
  --cooldown "$(seconds "${COOLDOWN_MS:-0}")" --gap 0
  --store "$WORK/crowd-events.sqlite" --http-port 0
  --stats-interval "${STATS_INTERVAL:-1}" --log-level "${LOG_LEVEL:-warning}"
  --nice "${BENCH_NICE:-10}")
if [ -n "${WEBEX_API_BASE:-}" ]; then
  export BOT_ACCESS_TOKEN="${BOT_ACCESS_TOKEN:-bench-token}"
  args+=(--webex-base-url "$WEBEX_API_BASE" --webex-room-id "${WEBEX_ROOM_ID:-bench-room}")
fi
# The sink is not Meraki: its client-side rate limit is lifted and snapshots are not awaited.
if [ "${BENCH_MERAKI:-1}" = 1 ] && [ -n "${MERAKI_API_BASE:-}" ]; then
  export MERAKI_API_KEY="${MERAKI_API_KEY:-bench-key}"
  args+=(--meraki-base-url "$MERAKI_API_BASE" --meraki-rate 100000 --meraki-snapshot off)
fi
# BENCH_PERF=FILE records a CPU profile of the app with perf (call graphs from DWARF).
if [ -n "${BENCH_PERF:-}" ]; then
  exec perf record -q -k CLOCK_REALTIME --call-graph dwarf,16384 -F ${BENCH_PERF_FREQ:-997} -o "$BENCH_PERF" -- "$BIN" "${args[@]}" "$@"
fi
# BENCH_WRAP="CMD ..." runs the app under another tool (strace, valgrind, ...).
exec ${BENCH_WRAP:-} "$BIN" "${args[@]}" "$@"
