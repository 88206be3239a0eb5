// crowdkit-state-bench: the cost of persisted zone state (SEMANTICS.md §7) with many zones.
//
//   swift run -c release crowdkit-state-bench [--zones 100000] [--rounds 20] [--keep PATH]
//
// Feeds every zone one reading per round (a second of a live site where every zone's count
// changes every second) through a DetectionEngine with the dwell policy, and per round:
//   detect   decode + detect of the round's messages (the ingest work persistence adds to),
//   take     handing over the states the engine encoded as zones changed (counted in detect:
//            the engine encodes a zone when it changes), every 100 ms (after each batch),
//   merge    merging the takes of 850 ms (latest per zone, as the persister does),
//   save     SQLiteEventStore.saveZoneStates of them every 850 ms (the blocks of 128 zones that
//            changed, one transaction, on the store's writer thread),
// all in CPU seconds of this process, beside an engine without persistence fed the same batches
// (the baseline): (detect - baseline + take + merge + save) / baseline is what persistence adds. Then it measures a start: opening the store, loading every zone's state and restoring
// it into a fresh engine. `--keep PATH` leaves the store file at PATH (for timing
// `crowd-notifier run --store PATH` starting with that state).
import CrowdKitCore
import CrowdKitSQLite
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

var zones = 100_000
var rounds = 20
var keep: String?
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--zones": zones = Int(args.next() ?? "") ?? zones
    case "--rounds": rounds = Int(args.next() ?? "") ?? rounds
    case "--keep": keep = args.next()
    default:
        FileHandle.standardError.write(Data("usage: crowdkit-state-bench [--zones N] [--rounds R] [--keep PATH]\n".utf8))
        exit(64)
    }
}

let path = keep ?? NSTemporaryDirectory() + "crowdkit-state-bench-\(UUID().uuidString).sqlite"
let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
let store = try SQLiteEventStore(path: path, logger: logger)
let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(30), gap: .seconds(5), cooldown: .seconds(60)))
var engine = DetectionEngine(policy: policy)
engine.trackChanges()
// the same messages through an engine without persistence, batch by batch beside the first
// (so that other tenants of the machine slow both alike): the baseline
var plain = DetectionEngine(policy: policy)
var baseline = 0.0
let t0: Int64 = 1_714_632_600_000
// one message per zone and round, as MV Sense topics and payloads
let topics = (0..<zones).map { "/merakimv/Q2BN-\(String(format: "%04d", $0 / 4))-0000/\($0 % 4)" }
var detect = 0.0, take = 0.0, merge = 0.0, save = 0.0
var waiting: [ZoneStateBatch] = []
var events = 0
print("zones \(zones), rounds \(rounds) (one reading per zone and round)")
var firstRound = (detect: 0.0, take: 0.0, save: 0.0)
for round in 0..<rounds {
    if round == 1 {
        // the first round numbers every zone and writes every key once: reported apart, the
        // figures below are the steady state of a site that runs
        firstRound = (detect, take, save)
        detect = 0; take = 0; merge = 0; save = 0; baseline = 0
    }
    var parts = [RawMessageBatch](repeating: RawMessageBatch(), count: 10)
    for (i, topic) in topics.enumerated() {
        // counts change every round; about a third of the zones hold a crowd for a while
        let people = (i + round) % 7
        parts[i % 10].append(RawMessage(topic: topic, payload: #"{"ts":\#(t0 + Int64(round) * 1000),"counts":{"person":\#(people)}}"#))
    }
    // as the monitor does: a take every 100 ms (each batch), merged and saved every 850 ms
    // (every 9th batch, and at the end as at shutdown)
    for (p, part) in parts.enumerated() {
        var c = cpuSeconds()
        plain.process(part, emit: { _ in }, rejected: { _, _ in })
        baseline += cpuSeconds() - c
        c = cpuSeconds()
        engine.process(part, emit: { _ in events += 1 }, rejected: { _, _ in })
        detect += cpuSeconds() - c
        c = cpuSeconds()
        guard let states = engine.takeChangedStates() else { fatalError("the dwell policy saves its state") }
        take += cpuSeconds() - c
        waiting.append(states)
        guard waiting.count == 9 || (round == rounds - 1 && p == parts.count - 1) else { continue }
        c = cpuSeconds()
        let merged = ZoneStateBatch.merged(waiting)
        waiting.removeAll()
        merge += cpuSeconds() - c
        c = cpuSeconds()
        for batch in merged { try await store.saveZoneStates(batch) }
        save += cpuSeconds() - c
    }
}
let blocks = try await store.zoneStateBlocks()
func f(_ x: Double) -> String { String(format: "%.3f", x) }
print("first round (every zone new): detect \(f(firstRound.detect)), take \(f(firstRound.take)), save \(f(firstRound.save)) CPU-s")
print("CPU seconds over the \(rounds - 1) rounds after it: detect \(f(detect)), take \(f(take)), merge \(f(merge)), save \(f(save)); events \(events)")
print("without persistence: detect \(f(baseline)) CPU-s; persistence costs \(f((detect - baseline + take + merge + save) / baseline * 100)) % more (detect with change tracking \(f(detect)), take, merge, save)")
print("persistence / detect: \(f((take + merge + save) / detect)) (take \(f(take / detect)), merge \(f(merge / detect)), save \(f(save / detect)))")
let changes = Double(zones * (rounds - 1))
func ns(_ x: Double) -> String { f(x / changes * 1e9) }
print("per zone change: detect \(ns(detect)) ns, take \(ns(take)) ns, merge \(ns(merge)) ns, save \(ns(save)) ns; blocks \(blocks)")

// a start with this state
let wall = ContinuousClock.now
let c = cpuSeconds()
let reopened = try SQLiteEventStore(path: path, logger: logger)
let saved = try await reopened.loadZoneStates()
var fresh = DetectionEngine(policy: policy)
let skipped = fresh.restore(saved)
let took = ContinuousClock.now - wall
print("start: open + load + restore of \(saved.count) zones (\(skipped.count) skipped): \(took) wall, \(f(cpuSeconds() - c)) CPU-s")
if keep == nil {
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
} else {
    print("store kept at \(path)")
}
