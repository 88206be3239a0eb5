#!/usr/bin/env bash
# Memory soak test of `crowd-notifier run`: does its resident memory keep growing with crowd events?
#
# Starts a private mosquitto on a free 127.0.0.1 port, `crowd-notifier run` on it (temporary SQLite
# store, the log notifier: no Webex/webhook/Meraki credentials, web page on a free port, the demo's
# detection settings `--dwell 10 --gap 3 --cooldown 60`: with the default 60 s of dwell the 10-20 s
# crowds below never fire), then `crowd-notifier simulate --camera-count 50 --zone-count 4
# --speed 100 --crowd-length 10-20 --quiet-length 5-10` publishing to that broker (about 290
# events/s). Every --interval seconds it samples the notifier's VmRSS (/proc/PID/status) and its
# event count (`events=` of the latest `--stats-interval 1` line) and prints a table
# `elapsed_s events rss_mb backlog`. backlog = messages received but not processed yet: a large
# one fills the MQTT buffer (--buffer-size, 100,000 messages), whose arrays keep their capacity, so
# RSS steps up without per-event growth; SIMULATE_ARGS="... --rate 0.5" gives the same events
# with a quarter of the messages. At the end: the RSS at the first sample past 10,000 events and at
# the last sample, their ratio, and the growth per event in between (no leak: RSS plateaus, ratio
# close to 1, KiB/event close to 0). The notifier logs each event at info level to run.log in the
# work directory (about 0.6 KB per event; `-- --log-level warning` for very long runs).
#
# Usage:
#   scripts/bench-soak.sh [--events N] [--seconds S] [--interval S] [--keep] [-- RUN-FLAGS...]
#     --events N     stop once the notifier reports N events (default 1000000)
#     --seconds S    stop after S seconds (default: no limit); whichever comes first
#     --interval S   seconds between samples (default 5)
#     --keep         keep the work directory (store, logs) instead of deleting it
#     -- RUN-FLAGS   extra flags for `crowd-notifier run`, after the ones above, which they
#                    override (e.g. -- --dwell 5 --cooldown 0 --http-port 0)
#   Environment:
#     CROWD_NOTIFIER=/path/to/crowd-notifier   use this binary (default: swift build -c release)
#     SIMULATE_ARGS="..."                      replace the simulate options above
#     WRAP="heaptrack -o /tmp/x"               run the notifier under a tool (heaptrack, valgrind...);
#                                              the RSS sampled is the crowd-notifier process's
#     SOAK_DIR=/path                           work directory (default: mktemp -d)
# Example:
#   CROWD_NOTIFIER=.build/debug/crowd-notifier scripts/bench-soak.sh --seconds 90 --interval 3
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS_MAX=1000000
SECONDS_MAX=0
INTERVAL=5
KEEP=0
RUN_EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS_MAX="$2"; shift 2 ;;
    --seconds) SECONDS_MAX="$2"; shift 2 ;;
    --interval) INTERVAL="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --) shift; RUN_EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-soak: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -n "${CROWD_NOTIFIER:-}" ]; then
  BIN="$CROWD_NOTIFIER"
else
  export PATH="$PATH:/opt/swift/usr/bin"
  swift build -c release --product crowd-notifier >&2
  BIN="$(swift build -c release --show-bin-path)/crowd-notifier"
fi
[ -x "$BIN" ] || { echo "bench-soak: $BIN is not an executable" >&2; exit 1; }
command -v mosquitto >/dev/null || PATH="$PATH:/usr/sbin"
command -v mosquitto >/dev/null || { echo "bench-soak: mosquitto not found" >&2; exit 1; }

WORK="${SOAK_DIR:-$(mktemp -d -t crowd-soak.XXXXXX)}"
NOTIFIER="" TARGET=""
mkdir -p "$WORK"
PIDS=()
cleanup() {
  local pid
  # in reverse order of start: the simulator, the notifier (SIGTERM: graceful), the broker
  for pid in "${PIDS[@]}"; do
    if [ "$pid" = "$NOTIFIER" ] && [ "$TARGET" != "$NOTIFIER" ]; then  # a WRAP tool: let it write its data
      for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ]; then echo "# work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {  # wait_port PORT PID: until something listens on 127.0.0.1:PORT
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# 1. the broker
MQTT_PORT="$(free_port)"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MQTT_PORT" >"$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS=($! "${PIDS[@]}")
wait_port "$MQTT_PORT" "${PIDS[0]}" || { echo "bench-soak: mosquitto did not start:" >&2; cat "$WORK/mosquitto.log" >&2; exit 1; }

# 2. the notifier (log notifier: no credentials in its environment)
HTTP_PORT="$(free_port)"
env -u BOT_ACCESS_TOKEN -u MERAKI_API_KEY -u WEBHOOK_URL \
  ${WRAP:-} "$BIN" run --mqtt-host 127.0.0.1 --mqtt-port "$MQTT_PORT" \
  --store "$WORK/crowd-events.sqlite" --http-port "$HTTP_PORT" --stats-interval 1 \
  --dwell 10 --gap 3 --cooldown 60 ${RUN_EXTRA[@]+"${RUN_EXTRA[@]}"} >"$WORK/run.stdout" 2>"$WORK/run.log" &
NOTIFIER=$!
PIDS=("$NOTIFIER" "${PIDS[@]}")
TARGET=$NOTIFIER  # the process whose memory is sampled: under WRAP, the crowd-notifier below it
for _ in $(seq 600); do  # up to 60 s (a tool such as valgrind starts slowly)
  grep -q '^stats ' "$WORK/run.stdout" 2>/dev/null && break
  kill -0 "$NOTIFIER" 2>/dev/null || { echo "bench-soak: the notifier exited:" >&2; tail -20 "$WORK/run.log" >&2; exit 1; }
  sleep 0.1
done
if [ -n "${WRAP:-}" ]; then
  todo=("$NOTIFIER")
  while [ ${#todo[@]} -gt 0 ]; do
    p=${todo[0]}; todo=("${todo[@]:1}")
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$(basename "$BIN" | cut -c1-15)" ]; then TARGET=$p; break; fi
    mapfile -t -O "${#todo[@]}" todo < <(pgrep -P "$p" || true)
  done
  if [ "$TARGET" != "$NOTIFIER" ]; then PIDS=("$TARGET" "${PIDS[@]}"); fi  # stopped before its wrapper
fi

# 3. the simulated feed
# shellcheck disable=SC2086
"$BIN" simulate --mqtt-host 127.0.0.1 --mqtt-port "$MQTT_PORT" \
  ${SIMULATE_ARGS:---camera-count 50 --zone-count 4 --speed 100 --crowd-length 10-20 --quiet-length 5-10} \
  >"$WORK/simulate.log" 2>&1 &
PIDS=($! "${PIDS[@]}")

echo "# notifier pid $TARGET ($BIN), broker 127.0.0.1:$MQTT_PORT, web http://127.0.0.1:$HTTP_PORT/, work $WORK" >&2
printf '%10s %10s %10s %10s\n' elapsed_s events rss_mb backlog
START=$(date +%s.%N)
REF_EVENTS="" REF_RSS="" LAST_EVENTS=0 LAST_RSS=0
while true; do
  sleep "$INTERVAL"
  kill -0 "$NOTIFIER" 2>/dev/null || { echo "bench-soak: the notifier exited:" >&2; tail -5 "$WORK/run.log" >&2; exit 1; }
  rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$TARGET/status" 2>/dev/null || echo 0)
  read -r events backlog < <(tail -n 50 "$WORK/run.stdout" | awk '/^stats / {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    e = v["events"]; b = v["received"] - v["processed"] }
    END { print e + 0, b + 0 }')
  elapsed=$(awk -v s="$START" -v n="$(date +%s.%N)" 'BEGIN { printf "%.0f", n - s }')
  rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')
  printf '%10s %10s %10s %10s\n' "$elapsed" "$events" "$rss_mb" "$backlog"
  LAST_EVENTS=$events LAST_RSS=$rss_kb
  if [ -z "$REF_EVENTS" ] && [ "$events" -gt 10000 ]; then REF_EVENTS=$events REF_RSS=$rss_kb; fi
  [ "$events" -ge "$EVENTS_MAX" ] && break
  [ "$SECONDS_MAX" != 0 ] && awk -v e="$elapsed" -v m="$SECONDS_MAX" 'BEGIN { exit !(e >= m) }' && break
  if ! kill -0 "${PIDS[0]}" 2>/dev/null; then echo "# the simulator stopped" >&2; break; fi
done

echo
if [ -n "$REF_EVENTS" ]; then
  awk -v e0="$REF_EVENTS" -v r0="$REF_RSS" -v e1="$LAST_EVENTS" -v r1="$LAST_RSS" 'BEGIN {
    printf "rss at %d events (first sample past 10000): %.1f MB\n", e0, r0 / 1024
    printf "rss at %d events (last sample): %.1f MB\n", e1, r1 / 1024
    printf "ratio last/first: %.3f\n", (r0 > 0) ? r1 / r0 : 0
    if (e1 > e0) printf "growth: %.2f KiB per event\n", (r1 - r0) / (e1 - e0)
  }'
else
  echo "never past 10000 events (last: $LAST_EVENTS events, $(awk -v k="$LAST_RSS" 'BEGIN { printf "%.1f", k / 1024 }') MB)"
fi
