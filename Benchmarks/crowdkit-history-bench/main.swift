// crowdkit-history-bench: occupancy history at scale. Fills a SQLite store with the minutes of
// 1,000 zones for 30 days (43.2 million rows; kept between runs), then measures
//   1. a zone's 24 h history read from the store (what GET /api/zones/{c}/{z}/history reads),
//   2. GET /api/zones/{camera}/{zone}/history over HTTP (random zones, one connection, wrk),
//   3. GET /charts (50 zones with their 24 h charts, drawn as SVG on the server) over HTTP.
// Not a test: run it on purpose, in release:
//
//   swift build -c release --product crowdkit-history-bench
//   .build/release/crowdkit-history-bench [--zones 1000] [--days 30] [--path bench-out/history.sqlite]
//       [--port 5098] [--seconds 10] [--serve]
//
// Needs `wrk` (apt-get install -y wrk) for the HTTP parts.
import CrowdKitCore
import CrowdKitSQLite
import CrowdKitWeb
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Logging

struct Options {
    var zones = 1000
    var days = 30
    var path = "bench-out/history.sqlite"
    var port = 5098
    var seconds = 10
    var serve = false

    init(_ args: [String]) {
        var it = args.dropFirst().makeIterator()
        while let a = it.next() {
            switch a {
            case "--zones": zones = Int(it.next() ?? "") ?? zones
            case "--days": days = Int(it.next() ?? "") ?? days
            case "--path": path = it.next() ?? path
            case "--port": port = Int(it.next() ?? "") ?? port
            case "--seconds": seconds = Int(it.next() ?? "") ?? seconds
            case "--serve": serve = true
            default:
                print("unknown option \(a)")
                exit(2)
            }
        }
    }
}

let options = Options(CommandLine.arguments)
let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
let clock = ContinuousClock()
// 50 cameras with 20 zones each (for 1,000 zones)
let keys = (0..<options.zones).map { i in ZoneKey(camera: String(format: "Q2GV-HIST-%04d", i / 20), zone: i % 20 == 0 ? "0" : "58434205165132\(1000 + i % 20)") }
var end = Int64(Date().timeIntervalSince1970 * 1000) / 60_000 * 60_000
let minutesPerZone = options.days * 1440

func ms(_ d: Duration) -> Double {
    let (s, a) = d.components
    return Double(s) * 1000 + Double(a) / 1e15
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

/// A day's shape: quiet nights, a lunch peak, noise; deterministic per zone and minute.
func people(_ zone: Int, _ minute: Int) -> Int {
    let hour = (minute / 60) % 24
    let base = hour >= 8 && hour < 18 ? 3 : 0
    let lunch = hour == 12 ? 6 : 0
    return base + lunch + (zone &* 31 &+ minute &* 17) % 4
}

try FileManager.default.createDirectory(
    atPath: (options.path as NSString).deletingLastPathComponent.isEmpty ? "." : (options.path as NSString).deletingLastPathComponent,
    withIntermediateDirectories: true)
let store = try SQLiteEventStore(path: options.path, logger: logger)

// 1. Fill (skipped when the file already holds the days of the last zone: the range then ends
// at its newest minute).
let expected = options.zones * minutesPerZone
let filled = try await store.occupancy(of: keys[keys.count - 1], from: 0, to: .max)
if filled.count >= minutesPerZone, let newest = filled.last?.minute { end = newest + 60_000 }
let start = end - Int64(minutesPerZone) * 60_000
if filled.count < minutesPerZone {
    print("filling \(options.path): \(options.zones) zones x \(options.days) days = \(expected) minutes ...")
    let t = clock.now
    // a day of every zone per write: what the history writer does, only more at once
    for day in 0..<options.days {
        var batch: [OccupancyMinute] = []
        batch.reserveCapacity(options.zones * 1440)
        for (z, key) in keys.enumerated() {
            for m in (day * 1440)..<((day + 1) * 1440) {
                let p = people(z, m)
                batch.append(OccupancyMinute(zone: key, minute: start + Int64(m) * 60_000, max: p + 1, sum: p * 6, observations: 6, last: p))
            }
        }
        try await store.appendOccupancy(batch)
        if day % 5 == 4 { print("  \(day + 1) days written, \(Int(Double((day + 1) * options.zones * 1440) / (ms(clock.now - t) / 1000))) minutes/s") }
    }
    print(String(format: "filled in %.1f s", ms(clock.now - t) / 1000))
} else {
    print("reusing \(options.path) (\(options.zones) zones x \(options.days) days)")
}
let size = (try? FileManager.default.attributesOfItem(atPath: options.path)[.size] as? Int) ?? 0
print(String(format: "store file %.0f MiB", Double(size) / 1_048_576))

// 2. The store's read of a zone's 24 h (random zone, random day), as the API does it.
do {
    var rng = SystemRandomNumberGenerator()
    var samples: [Double] = []
    var rows = 0
    for _ in 0..<3_000 {
        let key = keys[Int.random(in: 0..<keys.count, using: &rng)]
        let to = end - Int64.random(in: 0..<Int64(max(options.days - 1, 1)), using: &rng) * 86_400_000
        let t = clock.now
        let minutes = try await store.occupancy(of: key, from: to - 86_400_000, to: to)
        _ = OccupancyPoint.points(minutes, step: 60_000)
        samples.append(ms(clock.now - t))
        rows += minutes.count
    }
    samples.sort()
    print(String(format: "store.occupancy 24 h of one zone (%d minutes each): p50 %.3f ms, p99 %.3f ms, max %.3f ms",
        rows / 3_000, percentile(samples, 0.5), percentile(samples, 0.99), samples.last ?? 0))
}

// 2b. A small chart's read (24 h in steps of 15 minutes): merged by the store, or read as minutes
// and merged here; alternating, same zones.
do {
    var rng = SystemRandomNumberGenerator()
    var merged: [Double] = []
    var minutes: [Double] = []
    for _ in 0..<2_000 {
        let key = keys[Int.random(in: 0..<keys.count, using: &rng)]
        // quarter-hour aligned, as the charts ask
        let to = (end - Int64.random(in: 0..<Int64(max(options.days - 1, 1)), using: &rng) * 86_400_000) / 900_000 * 900_000
        var t = clock.now
        _ = try await store.occupancyPoints(of: key, from: to - 86_400_000, to: to, step: 900_000)
        merged.append(ms(clock.now - t))
        t = clock.now
        _ = OccupancyPoint.points(try await store.occupancy(of: key, from: to - 86_400_000, to: to), step: 900_000)
        minutes.append(ms(clock.now - t))
    }
    merged.sort()
    minutes.sort()
    print(String(format: "24 h in 15-minute points: merged by SQLite p50 %.3f ms p99 %.3f ms; minutes merged in Swift p50 %.3f ms p99 %.3f ms",
        percentile(merged, 0.5), percentile(merged, 0.99), percentile(minutes, 0.5), percentile(minutes, 0.99)))
}

// 3. HTTP: the history API and the charts page.
let live = LiveStatus(zones: keys.map { ZoneSnapshot(camera: $0.camera, zone: $0.zone, people: 2, vehicles: 0, lastTs: end - 1000, phase: .idle) })
let settingsLive = LiveSettings(settings: RuntimeSettings(defaults: ParameterSet([.minPeople: 8])))
let control = SettingsControl(store: store, live: settingsLive, logger: logger)
try await control.start(seed: RuntimeSettings(defaults: ParameterSet([.minPeople: 8])))
let web = CrowdWeb(store: store, logger: logger, liveStatus: { live }, settings: control)
let router = Router()
web.addRoutes(to: router)
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: options.port)), logger: logger)
let server = Task { try await app.runService() }
try await Task.sleep(for: .milliseconds(500))

func run(_ path: String, _ args: [String]) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    do { try p.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

func latencyLines(_ out: String) -> String {
    out.split(separator: "\n").filter { $0.contains("50%") || $0.contains("99%") || $0.contains("Requests/sec") || $0.contains("Non-2xx") }
        .map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " | ")
}

if let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
    // random zones, the last 24 h
    let script = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(getpid()).lua").path
    let paths = keys.map { "\"/api/zones/\($0.camera)/\($0.zone)/history\"" }.joined(separator: ",")
    try "local paths = {\(paths)}\nrequest = function() return wrk.format(\"GET\", paths[math.random(#paths)]) end\n"
        .write(toFile: script, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: script) }
    let base = "http://127.0.0.1:\(options.port)"
    _ = run(wrk, ["-t1", "-c1", "-d2s", "-s", script, base])  // warm-up
    let history = run(wrk, ["-t1", "-c1", "-d\(options.seconds)s", "--latency", "-s", script, base]) ?? ""
    print("GET /api/zones/{camera}/{zone}/history (24 h, random zone, 1 connection): " + latencyLines(history))
    _ = run(wrk, ["-t1", "-c1", "-d2s", base + "/charts"])
    let charts = run(wrk, ["-t1", "-c1", "-d\(options.seconds)s", "--latency", base + "/charts"]) ?? ""
    print("GET /charts (50 zones, 24 h charts, 1 connection): " + latencyLines(charts))
    if let (data, _) = try? await URLSession.shared.data(from: URL(string: base + "/charts")!) {
        let html = String(decoding: data, as: UTF8.self)
        print("  /charts: \(data.count / 1024) KiB, \(html.components(separatedBy: "<svg").count - 1) charts")
    }
} else {
    print("wrk not installed (apt-get install -y wrk): skipping the HTTP part")
}
if options.serve {
    print("serving on http://127.0.0.1:\(options.port)/charts (Ctrl-C to stop)")
    try await server.value
}
server.cancel()
