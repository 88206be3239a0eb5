// crowdkit-bench: replay throughput (decode + detect) and memory of CrowdKitCore.
//
//   swift run -c release crowdkit-bench [--messages 1000000] [--zones 1000] [--format sub|jsonl] [--runs 3]
//   swift run -c release crowdkit-bench --capture FILE [--backtest COMBINATIONS] [--runs 3]
//
// With --capture it replays an existing capture in process, R times (for a profiler such as
// `perf record`), and with --backtest it reads the capture once and evaluates that many dwell
// settings over it, as `crowd-notifier backtest` does.
//
// Generates a capture of M messages over Z zones (cameras of 10 zones, 120 s crowds and 120 s
// quiet periods per zone, 5 messages/s per zone in camera time), replays it with the default dwell policy
// through the same code path as `crowd-notifier replay`, and reports messages per second and
// resident memory. A second, 4x longer capture over the same zones shows whether memory grows with
// the number of messages (it must not: state is per zone).
import CrowdKitCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var messages = 1_000_000
    var zones = 1_000
    var format = "sub"
    var runs = 3
    var keep = false
    var capture: String?
    var backtest = 0
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst().makeIterator()
    while let a = args.next() {
        switch a {
        case "--messages": o.messages = Int(args.next() ?? "") ?? o.messages
        case "--zones": o.zones = Int(args.next() ?? "") ?? o.zones
        case "--format": o.format = args.next() ?? o.format
        case "--runs": o.runs = Int(args.next() ?? "") ?? o.runs
        case "--keep": o.keep = true
        case "--capture": o.capture = args.next()
        case "--backtest": o.backtest = Int(args.next() ?? "") ?? 0
        default:
            FileHandle.standardError.write(Data("usage: crowdkit-bench [--messages N] [--zones Z] [--format sub|jsonl] [--runs R] [--keep] | --capture FILE [--backtest N] [--runs R]\n".utf8))
            exit(64)
        }
    }
    return o
}

/// Resident memory (kB) now and at peak, from /proc/self/status.
func memory() -> (rss: Int, hwm: Int) {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Int {
        guard let line = s.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
    }
    return (field("VmRSS:"), field("VmHWM:"))
}

func generate(path: String, messages: Int, zones: Int, format: String) throws {
    guard let f = fopen(path, "w") else { throw CaptureError(path: path, reason: "cannot create") }
    defer { fclose(f) }
    let t0: Int64 = 1_732_780_800_000
    let rounds = (messages + zones - 1) / zones
    var written = 0
    var line = ""
    line.reserveCapacity(256)
    for i in 0..<rounds {
        let ts = t0 + Int64(i) * 200
        for z in 0..<zones where written < messages {
            let camera = "Q2MV-BNCH-\(String(format: "%04d", z / 10))"
            let zone = z % 10 == 0 ? "0" : "5843420516513\(String(format: "%05d", z))"
            // episodes: per zone phase offset; 120 s crowd (4-6 people), 120 s quiet (0-2)
            let phase = (i + z * 37) % 1200
            let people = phase < 600 ? 4 + (i + z) % 3 : (i + z) % 3
            let payload = #"{"ts":\#(ts),"counts":{"person":\#(people),"vehicle":0}}"#
            if format == "jsonl" {
                let escaped = payload.replacingOccurrences(of: "\"", with: "\\\"")
                line = #"{"receivedAt":\#(ts + 35),"topic":"/merakimv/\#(camera)/\#(zone)","payload":"\#(escaped)"}"# + "\n"
            } else {
                line = "/merakimv/\(camera)/\(zone) \(payload)\n"
            }
            fputs(line, f)
            written += 1
        }
    }
}

let options = parseOptions()
let policy = DwellPolicy()  // the defaults of SEMANTICS.md §2

/// Seconds of CPU time this process has used.
func cpuSeconds() -> Double { Double(clock()) / Double(CLOCKS_PER_SEC) }

if let capture = options.capture {
    for run in 1...options.runs {
        let c0 = cpuSeconds()
        let w0 = ContinuousClock.now
        if options.backtest > 0 {
            let decoded = try DecodedCapture.read(path: capture)
            let c1 = cpuSeconds()
            let policies = (0..<options.backtest).map { i in
                DwellPolicy(DwellParameters(minPeople: 2 + i % 5, dwell: .seconds(10 + 20 * (i / 5 % 5)), gap: .seconds(2 + i / 25)))
            }
            let outcomes = Backtest.parallelMap(count: policies.count) { Backtest.evaluate(decoded, policy: policies[$0]) }
            let c2 = cpuSeconds()
            print(
                "run \(run): read \(decoded.messages) messages in \(String(format: "%.3f", c1 - c0)) CPU-s, \(options.backtest) combinations in \(String(format: "%.3f", c2 - c1)) CPU-s (\(outcomes.map(\.events).reduce(0, +)) events), wall \(ContinuousClock.now - w0)"
            )
        } else {
            let result = try Replay(policy: policy).run(path: capture)
            let c1 = cpuSeconds()
            print(
                "run \(run): \(result.counters.messages) messages in \(String(format: "%.3f", c1 - c0)) CPU-s = \(String(format: "%.2f", Double(result.counters.messages) / (c1 - c0) / 1e6)) M msg/CPU-s; \(result.events.count) events, \(result.zones) zones"
            )
        }
    }
    exit(0)
}
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-bench-\(getpid())")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { if !options.keep { try? FileManager.default.removeItem(at: dir) } }

print("crowdkit-bench: replay (decode + detect), dwell policy defaults, \(options.zones) zones, format \(options.format)")

func bench(messages: Int, runs: Int) throws -> (best: Double, events: Int, peakRSS: Int) {
    let path = dir.appendingPathComponent("feed-\(messages).capture").path
    let g0 = ContinuousClock.now
    try generate(path: path, messages: messages, zones: options.zones, format: options.format)
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    print("  generated \(messages) messages (\(size / 1_000_000) MB) in \(ContinuousClock.now - g0)")
    var best = 0.0
    var events = 0
    var peak = 0
    for run in 1...runs {
        var sampled = 0
        let start = ContinuousClock.now
        let cpu0 = clock()
        let result = try Replay(policy: policy).run(path: path) { _ in sampled = max(sampled, memory().rss) }
        let elapsed = (ContinuousClock.now - start)
        let cpu = Double(clock() - cpu0) / Double(CLOCKS_PER_SEC)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(result.counters.messages) / seconds
        best = max(best, rate)
        events = result.events.count
        peak = max(peak, sampled)
        print(
            "  run \(run): \(result.counters.messages) messages in \(String(format: "%.3f", seconds)) s (cpu \(String(format: "%.3f", cpu)) s) = \(String(format: "%.0f", rate)) msg/s; \(result.events.count) events, \(result.zones) zones, rss during replay \(sampled / 1024) MB"
        )
        precondition(result.counters.messages == messages && result.counters.rejected == 0)
    }
    try? FileManager.default.removeItem(atPath: path)
    return (best, events, peak)
}

let small = try bench(messages: options.messages, runs: options.runs)
let large = try bench(messages: options.messages * 4, runs: 1)
let python = 77_000.0
print("")
print("result: best \(String(format: "%.0f", small.best)) msg/s on one core = \(String(format: "%.1f", small.best / python))x the Python model (~77k lines/s)")
print("memory: peak RSS during replay \(small.peakRSS / 1024) MB for \(options.messages) messages, \(large.peakRSS / 1024) MB for \(options.messages * 4) messages over the same \(options.zones) zones")
