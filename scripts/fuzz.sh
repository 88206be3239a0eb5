#!/usr/bin/env bash
# libFuzzer over CrowdKit's parsers (Fuzz/): the MV Sense decoder (zone counts, crossings, the
# in-place JSON Lines payload decoder), the capture line parser (both forms), the page's query
# and filter parsing, area line specs and daily resets, and the reference app's configuration
# loader (YAML file, environment and flags).
#   scripts/fuzz.sh [seconds per target, default 60] [target ...]
# Seeds come from the fixtures (Tests/Fixtures, ../shared/fixtures); crashes are written to
# Fuzz/crashes/ (each found one becomes a regression test). Uses its own build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
scripts/bootstrap.sh
seconds="${1:-60}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(FuzzMVSense FuzzCapture FuzzWebQuery FuzzAreasConfig FuzzConfig)
# libFuzzer's coverage and AddressSanitizer in every module; each target's own main hands its
# function to LLVMFuzzerRunDriver (SwiftPM's entry point is defined, so libFuzzer's main is not
# linked in)
swift build --package-path Fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
bin=".build-fuzz/debug"
corpus=".build-fuzz/corpus"
mkdir -p "$corpus" Fuzz/crashes
python3 - "$corpus" <<'PY'
import glob, json, os, sys
root = sys.argv[1]
def put(target, name, data):
    d = os.path.join(root, target); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), "wb").write(data if isinstance(data, bytes) else data.encode())
lines = []
for path in glob.glob("Tests/Fixtures/replay/*.capture") + glob.glob("../shared/fixtures/replay/*.capture"):
    lines += [l for l in open(path, encoding="utf-8", errors="replace").read().split("\n") if l.strip()][:200]
for i, line in enumerate(lines):
    put("FuzzCapture", f"line{i}", line)
    if line.startswith("{"):
        try:
            o = json.loads(line)
            esc = json.dumps(o["payload"])[1:-1]
            put("FuzzMVSense", f"escaped{i}", o["topic"] + "\n" + esc)
            put("FuzzMVSense", f"json{i}", o["topic"] + "\n" + o["payload"])
        except Exception:
            pass
    elif " " in line:
        t, p = line.split(" ", 1)
        put("FuzzMVSense", f"sub{i}", t + "\n" + p)
for i, q in enumerate(["camera=Q2GV-ABCD-1234&zone=0&from=2024-05-02T06:50:00Z&to=1714640000000&limit=20",
                       "camera=a,b&zone=1&cursor=abc", "limit=0", "from=2024-13-40", "camera=%41%zz+x&&=&"]):
    put("FuzzWebQuery", f"q{i}", q)
for i, s in enumerate(["Q2GV-GGGG-0001/5001\n00:00\nAmerica/New_York\n1764300000000",
                       "Q2GV-GGGG-0002/6001:reverse\n02:30\nEurope/Paris\n1741478400000", "a/b:reverse:reverse\n24:00\nUTC\n0"]):
    put("FuzzAreasConfig", f"s{i}", s)
yamls = glob.glob("Tests/Fixtures/**/*.yaml", recursive=True) + glob.glob("Documentation/*.yaml") + glob.glob("*.yaml.example")
for i, path in enumerate(yamls):
    put("FuzzConfig", f"file{i}", open(path, encoding="utf-8", errors="replace").read())
put("FuzzConfig", "env", "detection:\n  minPeople: 3\n--env--\nDETECTION_DWELL_SECONDS=abc\nMQTT_PORT=70000\n--flags--\ndetection.policy=dwell")
put("FuzzConfig", "areas", "areas:\n  hall:\n    lines: [\"Q2GV-0001/1:reverse\", \"bad\"]\n    resetDaily: \"25:00\"\n    timeZone: Mars/Base\ndetection:\n  overrides:\n    \"area/hall\": {dwellSeconds: -1}\n    \"Q2MV-1/5\": {minPeople: x}\n")
PY
for t in "${targets[@]}"; do
  echo "== $t for ${seconds}s"
  extra=()
  # FuzzConfig: swift-configuration's FileProvider keeps the 4 KiB buffer FoundationEssentials
  # reads the file into (Data(contentsOf:) inside CommonProviderFileSystem.fileContents) once per
  # loader; LeakSanitizer reports it on the first input. Not CrowdKit's memory, and a loader is
  # made once per process in the app, so leak detection is off for this target only.
  leaks=1
  [ "$t" = FuzzConfig ] && { extra=(-detect_leaks=0); leaks=0; }
  ASAN_OPTIONS="detect_leaks=$leaks" "$bin/$t" "$corpus/$t" ${extra[@]+"${extra[@]}"} -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="Fuzz/crashes/$t-" -print_final_stats=1 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|==.*ERROR|SUMMARY|artifact_prefix|Test unit written)" || true
done
ls Fuzz/crashes 2>/dev/null | head
