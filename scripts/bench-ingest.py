#!/usr/bin/env python3
"""Ingest benchmark of `crowd-notifier run` against the drain baseline, in one run.

Uses ../shared/bench (loadgen, drain, mosquitto.conf): starts mosquitto on a free 127.0.0.1 port,
measures the plain-libmosquitto drain (the physical limit of broker + one C subscriber), then
runs scripts/bench-sut.sh (the release `crowd-notifier run`) on the same load and takes the time
at which it has processed every message (its `--stats-interval` lines count processed messages).

  scripts/bench-ingest.py -C 100 -Z 4 -M 500 --runs 3

Rates are end to end like the harness's: messages / (last processed - first publish). Also
reports peak RSS (VmHWM) and CPU seconds of the app (events are checked by the harness, run.sh). Every process started is
stopped by PID; every wait is bounded.
"""
import argparse, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.normpath(os.path.join(ROOT, "..", "shared", "bench"))
if not os.path.isdir(BENCH):
    BENCH = "/work/shared/bench"
WORK = os.environ.get("BENCH_WORK", "/tmp/crowdkit-bench")
BUILD = os.path.join(WORK, "build")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def kv(line):
    return dict(p.split("=", 1) for p in line.split() if "=" in p)


def build_tools():
    os.makedirs(BUILD, exist_ok=True)
    for t in ("loadgen", "drain"):
        src, out = os.path.join(BENCH, t + ".c"), os.path.join(BUILD, t)
        if not os.path.exists(out) or os.path.getmtime(src) > os.path.getmtime(out):
            subprocess.run(["gcc", "-O2", "-Wall", "-o", out, src, "-lmosquitto"], check=True)


def wait_port(port, deadline):
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def proc_cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def proc_hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None


def loadgen(a, port, rate=0, messages=None, extra=()):
    cmd = [os.path.join(BUILD, "loadgen"), "-h", "127.0.0.1", "-p", str(port), "-C", str(a.C), "-Z", str(a.Z),
           "-M", str(messages or a.M), "-K", str(a.K), "-G", str(a.G), "-k", str(a.KS), "-g", str(a.GS), "-T", "300",
           "-r", str(rate), *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=330)
    line = next((l for l in r.stdout.splitlines() if l.startswith("loadgen ")), "")
    if r.returncode != 0 or not line:
        raise RuntimeError(f"loadgen failed: {r.stdout} {r.stderr}")
    return kv(line)


def one_run(a, rdir):
    port = free_port()
    conf = os.path.join(rdir, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\n" + open(os.path.join(BENCH, "mosquitto.conf")).read())
    procs = []
    try:
        broker = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=open(os.path.join(rdir, "broker.log"), "w"))
        procs.append(broker)
        if not wait_port(port, time.time() + 10):
            raise RuntimeError("broker did not start")
        res = {}
        # drain (plain libmosquitto)
        total = a.C * a.Z * a.M + a.KS + a.GS
        dout = os.path.join(rdir, "drain.out")
        dp = subprocess.Popen([os.path.join(BUILD, "drain"), "-p", str(port), "-n", str(total), "-m", "lib", "-T", "300"],
                              stdout=open(dout, "w"), stderr=subprocess.STDOUT)
        procs.append(dp)
        deadline = time.time() + 5
        while "READY" not in open(dout).read():
            if time.time() > deadline:
                raise RuntimeError("drain not ready")
            time.sleep(0.01)
        lg = loadgen(a, port)
        dp.wait(300)
        d = kv(next(l for l in open(dout).read().splitlines() if l.startswith("drain ")))
        res["drain_e2e"] = int(d["received"]) / (float(d["last"]) - float(lg["t_first_pub"]))
        res["total"] = total
        time.sleep(1)
        # the app
        sout = os.path.join(rdir, "sut.out")
        env = dict(os.environ, MQTT_HOST="127.0.0.1", MQTT_PORT=str(port), MQTT_TOPIC="/merakimv/#",
                   MIN_PERSONS=str(a.min_persons), DWELL_MS=str(a.dwell_ms), COOLDOWN_MS=str(a.cooldown_ms),
                   STATS_INTERVAL="0.01", BENCH_RUN_DIR=rdir)
        sp = subprocess.Popen([os.path.join(ROOT, "scripts", "bench-sut.sh")], cwd=ROOT, env=env, stdout=open(sout, "w"),
                              stderr=open(os.path.join(rdir, "sut.err"), "w"))
        procs.append(sp)
        deadline = time.time() + 30
        while "state=connected" not in open(sout).read():
            if time.time() > deadline or sp.poll() is not None:
                raise RuntimeError("app did not connect: " + open(os.path.join(rdir, "sut.err")).read())
            time.sleep(0.02)
        def wait_processed(n):
            deadline = time.time() + a.timeout
            while time.time() < deadline:
                for line in reversed(open(sout).read().splitlines()):
                    if line.startswith("stats "):
                        s = kv(line)
                        if int(s["processed"]) >= n:
                            return int(s["t"]) / 1000
                        break
                time.sleep(0.05)
            return None

        warmed = 0
        if a.warm:
            # every zone seen once (first sight: numbering, key rows) before the measured feed;
            # its camera times are earlier than the measured feed's, no sentinel
            loadgen(a, port, messages=1, extra=("-n", "-o", str(int(time.time() * 1000) - 600_000)))
            warmed = a.C * a.Z
            if wait_processed(warmed) is None:
                raise RuntimeError("the app did not process the warm-up pass")
            time.sleep(1.5)  # the warm-up's zone states saved
        cpu0 = proc_cpu(sp.pid)
        lg = loadgen(a, port, rate=a.rate)
        t_done = wait_processed(warmed + total)
        time.sleep(0.3)  # let the monitor publish its final counters
        res["sut_cpu_s"] = (proc_cpu(sp.pid) or 0) - (cpu0 or 0)
        res["sut_rss_mb"] = (proc_hwm_kb(sp.pid) or 0) / 1024
        sp.send_signal(signal.SIGINT)
        sp.wait(20)
        last = kv([l for l in open(sout).read().splitlines() if l.startswith("stats ")][-1])
        res["processed"] = int(last["processed"]) - warmed
        res["received"] = int(last["received"]) - warmed
        res["dropped"] = int(last["dropped"])
        res["sut_e2e"] = total / (t_done - float(lg["t_first_pub"])) if t_done else None
        res["ratio"] = res["sut_e2e"] / res["drain_e2e"] if res["sut_e2e"] else None
        return res
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.kill()
                p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-C", type=int, default=100)
    ap.add_argument("-Z", type=int, default=4)
    ap.add_argument("-M", type=int, default=500)
    ap.add_argument("-K", type=int, default=40)
    ap.add_argument("-G", type=int, default=40)
    ap.add_argument("--KS", type=int, default=60, help="sentinel crowd messages (loadgen -k)")
    ap.add_argument("--GS", type=int, default=60, help="sentinel gap messages (loadgen -g)")
    ap.add_argument("--min-persons", type=int, default=3)
    ap.add_argument("--dwell-ms", type=int, default=3000)
    ap.add_argument("--cooldown-ms", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0,
                    help="publish at most this many messages per second (loadgen -r; 0: as fast as possible). "
                         "The ratio is only meaningful at full speed; paced, compare the app's CPU")
    ap.add_argument("--warm", action="store_true",
                    help="publish one message per zone first and measure only the feed after it (steady state)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    build_tools()
    if not os.path.exists(os.path.join(ROOT, ".build/release/crowd-notifier")):
        subprocess.run(["swift", "build", "-c", "release", "--product", "crowd-notifier"], cwd=ROOT, check=True)
    results = []
    for i in range(a.runs):
        rdir = tempfile.mkdtemp(prefix="ingest-", dir=WORK)
        r = one_run(a, rdir)
        results.append(r)
        fmt = lambda v: f"{v:,.0f}" if isinstance(v, (int, float)) else str(v)
        print(f"run {i + 1}: {a.C}x{a.Z}x{a.M} ({r['total']} msgs): drain(lib) {fmt(r['drain_e2e'])} msg/s, "
              f"app {fmt(r['sut_e2e'])} msg/s, ratio {r['ratio'] and round(r['ratio'], 3)}, processed {r['processed']}, "
              f"dropped {r['dropped']}, app cpu {r['sut_cpu_s']:.2f}s, peak RSS {r['sut_rss_mb']:.1f} MB  [{rdir}]")
        sys.stdout.flush()
    ratios = [r["ratio"] for r in results if r["ratio"]]
    if ratios:
        print(f"median ratio {statistics.median(ratios):.3f} over {len(ratios)} run(s); "
              f"median peak RSS {statistics.median(r['sut_rss_mb'] for r in results):.1f} MB")


if __name__ == "__main__":
    main()
