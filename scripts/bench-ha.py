#!/usr/bin/env python3
"""High-availability benchmark (issue 17): several `crowd-notifier run` instances on one PostgreSQL.

Not a test: it prints figures. Uses ../shared/bench (loadgen, drain, sink.py, mosquitto.conf).

  scripts/bench-ha.sh                                   # 3 instances, 300 cameras x 4 zones
  scripts/bench-ha.sh --events 1000000                  # the page with a million events in PostgreSQL
  scripts/bench-ha.sh -C 60 -M 120 --bin .build/debug/crowd-notifier   # reduced scale, debug build

What it does, every process on 127.0.0.1, every wait bounded, everything started stopped by PID:
 1. a temporary PostgreSQL (initdb + pg_ctl in a temporary folder, as the tests do), mosquitto with
    the harness's configuration, the harness's HTTP sink (fake Webex and Meraki);
 2. the C subscriber (drain, plain libmosquitto) on the full-speed feed: the physical limit;
 3. the instances (`cluster.name` ha-1..ha-N, a camera list, so each subscribes to its own
    cameras), then the same full-speed feed: the combined ingest rate (all messages / time until
    the instances together processed all of them), against the drain's;
 4. `--events N` events seeded with one generate_series INSERT, then the page (`/`) and
    `/api/events` of one instance timed (p50/p99 over `--page-requests` requests);
 5. a paced feed (each zone 10 readings per camera second, camera time = wall time) during which
    one instance is killed with SIGKILL at half time: the time until the survivors process its
    cameras (their stats lines say members=N-1 and the owned cameras add up), fired notifications
    due (deliveries in the outbox) vs delivered (sent, and POSTs at the sink), duplicates (POSTs
    beyond one per delivery: requests in flight at the kill).
"""
import argparse, http.client, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

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


def cpu_seconds(pid):
    """User plus system CPU seconds of a live process (0 once it is gone)."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def kv(line):
    return dict(p.split("=", 1) for p in line.split() if "=" in p)


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def build_tools():
    os.makedirs(BUILD, exist_ok=True)
    for t in ("loadgen", "drain"):
        src, out = os.path.join(BENCH, t + ".c"), os.path.join(BUILD, t)
        if not os.path.exists(out) or os.path.getmtime(src) > os.path.getmtime(out):
            subprocess.run(["gcc", "-O2", "-Wall", "-o", out, src, "-lmosquitto"], check=True)


def pg_bin():
    for v in sorted((d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()), key=int, reverse=True):
        b = f"/usr/lib/postgresql/{v}/bin"
        if os.path.exists(b + "/initdb"):
            return b
    raise RuntimeError("PostgreSQL not installed (apt-get install postgresql)")


class Postgres:
    """A throw-away cluster: initdb in a temporary folder, pg_ctl start/stop (as postgres when root)."""

    def __init__(self, folder, statements=False):
        self.bin = pg_bin()
        self.dir = folder
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        if os.getuid() == 0:
            subprocess.run(["chown", "postgres:postgres", folder], check=True)
        self.data = os.path.join(folder, "data")
        subprocess.run(self.as_user + [self.bin + "/initdb", "-D", self.data, "-U", "crowdkit", "--auth=trust", "-N", "-E", "UTF8",
                                       "--locale=C"], check=True, stdout=subprocess.DEVNULL)
        opts = f"-p {self.port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off"
        if statements:
            opts += " -c shared_preload_libraries=pg_stat_statements"
        subprocess.run(self.as_user + [self.bin + "/pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(folder, "pg.log"), "-w", "start"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([self.bin + "/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "crowdkit", "crowdkit"], check=True)
        self.url = f"postgres://crowdkit@127.0.0.1:{self.port}/crowdkit?sslmode=disable"
        if statements:
            self.sql("CREATE EXTENSION pg_stat_statements")

    def top_statements(self, n=8):
        """The statements that took most of the server's time since the last call (--pg-stats)."""
        rows = self.sql("SELECT calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3), "
                        "regexp_replace(left(query, 90), '\\s+', ' ', 'g') FROM pg_stat_statements "
                        f"ORDER BY total_exec_time DESC LIMIT {n}")
        self.sql("SELECT pg_stat_statements_reset()")
        return [dict(zip(("calls", "total_ms", "mean_ms", "query"), r.split("|", 3))) for r in rows.splitlines()]

    def cpu_seconds(self):
        """CPU seconds used so far by the server's processes (postmaster and its children)."""
        pid = int(open(os.path.join(self.data, "postmaster.pid")).readline())
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        return sum(cpu_seconds(int(p)) for p in [pid] + [int(k) for k in kids])

    def sql(self, statement):
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "crowdkit", "-d", "crowdkit", "-At", "-c", statement],
                           capture_output=True, text=True, check=True)
        return r.stdout.strip()

    def stop(self):
        subprocess.run(self.as_user + [self.bin + "/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Instance:
    def __init__(self, name, a, pg, broker_port, sink_port, cameras, rdir):
        self.name = name
        self.http = free_port()
        conf = os.path.join(rdir, name + ".yaml")
        with open(conf, "w") as f:
            f.write(f"cluster:\n  name: {name}\ndelivery:\n  workerName: {name}\ncameras: [{', '.join(cameras)}]\n")
        self.out_path = os.path.join(rdir, name + ".out")
        self.err_path = os.path.join(rdir, name + ".err")
        # one Webex post per notification (no thread replies), so the sink's posts count them
        env = dict(os.environ, BOT_ACCESS_TOKEN="bench-token", STORE_URL=pg.url, WEBEX_THREADS="false")
        args = [a.bin, "run", "--config", conf, "--mqtt-port", str(broker_port), "--http-port", str(self.http),
                "--min-people", "3", "--dwell", "3", "--cooldown", "0", "--gap", "0", "--stats-interval", "0.05",
                "--log-level", "notice", "--webex-base-url", f"http://127.0.0.1:{sink_port}/v1", "--webex-room-id", "bench-room"]
        if a.nice:
            # Operations, "Sharing the machine with the broker" (each instance leads its own session)
            args += ["--nice", str(a.nice)]
        self.proc = subprocess.Popen(args, cwd=rdir, env=env, stdout=open(self.out_path, "w"), stderr=open(self.err_path, "w"),
                                     start_new_session=True)

    def stats(self):
        try:
            lines = [l for l in open(self.out_path).read().splitlines() if l.startswith("stats ")]
        except OSError:
            return []
        return [kv(l) for l in lines]

    def last(self):
        s = self.stats()
        return s[-1] if s else {}

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.alive():
            try:
                os.kill(self.proc.pid, sig)
                self.proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def loadgen(a, port, main_only=False, rate=0, M=None, ts0=None):
    cmd = [os.path.join(BUILD, "loadgen"), "-h", "127.0.0.1", "-p", str(port), "-C", str(a.C), "-Z", str(a.Z),
           "-M", str(M or a.M), "-K", str(a.K), "-G", str(a.G), "-T", "600"]
    if ts0:
        cmd += ["-o", str(ts0)]
    if main_only:
        cmd.append("-n")
    if rate:
        cmd += ["-r", str(rate)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=660)
    line = next((l for l in r.stdout.splitlines() if l.startswith("loadgen ")), "")
    if r.returncode != 0 or not line:
        raise RuntimeError(f"loadgen failed: {r.stdout} {r.stderr}")
    return kv(line)


def expected_alerts(a, M):
    """The alerts a correct per-zone detector sends for this feed (../shared/bench/expected.py)."""
    r = subprocess.run([sys.executable, os.path.join(BENCH, "expected.py"), "-C", str(a.C), "-Z", str(a.Z), "-M", str(M), "-K", str(a.K),
                        "-G", str(a.G), "--dwell-ms", "3000"], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)["expected"]["ideal"]


def timed_gets(port, path, n):
    times = []
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(n):
        t = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        times.append((time.perf_counter() - t) * 1000)
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status}")
    c.close()
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


SEED = """
INSERT INTO events (id, camera, zone, started_at, fired_at, ended_at, peak, last_count, last_notified_at, reminders,
                    policy_name, policy_parameters, enrichment_notes)
SELECT 'seed-' || g, 'Q2SD-SEED-' || lpad((g % 1000)::text, 4, '0'), (g % 4)::text,
       t - g * 1000, t - g * 1000 + 3000, t - g * 1000 + 60000, 5, 0, t - g * 1000 + 3000, 0,
       'dwell', '{}', '[]'
FROM generate_series(1, {n}) AS g, (SELECT (extract(epoch FROM now()) * 1000)::bigint - 86400000 AS t) AS now
"""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-C", type=int, default=300, help="cameras")
    p.add_argument("-Z", type=int, default=4, help="zones per camera")
    p.add_argument("-M", type=int, default=500, help="messages per zone in the full-speed feed")
    p.add_argument("-K", type=int, default=40)
    p.add_argument("-G", type=int, default=40)
    p.add_argument("--paced-seconds", type=int, default=40, help="length of the paced feed with the kill at half time")
    p.add_argument("--instances", type=int, default=3)
    p.add_argument("--events", type=int, default=0, help="events seeded in PostgreSQL before the page is timed (1000000 for the issue's figure)")
    p.add_argument("--page-requests", type=int, default=200)
    p.add_argument("--bin", default=os.path.join(ROOT, ".build", "release", "crowd-notifier"))
    p.add_argument("--keep", action="store_true", help="keep the run folder")
    p.add_argument("--nice", type=int, default=0, help="run the instances with crowd-notifier's --nice N (0: unchanged)")
    p.add_argument("--pg-stats", action="store_true", help="load pg_stat_statements and print the costliest statements of the full-speed feed")
    a = p.parse_args()
    a.bin = os.path.abspath(a.bin)
    if not os.path.exists(a.bin):
        subprocess.run(["swift", "build", "-c", "release", "--product", "crowd-notifier"], cwd=ROOT, check=True)
    build_tools()
    os.makedirs(WORK, exist_ok=True)
    rdir = tempfile.mkdtemp(prefix="ha-", dir=WORK)
    os.chmod(rdir, 0o755)
    procs, instances, pg = [], [], None
    res = {"cameras": a.C, "zones": a.Z, "instances": a.instances, "seeded_events": a.events, "nice": a.nice}
    try:
        pgdir = os.path.join(rdir, "pg")
        os.makedirs(pgdir)
        pg = Postgres(pgdir, statements=a.pg_stats)
        port = free_port()
        conf = os.path.join(rdir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\n" + open(os.path.join(BENCH, "mosquitto.conf")).read())
        broker = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=open(os.path.join(rdir, "broker.log"), "w"))
        procs.append(broker)
        wait_for(lambda: port_open(port), 10, "the broker")
        portfile = os.path.join(rdir, "sink.port")
        sink_log = os.path.join(rdir, "sink.jsonl")
        sink = subprocess.Popen([sys.executable, os.path.join(BENCH, "sink.py"), "--port", "0", "--portfile", portfile, "--log", sink_log],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(rdir, "sink.err"), "w"))
        procs.append(sink)
        wait_for(lambda: os.path.exists(portfile) and open(portfile).read().strip(), 10, "the sink")
        sink_port = int(open(portfile).read().strip())

        # 2. the physical limit: one C subscriber on the full-speed feed
        total = a.C * a.Z * a.M
        dout = os.path.join(rdir, "drain.out")
        dp = subprocess.Popen([os.path.join(BUILD, "drain"), "-p", str(port), "-n", str(total), "-m", "lib", "-T", "300"],
                              stdout=open(dout, "w"), stderr=subprocess.STDOUT)
        procs.append(dp)
        wait_for(lambda: "READY" in open(dout).read(), 5, "the drain")
        lg = loadgen(a, port, main_only=True)
        dp.wait(300)
        d = kv(next(l for l in open(dout).read().splitlines() if l.startswith("drain ")))
        res["drain_msgs_per_s"] = round(int(d["received"]) / (float(d["last"]) - float(lg["t_first_pub"])))

        # 3. the instances, then the same feed
        cameras = ["Q2MV-BNCH-%04d" % c for c in range(a.C)]
        for i in range(a.instances):
            instances.append(Instance(f"ha-{i + 1}", a, pg, port, sink_port, cameras, rdir))
        wait_for(lambda: all(x.last().get("members") == str(a.instances) for x in instances), 90, "the instances to see each other")
        wait_for(lambda: all("mqtt: subscribed to the" in open(x.err_path).read() for x in instances), 30, "per-camera subscriptions")
        base = sum(int(x.last().get("processed", 0)) for x in instances)
        if a.pg_stats:
            pg.top_statements()  # resets the counts
        cpu = lambda: {"instances": sum(cpu_seconds(x.proc.pid) for x in instances), "postgres": pg.cpu_seconds(),
                       "broker": cpu_seconds(broker.pid), "sink": cpu_seconds(sink.pid)}
        cpu0 = cpu()
        ts0 = int(time.time() * 1000)
        lg = loadgen(a, port, main_only=True, ts0=ts0)
        t_first = float(lg["t_first_pub"])
        deadline = time.time() + 300
        t_done = None
        while time.time() < deadline:
            lasts = [x.last() for x in instances]
            if sum(int(s.get("processed", 0)) for s in lasts) - base >= total:
                t_done = max(int(s["t"]) for s in lasts) / 1000
                cpu1 = cpu()
                # CPU seconds each part used from the feed's start until the instances had processed it
                res["cpu_s_full_speed"] = {k: round(cpu1[k] - cpu0[k], 2) for k in cpu1}
                break
            time.sleep(0.05)
        if t_done:
            res["combined_msgs_per_s"] = round(total / (t_done - t_first))
            res["combined_vs_drain"] = round(res["combined_msgs_per_s"] / res["drain_msgs_per_s"], 3)
        else:
            res["combined_msgs_per_s"] = None
        res["owned"] = {x.name: int(x.last().get("owned", 0)) for x in instances}
        # the events are written after detection, in batches: wait until their count settles
        fired, stable_since, deadline = -1, time.time(), time.time() + 120
        while time.time() < deadline and time.time() - stable_since < 3:
            n = int(pg.sql("SELECT count(*) FROM deliveries WHERE kind = 'fired'"))
            if n != fired:
                fired, stable_since = n, time.time()
            time.sleep(0.5)
        res["fired_full_speed"] = fired
        if a.pg_stats:
            res["pg_top_statements_full_speed"] = pg.top_statements()
        res["expected_full_speed"] = expected_alerts(a, a.M)

        # 4. the page with N events in PostgreSQL
        if a.events:
            t = time.time()
            pg.sql(SEED.replace("{n}", str(a.events)))
            pg.sql("ANALYZE events")
            res["seed_seconds"] = round(time.time() - t, 1)
        res["events_in_store"] = int(pg.sql("SELECT count(*) FROM events"))
        for path, key in (("/", "page"), ("/api/events", "api_events"), ("/api/zones", "api_zones")):
            timed_gets(instances[0].http, path, 10)  # warm
            p50, p99 = timed_gets(instances[0].http, path, a.page_requests)
            res[key + "_p50_ms"], res[key + "_p99_ms"] = round(p50, 2), round(p99, 2)

        # 5. paced feed, one instance killed with SIGKILL at half time
        fired_before = int(pg.sql("SELECT count(*) FROM deliveries WHERE kind = 'fired'"))
        rate = a.C * a.Z * 10
        M = a.paced_seconds * 10
        import threading
        paced = {}
        # camera time after the first feed's (and never behind the wall clock)
        ts0 = max(int(time.time() * 1000), ts0 + a.M * 100 + 60_000)
        th = threading.Thread(target=lambda: paced.update(loadgen(a, port, main_only=True, rate=rate, M=M, ts0=ts0)))
        th.start()
        time.sleep(a.paced_seconds / 2)
        victim = instances[-1]
        victim_owned = int(victim.last().get("owned", 0))
        t_kill = time.time()
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        survivors = instances[:-1]

        def moved():
            lasts = [x.last() for x in survivors]
            return all(s.get("members") == str(a.instances - 1) for s in lasts) and \
                sum(int(s.get("owned", 0)) for s in lasts) >= a.C
        wait_for(moved, 60, "the cameras to move")
        t_moved = max(min(int(s["t"]) for s in x.stats() if s.get("members") == str(a.instances - 1)) for x in survivors) / 1000
        res["victim_owned_cameras"] = victim_owned
        res["cameras_moved_after_s"] = round(t_moved - t_kill, 2)
        th.join(a.paced_seconds * 3 + 60)
        # delivery: wait until the outbox has nothing pending (bounded)
        deadline = time.time() + 120
        while time.time() < deadline:
            if int(pg.sql("SELECT count(*) FROM deliveries WHERE status = 'pending'")) == 0:
                break
            time.sleep(0.5)
        time.sleep(2)
        due = int(pg.sql("SELECT count(*) FROM deliveries WHERE kind = 'fired'"))
        sent = int(pg.sql("SELECT count(*) FROM deliveries WHERE kind = 'fired' AND status = 'sent'"))
        pending = int(pg.sql("SELECT count(*) FROM deliveries WHERE status = 'pending'"))
        posts = 0
        for line in open(sink_log):
            r = json.loads(line)
            if r.get("kind") == "message":
                posts += 1
        res["notifications_due"] = due
        res["notifications_sent"] = sent
        res["notifications_pending_at_end"] = pending
        res["sink_posts"] = posts
        res["duplicates"] = posts - sent
        res["fired_paced"] = due - fired_before
        res["expected_paced"] = expected_alerts(a, M)
        # episodes whose readings fell in the gap between the death and the move (processed by
        # no one) start late or not at all: Operations, "State moves with the camera"
        res["missed_in_move_gap"] = res["expected_paced"] - res["fired_paced"]
    finally:
        for x in instances:
            x.stop()
        for pr in procs:
            if pr.poll() is None:
                pr.terminate()
                try:
                    pr.wait(10)
                except subprocess.TimeoutExpired:
                    pr.kill()
        if pg:
            pg.stop()
        print(json.dumps(res, indent=1))
        with open(os.path.join(WORK, "ha-results.jsonl"), "a") as f:
            f.write(json.dumps(dict(res, run=rdir, at=time.time())) + "\n")
        if not a.keep:
            shutil.rmtree(rdir, ignore_errors=True)


if __name__ == "__main__":
    main()
