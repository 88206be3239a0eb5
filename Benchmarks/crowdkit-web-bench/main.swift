// crowdkit-web-bench: fills a SQLite event store and measures insert throughput and page
// latency under concurrent load (wrk) on 127.0.0.1. Not a test: run it on purpose, in release:
//
//   swift build -c release --product crowdkit-web-bench
//   .build/release/crowdkit-web-bench [--events 1000000] [--path bench-out/bench.sqlite]
//       [--port 5099] [--connections 16] [--seconds 10] [--serve]
//
// Needs `wrk` (apt-get install -y wrk) for the latency part. `--serve` keeps the server running
// afterwards (for a look with a browser).
import CrowdKitCore
import CrowdKitSQLite
import CrowdKitWeb
import Foundation
import Hummingbird
import Logging
import Synchronization

struct Options {
    var events = 1_000_000
    var path = "bench-out/bench.sqlite"
    var port = 5099
    var connections = 16
    var seconds = 10
    var serve = false
    var insertOnly = false
    var cacheMiB = 16
    var mmapMiB = 0

    init(_ args: [String]) {
        var it = args.dropFirst().makeIterator()
        while let a = it.next() {
            switch a {
            case "--events": events = Int(it.next() ?? "") ?? events
            case "--path": path = it.next() ?? path
            case "--port": port = Int(it.next() ?? "") ?? port
            case "--connections": connections = Int(it.next() ?? "") ?? connections
            case "--seconds": seconds = Int(it.next() ?? "") ?? seconds
            case "--serve": serve = true
            case "--insert-only": insertOnly = true
            case "--cache-mib": cacheMiB = Int(it.next() ?? "") ?? cacheMiB
            case "--mmap-mib": mmapMiB = Int(it.next() ?? "") ?? mmapMiB
            default:
                print("unknown option \(a)")
                exit(2)
            }
        }
    }
}

let options = Options(CommandLine.arguments)
let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
let cameras = (0..<20).map { String(format: "Q2GV-BENC-%04d", $0) }
let zones = ["0", "584342051651321858", "584342051651321859", "584342051651321860", "584342051651321861"]
let base: Int64 = 1_760_000_000_000
let policy = PolicyDescription(name: "dwell", parameters: ["minPeople": 3, "dwellSeconds": 60, "gapSeconds": 5])

func change(_ i: Int, sent: Bool) -> EventChange {
    let camera = cameras[i % cameras.count]
    let zone = zones[(i / cameras.count) % zones.count]
    let start = base + Int64(i) * 7_000
    var e = CrowdEvent(
        camera: camera, zone: zone, startedAt: start, firedAt: start + 60_000, endedAt: start + 95_000,
        peak: 3 + i % 9, policy: policy, cameraName: "Camera \(i % cameras.count)", zoneName: "Zone \(zone.suffix(2))")
    e.videoURL = "https://n1.meraki.example/video?serial=\(camera)&t=\(start)"
    let deliveries = ["webex", "log"].map { name in
        Delivery(
            eventID: e.id, notifier: name, kind: .fired, status: sent ? .sent(remoteID: "m\(i)") : .pending,
            attempts: sent ? 1 : 0, createdAt: start + 60_010)
    }
    return EventChange(kind: .fired, event: e, deliveries: deliveries)
}

func ms(_ d: Duration) -> Double {
    let (s, a) = d.components
    return Double(s) * 1000 + Double(a) / 1e15
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

try FileManager.default.createDirectory(
    atPath: (options.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
let clock = ContinuousClock()
let store = try SQLiteEventStore(
    configuration: .init(
        path: options.path, retentionDays: nil, pageCacheMiB: options.cacheMiB, memoryMapMiB: options.mmapMiB),
    logger: logger)
var existing = try await store.eventCount()
print("store \(options.path): \(existing) events")

// 1. Insert throughput: one fired event (with two pending deliveries) per apply, sequentially,
//    as the monitor writes them; then the same with 8 concurrent writers.
if existing < options.events {
    let single = 20_000
    let t0 = clock.now
    for i in existing..<(existing + single) { try await store.apply(change(i, sent: false)) }
    let singleTime = clock.now - t0
    existing += single
    print(String(format: "insert, one apply per fired event (sequential): %.0f events/s (%d in %.2f s)",
        Double(single) / (ms(singleTime) / 1000), single, ms(singleTime) / 1000))

    let concurrent = 20_000
    let start = existing
    let t1 = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<8 {
            group.addTask {
                var i = start + w
                while i < start + concurrent {
                    try await store.apply(change(i, sent: false))
                    i += 8
                }
            }
        }
        try await group.waitForAll()
    }
    let concurrentTime = clock.now - t1
    existing += concurrent
    print(String(format: "insert, one apply per fired event (8 writers):  %.0f events/s",
        Double(concurrent) / (ms(concurrentTime) / 1000)))

    // 2. Fill the rest in batches (sent deliveries, as an old store would have).
    let t2 = clock.now
    var batch: [EventChange] = []
    let fillStart = existing
    for i in stride(from: existing, to: options.events, by: 1) {
        batch.append(change(i, sent: true))
        if batch.count == 5_000 {
            try await store.apply(contentsOf: batch)
            batch.removeAll(keepingCapacity: true)
        }
    }
    try await store.apply(contentsOf: batch)
    let fillTime = clock.now - t2
    let filled = options.events - fillStart
    if filled > 0 {
        print(String(format: "insert, batches of 5000: %.0f events/s (%d in %.1f s)",
            Double(filled) / (ms(fillTime) / 1000), filled, ms(fillTime) / 1000))
    }
    existing = try await store.eventCount()
}
print("store holds \(existing) events")
do {
    // Inserting into the full store: one apply per fired event, sequential, then 8 writers.
    let n = 10_000
    let t = clock.now
    for i in existing..<(existing + n) { try await store.apply(change(i, sent: false)) }
    let seq = clock.now - t
    let t2 = clock.now
    let first = existing + n
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<8 {
            group.addTask {
                var i = first + w
                while i < first + n {
                    try await store.apply(change(i, sent: false))
                    i += 8
                }
            }
        }
        try await group.waitForAll()
    }
    let conc = clock.now - t2
    print(String(format: "insert into the store of %d events: sequential %.0f events/s, 8 writers %.0f events/s",
        existing, Double(n) / (ms(seq) / 1000), Double(n) / (ms(conc) / 1000)))
    existing += 2 * n
}
// Sustained: 10,000 fired events per second for 5 s, written the way CrowdMonitor's writer writes
// them (each write takes everything queued since the previous one, in one transaction).
do {
    let rate = 10_000
    let seconds = 5
    let queued = Mutex<[(EventChange, ContinuousClock.Instant)]>([])
    let first = existing
    let producing = Atomic<Bool>(true)
    let producer = Task {
        let start = clock.now
        var made = 0
        while made < rate * seconds {
            let due = start + .milliseconds(made * 1000 / rate)
            if clock.now < due { try? await Task.sleep(until: due, clock: clock) }
            let now = clock.now
            let burst = (0..<100).map { (change(first + made + $0, sent: false), now) }
            queued.withLock { $0.append(contentsOf: burst) }
            made += burst.count
        }
        producing.store(false, ordering: .releasing)
    }
    var written = 0
    var writes = 0
    var worst = Duration.zero
    let t = clock.now
    while true {
        let batch = queued.withLock { q in
            defer { q.removeAll(keepingCapacity: true) }
            return q
        }
        if batch.isEmpty {
            if !producing.load(ordering: .acquiring) && queued.withLock({ $0.isEmpty }) { break }
            try await Task.sleep(for: .milliseconds(1))
            continue
        }
        try await store.apply(contentsOf: batch.map(\.0))
        let done = clock.now
        worst = max(worst, done - batch[0].1)
        written += batch.count
        writes += 1
    }
    await producer.value
    let elapsed = ms(clock.now - t) / 1000
    print(String(format: "insert at %d fired events/s for %d s into the store of %d events, monitor-style batches: %.0f events/s written, %d writes, worst delay from queued to committed %.1f ms",
        rate, seconds, existing, Double(written) / elapsed, writes, ms(worst)))
    existing += written
}
if options.insertOnly { exit(0) }

// 3. In-process query latency (no HTTP): first page and a filtered page, 2000 times each.
let newest = base + Int64(existing) * 7_000
let filteredQuery = EventQuery(cameras: [cameras[7]], zones: [zones[2]], startedFrom: newest - 30 * 86_400_000)
for (name, query) in [("first page", EventQuery()), ("filtered page", filteredQuery)] {
    var samples: [Double] = []
    for _ in 0..<2_000 {
        let t = clock.now
        _ = try await store.events(query)
        samples.append(ms(clock.now - t))
    }
    samples.sort()
    print(String(format: "store.events %@: p50 %.3f ms, p99 %.3f ms", name, percentile(samples, 0.5), percentile(samples, 0.99)))
}

// 4. HTTP latency under concurrent load, with wrk.
let status = LiveStatus(
    zones: cameras.flatMap { c in
        zones.map { z in ZoneSnapshot(camera: c, zone: z, people: 2, vehicles: 0, lastTs: newest, phase: .idle) }
    },
    feed: SourceStatus(state: .connected, description: "mqtt://127.0.0.1:1883", lastMessageAt: Date(), received: 1))
let web = CrowdWeb(store: store, logger: logger, liveStatus: { status })
let router = Router()
web.addRoutes(to: router)
// A fixed 60 KB body: separates transport costs from rendering costs.
let fixedBody = String(repeating: "x", count: 60_000)
router.get("/bench/fixed") { _, _ in fixedBody }
let app = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: options.port)), logger: logger)
let server = Task { try await app.runService(gracefulShutdownSignals: []) }
try await Task.sleep(for: .milliseconds(500))

let fromISO = String(describing: newest - 30 * 86_400_000)
let targets: [(String, String)] = [
    ("page: first page", "/"),
    ("page: filtered (camera+zone+from)", "/?camera=\(cameras[7])&zone=\(zones[2])&from=\(fromISO)"),
    ("page: filtered (camera)", "/?camera=\(cameras[3])"),
    ("api: first page", "/api/events"),
    ("api: filtered (camera+zone+from)", "/api/events?camera=\(cameras[7])&zone=\(zones[2])&from=\(fromISO)"),
]

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

if let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
    for (name, path) in targets {
        let url = "http://127.0.0.1:\(options.port)\(path)"
        // one wrk thread: with two, the load generator takes both cores from the server
        let out = run(wrk, ["-t1", "-c\(options.connections)", "-d\(options.seconds)s", "--latency", url]) ?? ""
        let lines = out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let pick = { (prefix: String) in lines.first { $0.hasPrefix(prefix) } ?? "?" }
        print("\(name) [\(options.connections) connections, \(options.seconds) s]: \(pick("50%")) | \(pick("99%")) | \(pick("Requests/sec")) | \(pick("Non-2xx"))")
    }
} else {
    print("wrk not installed (apt-get install -y wrk): skipping the HTTP load part")
}

if options.serve {
    print("serving on http://127.0.0.1:\(options.port)/ (Ctrl-C to stop)")
    try await server.value
} else {
    server.cancel()
}
