#!/usr/bin/env python3
"""Ingest rate of `run` in a harness run, from its own status lines rather than from the
notifications: the time from the first publish until `processed` covered every message.

    STATS_INTERVAL=0.02 ../shared/bench/run.sh ... --sink-delay-ms 500 --sut scripts/bench-sut.sh
    scripts/bench-processed.py /tmp/crowdkit-bench/runs/RUN [RUN ...]

Prints, per run, that rate, the libmosquitto drain's rate measured in the same run and their
ratio. The resolution is STATS_INTERVAL (bench-sut.sh passes it as --stats-interval).
"""
import json
import re
import sys
from pathlib import Path

for arg in sys.argv[1:]:
    run = Path(arg)
    result = json.loads((run / "result.json").read_text())
    phase = result["sut_phase"]
    total = result["msgs_total"]
    t0 = phase["t_first_pub"]
    base = None
    done = None
    for line in (run / "sut.log").read_text().splitlines():
        m = re.match(r"stats t=(\d+) processed=(\d+) ", line)
        if not m:
            continue
        t, processed = int(m.group(1)) / 1000, int(m.group(2))
        if t <= t0:
            base = processed  # warm-up messages seen before the measured load
        elif base is not None and processed - base >= total:
            done = t
            break
    drain = (result.get("drain") or {}).get("lib", {}).get("rate_e2e")
    if done is None:
        print(f"{run.name}: processed never reached {total} (stats lines missing?)")
        continue
    rate = total / (done - t0)
    line = f"{run.name}: processed {total:,} in {done - t0:.2f} s = {rate:,.0f} msg/s"
    if drain:
        line += f"; drain[lib] e2e {drain:,.0f} msg/s; ratio {rate / drain:.2f}"
    line += f"; notifications {phase['notifications_main']}/{phase['expected']} by {phase['elapsed_s']:.1f} s"
    print(line)
