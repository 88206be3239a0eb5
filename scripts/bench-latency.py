#!/usr/bin/env python3
"""Alert latency of a ../shared/bench/run.sh run: from the qualifying MQTT message to the Webex
request at the sink.

  scripts/bench-latency.py [RUN_DIR ...]      (default: the newest run under $BENCH_WORK/runs)
  options: --dwell-ms 3000 --min-persons 3

The load generator's pattern is deterministic (see ../shared/bench/loadgen.c): for each stream
(camera c, zone z) this recomputes the message index at which every crowd run has lasted the
dwell time (the message that makes it due), and estimates that message's publish time from the
loadgen's first-publish time and its mean publish interval, at the start of the group of 128
messages it publishes at once (close for a rate-limited loadgen: `run.sh --rate R`). The k-th notification of a stream at the sink (zone from the message body) is
matched with its k-th due message. Prints p50/p90/p99/max in milliseconds.

Two figures per run:
- end to end: estimated publish of the due message -> Webex request at the sink. It includes the
  load generator's and the broker's own delay, which a plain subscriber sees too (about 20 ms at
  20,000 msg/s here: the generator writes in bursts of 128 and neither it nor mosquitto disables
  Nagle's algorithm);
- in the app: the monitor's outbox record of the event (`deliveries.createdAt` in the run's
  crowd-events.sqlite, host time when the due message was processed) -> Webex request at the sink.
"""
import argparse, glob, json, os, re, shlex, sqlite3, sys


def parse_loadgen(path):
    lines = open(path).read().splitlines()
    cmd = shlex.split(lines[0])
    opts = {}
    for i, a in enumerate(cmd):
        if a.startswith("-") and len(a) == 2 and i + 1 < len(cmd):
            opts[a[1]] = cmd[i + 1]
    out = dict(p.split("=", 1) for p in lines[-1].split() if "=" in p)
    return opts, out


def due_indices(M, K, G, P, off, step, dwell, n_min):
    """Message indices (per stream) at which a crowd run becomes due."""
    L = K + G
    due, start, fired = [], None, False
    for i in range(M):
        crowd = (i + off) % L < K and P >= n_min
        if crowd:
            if start is None:
                start, fired = i, False
            if not fired and (i - start) * step >= dwell:
                due.append(i)
                fired = True
        else:
            start = None
    return due


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))]


def analyse(run, dwell, n_min):
    opts, out = parse_loadgen(os.path.join(run, "loadgen-sut.out"))
    C, Z, M = int(opts["C"]), int(opts["Z"]), int(opts["M"])
    K, G, P = int(opts["K"]), int(opts["G"]), int(opts["P"])
    S, step, zbase = int(opts.get("S", 0)), int(opts.get("t", 100)), int(opts.get("b", 0))
    t0 = float(out["t_first_pub"])
    per_msg = float(out["elapsed_s"]) / max(1, int(out["sent"]))
    arrivals = {}
    for line in open(os.path.join(run, "sink.jsonl")):
        r = json.loads(line)
        if r.get("kind") != "message" or r.get("tag") != "main":
            continue
        body = json.loads(r["body"]) if r["body"].startswith("{") else {}
        text = body.get("text", r["body"])
        m = re.search(r" in (.+?) \(camera (Q2MV-BNCH-(\d{4}))\)", text)
        if not m:
            continue
        label = m.group(1)
        zone = zbase if label == "Full Frame" else int(label) if label.isdigit() else None
        if zone is None:
            continue
        arrivals.setdefault((int(m.group(3)), zone - zbase), []).append(r["t"])
    lat = []
    for (c, z), times in arrivals.items():
        s = c * Z + z
        due = due_indices(M, K, G, P, (s * S) % (K + G), step, dwell, n_min)
        for i, t in zip(due, sorted(times)):
            # the generator publishes 128 messages at once, then waits for its rate: a message
            # leaves with the first of its group of 128
            published = t0 + ((i * C * Z + s) // 128) * 128 * per_msg
            lat.append((t - published) * 1000)
    in_app = []
    store = os.path.join(run, "crowd-events.sqlite")
    if os.path.exists(store):
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        created = {}
        for camera, zone, at in db.execute(
                "SELECT e.camera, e.zone, d.createdAt FROM events e JOIN deliveries d ON d.eventID = e.id "
                "WHERE d.kind = 'fired' AND e.camera LIKE 'Q2MV-BNCH-%' ORDER BY e.startedAt"):
            created.setdefault((int(camera[-4:]), int(zone) - zbase), []).append(at / 1000)
        for key, times in arrivals.items():
            for at, t in zip(created.get(key, []), sorted(times)):
                in_app.append((t - at) * 1000)
    return lat, in_app, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*")
    ap.add_argument("--dwell-ms", type=int, default=3000)
    ap.add_argument("--min-persons", type=int, default=3)
    a = ap.parse_args()
    runs = a.runs or sorted(glob.glob(os.path.join(os.environ.get("BENCH_WORK", "/tmp/crowdkit-bench"), "runs", "*-*")))[-1:]
    for run in runs:
        lat, in_app, out = analyse(run, a.dwell_ms, a.min_persons)
        name = os.path.basename(run.rstrip('/'))
        if not lat:
            print(f"{name}: no main notifications matched")
            continue
        print(f"{name}: {len(lat)} alerts, publish rate {out['rate']} msg/s")
        for label, v in (("end to end", lat), ("in the app", in_app)):
            if v:
                print(f"  {label:10} latency ms: p50 {pct(v, 50):.1f}  p90 {pct(v, 90):.1f}  p99 {pct(v, 99):.1f}  max {max(v):.1f}")


if __name__ == "__main__":
    main()
