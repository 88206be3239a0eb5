#!/usr/bin/env bash
# Replay measured from outside, as a user runs it: CPU seconds (user + sys, best of N runs) of
# `crowd-notifier replay CAPTURE --format jsonl` over 1,000,000-line captures in both line forms
# (JSON Lines as `record` writes them, and `mosquitto_sub -v`), at 1,000 and 100,000 zones, and
# of `backtest` with 100 combinations over the same 1,000-zone JSON Lines capture.
#   scripts/bench-replay-cli.sh [--runs 5] [--messages 1000000] [--binary PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5; messages=1000000; binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --messages) messages="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--messages N] [--binary PATH]" >&2; exit 64 ;;
  esac
done
if [ -z "$binary" ]; then
  export PATH="$PATH:/opt/swift/usr/bin"
  scripts/bootstrap.sh >/dev/null
  swift build -c release --product crowd-notifier >/dev/null
  binary=.build/release/crowd-notifier
fi
dir=$(mktemp -d /tmp/crowdkit-replay-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/gen.py" <<'PY'
import sys
n, zones, fmt, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
t0 = 1732780800000
out, buf, w = open(path, "w"), [], 0
for i in range((n + zones - 1) // zones):
    ts = t0 + i * 200
    for z in range(zones):
        if w >= n: break
        cam = "Q2MV-BNCH-%04d" % (z // 10)
        zone = "0" if z % 10 == 0 else "5843420516513%05d" % z
        people = 4 + (i + z) % 3 if (i + z * 37) % 1200 < 600 else (i + z) % 3
        payload = '{"ts":%d,"counts":{"person":%d,"vehicle":0}}' % (ts, people)
        if fmt == "jsonl":
            buf.append('{"receivedAt":%d,"topic":"/merakimv/%s/%s","payload":"%s"}\n' % (ts + 35, cam, zone, payload.replace('"', '\\"')))
        else:
            buf.append("/merakimv/%s/%s %s\n" % (cam, zone, payload))
        w += 1
    if len(buf) > 100000: out.write("".join(buf)); buf = []
out.write("".join(buf))
PY
for spec in "jsonl 1000" "sub 1000" "jsonl 100000" "sub 100000"; do
  set -- $spec
  python3 "$dir/gen.py" "$messages" "$2" "$1" "$dir/$1-$2.capture" &
done
wait
best() {  # best CPU seconds of $runs runs of the command
  local b=""
  for _ in $(seq "$runs"); do
    local t
    /usr/bin/time -o "$dir/time" -f "%U %S" "$@" >/dev/null 2>/dev/null
    t=$(tail -1 "$dir/time" | awk '{print $1 + $2}')
    if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
  done
  echo "$b"
}
echo "replay of $messages messages, CPU seconds (best of $runs), messages per CPU-second:"
declare -A cpu
for spec in "jsonl 1000" "sub 1000" "jsonl 100000" "sub 100000"; do
  set -- $spec
  cpu[$1-$2]=$(best "$binary" replay "$dir/$1-$2.capture" --format jsonl)
  awk -v f="$1" -v z="$2" -v c="${cpu[$1-$2]}" -v n="$messages" 'BEGIN{printf "  %-5s %6d zones: %.3f s  %.2f M msg/CPU-s\n", f, z, c, n / c / 1e6}'
done
sweeps=(--sweep min-people=2,3,4,5,6 --sweep dwell=10,30,60,90,120 --sweep gap=2,5,10,20)
bt=$(best "$binary" backtest "$dir/jsonl-1000.capture" --quiet --format jsonl "${sweeps[@]}")
btw=$(WALL=1 best "$binary" backtest "$dir/jsonl-1000.capture" --quiet --format jsonl "${sweeps[@]}")
rw=$(WALL=1 best "$binary" replay "$dir/jsonl-1000.capture" --format jsonl)
echo "ratios:"
awk -v a="${cpu[jsonl-1000]}" -v b="${cpu[sub-1000]}" 'BEGIN{printf "  JSON Lines / mosquitto_sub CPU at 1,000 zones: %.2f\n", a / b}'
awk -v a="${cpu[jsonl-100000]}" -v b="${cpu[jsonl-1000]}" 'BEGIN{printf "  speed at 100,000 zones / at 1,000 zones (JSON Lines): %.2f\n", b / a}'
awk -v a="${cpu[sub-100000]}" -v b="${cpu[sub-1000]}" 'BEGIN{printf "  speed at 100,000 zones / at 1,000 zones (mosquitto_sub): %.2f\n", b / a}'
awk -v a="$bt" -v b="${cpu[jsonl-1000]}" 'BEGIN{printf "  backtest, 100 combinations: %.3f CPU-s = %.2f x one replay'"'"'s CPU\n", a, a / b}'
awk -v a="$btw" -v b="$rw" -v n="$(nproc)" 'BEGIN{printf "  backtest, 100 combinations: %.2f s wall = %.2f x one replay'"'"'s wall time (%d cores)\n", a, a / b, n}'
