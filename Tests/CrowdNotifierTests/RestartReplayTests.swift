import CrowdKitCore
import CrowdKitTestServers
import CrowdKitTesting
import Foundation
import Logging
import Testing

@testable import crowd_notifier

/// SEMANTICS.md §7 "Persisted state": processing a feed with stops and restarts (state saved to a
/// store, a fresh monitor loaded from it) gives the same events and notifications as processing
/// it without.
@Suite("Persisted zone state: stop and restart")
struct RestartReplayTests {
    struct DeliveryKey: Hashable, Comparable {
        var id: String
        var kind: String
        var sequence: Int
        static func < (a: Self, b: Self) -> Bool { a.id < b.id }
    }

    static func messages(_ path: String) async throws -> [SourceMessage] {
        var out: [SourceMessage] = []
        for try await m in try await CaptureSource(path: path).messages() { out.append(m) }
        return out
    }

    /// Runs `messages` through monitors that each take `chunk` messages (all when nil), sharing
    /// one store for events, deliveries and zone states.
    static func run(
        _ messages: [SourceMessage], _ setup: DetectionSetup, chunk: Int?, logger: Logger
    ) async throws -> (events: [CrowdEvent], deliveries: [DeliveryKey]) {
        let policy = AnyDetectionPolicy(setup.policy)
        let store = InMemoryEventStore()
        let size = chunk ?? max(messages.count, 1)
        var start = 0
        repeat {
            let part = Array(messages[start..<min(start + size, messages.count)])
            let monitor = CrowdMonitor(
                source: ScriptedSource(part), policy: policy, filter: setup.filter, store: store,
                notifiers: NotificationPlan(notifiers: ["log"], kinds: [.fired, .reminder, .ended]), zoneStates: store,
                areas: setup.areas, objectTypes: setup.objectTypes, logger: logger)
            try await monitor.run()
            start += size
        } while start < messages.count
        var events: [CrowdEvent] = []
        var deliveries: [DeliveryKey] = []
        var query = EventQuery(limit: 500)
        while true {
            let page = try await store.events(query)
            for r in page.records {
                events.append(r.event)
                deliveries += r.deliveries.map { DeliveryKey(id: $0.id, kind: $0.kind.rawValue, sequence: $0.sequence) }
            }
            guard let next = page.nextCursor else { break }
            query.cursor = next
        }
        return (events.sorted { $0.id.rawValue < $1.id.rawValue }, deliveries.sorted())
    }

    @Test("a stop and a restart after every 10th message give exactly the events and notifications of an uninterrupted run", arguments: ReplayFixtureTests.cases)
    func restartEveryTenth(_ c: ReplayFixtureTests.Case) async throws {
        let command = try ReplayCommand.parse([c.capture] + c.options)
        let setup = try await command.detection.locatingConfig(near: c.capture).resolve()
        let messages = try await Self.messages(c.capture)
        let logs = LogCapture()
        let whole = try await Self.run(messages, setup, chunk: nil, logger: logs.logger())
        let restarted = try await Self.run(messages, setup, chunk: 10, logger: logs.logger())
        #expect(!whole.events.isEmpty, "the capture must have events, or this proves nothing")
        #expect(restarted.events == whole.events)
        #expect(restarted.deliveries == whole.deliveries)
        #expect(!logs.allText.contains("starts fresh"), "\(logs.allText)")
    }

    @Test("without saved state, restarts lose dwell timers (the check above can fail)")
    func withoutStateDiffers() async throws {
        let c = try #require(ReplayFixtureTests.cases.first { $0.name == "lobby-dwell" })
        let command = try ReplayCommand.parse([c.capture] + c.options)
        let setup = try await command.detection.resolve()
        let (policy, filter) = (setup.policy, setup.filter)
        let messages = try await Self.messages(c.capture)
        let whole = try await Self.run(messages, setup, chunk: nil, logger: Logger(label: "t"))
        // the same chunks, each monitor starting fresh
        let store = InMemoryEventStore()
        var start = 0
        while start < messages.count {
            let monitor = CrowdMonitor(
                source: ScriptedSource(Array(messages[start..<min(start + 10, messages.count)])), policy: AnyDetectionPolicy(policy),
                filter: filter, store: store, logger: Logger(label: "t"))
            try await monitor.run()
            start += 10
        }
        #expect(try await store.events(EventQuery(limit: 500)).records.count != whole.events.count)
    }

    @Test("a saved state that cannot be read is logged with its zone; that zone starts fresh, the others resume")
    func unreadableState() async throws {
        let store = InMemoryEventStore()
        let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(5), gap: .seconds(1), cooldown: .zero))
        func readings(_ camera: String, _ range: ClosedRange<Int>) -> [SourceMessage] {
            range.map { .raw(RawMessage(topic: "/merakimv/\(camera)/0", payload: #"{"ts":\#(Int64($0) * 1000),"counts":{"person":4}}"#)) }
        }
        // 3 s of crowd in two zones, then a stop
        let first = CrowdMonitor(
            source: ScriptedSource(readings("Q2GV-GOOD", 0...3) + readings("Q2GV-EDIT", 0...3)), policy: policy, store: store,
            zoneStates: store, logger: Logger(label: "t"))
        try await first.run()
        // the state of one zone is hand-edited; one zone is written by a newer version
        try await store.saveZoneStates([
            SavedZoneState(zone: ZoneKey(camera: "Q2GV-EDIT", zone: "0"), policy: "dwell", data: [1, 2, 3]),
            SavedZoneState(zone: ZoneKey(camera: "Q2GV-NEWR", zone: "0"), policy: "dwell", data: [9] + Array(repeating: 0, count: 100)),
        ])
        let logs = LogCapture()
        let second = CrowdMonitor(
            source: ScriptedSource(readings("Q2GV-GOOD", 4...6) + readings("Q2GV-EDIT", 4...6)), policy: policy, store: store,
            zoneStates: store, logger: logs.logger())
        try await second.run()
        let events = try await store.events(EventQuery()).records.map(\.event)
        // GOOD resumed: its crowd started at 0 s and fired at 5 s; EDIT started fresh at 4 s
        #expect(events.map(\.camera) == ["Q2GV-GOOD"])
        #expect(events.first?.startedAt == 0)
        #expect(logs.allText.contains("saved state of camera Q2GV-EDIT zone 0 not used; the zone starts fresh"), "\(logs.allText)")
        #expect(logs.allText.contains("saved state of camera Q2GV-NEWR zone 0 not used"))
        #expect(logs.allText.contains("engine state version 9 is unknown"))
    }
}
