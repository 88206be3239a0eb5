import CrowdKitCore
import CrowdKitTesting
import Foundation
import Logging
import Testing

/// The conformance suites of CrowdKitTesting for notifiers, enrichers and sources: the built-in
/// implementations pass, and each deliberately broken one fails the check it breaks.
@Suite("Conformance suites: notifiers, enrichers, sources")
struct ConformanceSuiteTests {
    static let quiet = Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }

    /// Expects `body` to fail exactly with `check` among its failures.
    static func expectFailure(_ check: String, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            try await body()
            Issue.record("the broken implementation passed; \(check) should have failed", sourceLocation: sourceLocation)
        } catch let f as ConformanceFailure {
            #expect(f.includes(check), "\(f)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: notifiers

    struct RandomName: Notifier {
        let name = "n-\(UUID().uuidString.prefix(8))"
        func send(_ n: CrowdNotification) async throws -> NotificationReceipt { NotificationReceipt() }
    }

    /// Sends everything twice.
    struct Twice: Notifier {
        let inner: RecordingNotifier
        var name: String { inner.name }
        func send(_ n: CrowdNotification) async throws -> NotificationReceipt {
            _ = try await inner.send(n)
            return try await inner.send(n)
        }
    }

    struct Hanging: Notifier {
        let name = "hanging"
        func send(_ n: CrowdNotification) async throws -> NotificationReceipt {
            try? await Task.sleep(for: .seconds(30))
            return NotificationReceipt()
        }
    }

    struct OtherError: Error {}

    struct FailsWith: Notifier {
        let name = "failing"
        let error: any Error
        func send(_ n: CrowdNotification) async throws -> NotificationReceipt { throw error }
    }

    @Test("built-in notifiers pass")
    func notifiersPass() async throws {
        let recording = RecordingNotifier(name: "recording")
        try await NotifierConformance.run(
            makeNotifier: { recording }, accepted: { recording.sent.count },
            makeFailing: { RecordingNotifier(name: "recording", failFirst: 1000, failure: NotificationError(.transient, "HTTP 503")) },
            secrets: ["s3cr3t-token"])
        try await NotifierConformance.run(makeNotifier: { LogNotifier(logger: Self.quiet) })
    }

    @Test("broken notifiers fail the check they break")
    func brokenNotifiers() async {
        await Self.expectFailure("nameIsStableAndNonEmpty") { try await NotifierConformance.run(makeNotifier: { RandomName() }) }
        let recording = RecordingNotifier(name: "twice")
        await Self.expectFailure("everyKindIsSentOnce") {
            try await NotifierConformance.run(makeNotifier: { Twice(inner: recording) }, accepted: { recording.sent.count })
        }
        await Self.expectFailure("everyKindIsSentOnce") {
            try await NotifierConformance.run(makeNotifier: { Hanging() }, timeLimit: .milliseconds(200))
        }
        await Self.expectFailure("failuresAreNotificationErrors") {
            try await NotifierConformance.run(makeNotifier: { LogNotifier(logger: Self.quiet) }, makeFailing: { FailsWith(error: OtherError()) })
        }
        await Self.expectFailure("noSecretInErrors") {
            try await NotifierConformance.run(
                makeNotifier: { LogNotifier(logger: Self.quiet) },
                makeFailing: { FailsWith(error: NotificationError(.permanent, "rejected token s3cr3t-token")) }, secrets: ["s3cr3t-token"])
        }
    }

    // MARK: enrichers

    struct ChangesPeak: EventEnricher {
        func enrich(_ e: CrowdEvent) async -> CrowdEvent {
            var e = e
            e.peak += 1
            return e
        }
    }

    struct NewSnapshotEachTime: EventEnricher {
        func enrich(_ e: CrowdEvent) async -> CrowdEvent {
            var e = e
            e.snapshotURL = "https://snapshot.example.invalid/\(UUID().uuidString).jpg"
            return e
        }
    }

    struct Slow: EventEnricher {
        func enrich(_ e: CrowdEvent) async -> CrowdEvent {
            try? await Task.sleep(for: .seconds(30))
            return e
        }
    }

    struct Leaky: EventEnricher {
        func enrich(_ e: CrowdEvent) async -> CrowdEvent {
            var e = e
            e.enrichmentNotes.append("video link failed for key k3y-12345")
            return e
        }
    }

    @Test("built-in enrichers pass")
    func enrichersPass() async throws {
        try await EventEnricherConformance.run(makeEnricher: { NoEnrichment() })
        try await EventEnricherConformance.run(
            makeEnricher: {
                StaticNamesEnricher(cameraNames: ["Q2GV-CONF-0001": "Desk"], zoneNames: [:]) { camera, at in "https://video.example.invalid/\(camera)?t=\(at)" }
            }, secrets: ["k3y-12345"])
    }

    @Test("broken enrichers fail the check they break")
    func brokenEnrichers() async {
        await Self.expectFailure("keepsCountsTimesAndIdentity") { try await EventEnricherConformance.run(makeEnricher: { ChangesPeak() }) }
        await Self.expectFailure("keepsWhatTheEventHas") { try await EventEnricherConformance.run(makeEnricher: { NewSnapshotEachTime() }) }
        await Self.expectFailure("idempotent") { try await EventEnricherConformance.run(makeEnricher: { NewSnapshotEachTime() }) }
        await Self.expectFailure("concurrentAndBounded") {
            try await EventEnricherConformance.run(makeEnricher: { Slow() }, timeLimit: .milliseconds(200))
        }
        await Self.expectFailure("noSecretInTheEvent") { try await EventEnricherConformance.run(makeEnricher: { Leaky() }, secrets: ["k3y-12345"]) }
    }

    // MARK: sources

    /// A source that mangles what it was given, one way or another.
    struct Broken: MessageSource {
        enum Fault: Sendable { case reorders, dropsBytes, batchesDiffer, ignoresCancellation }
        let messages: [RawMessage]
        let fault: Fault

        /// The list, then (with `forever`) a wait that ignores cancellation.
        struct Feed: AsyncSequence, Sendable {
            typealias Element = SourceMessage
            let items: [RawMessage]
            let forever: Bool
            struct AsyncIterator: AsyncIteratorProtocol {
                let items: [RawMessage]
                let forever: Bool
                var index = 0
                mutating func next() async throws -> SourceMessage? {
                    if index < items.count {
                        index += 1
                        return .raw(items[index - 1])
                    }
                    while forever { try? await Task.sleep(for: .milliseconds(100)) }
                    return nil
                }
            }
            func makeAsyncIterator() -> AsyncIterator { AsyncIterator(items: items, forever: forever) }
        }

        func messages() async throws -> Feed {
            var list = messages
            switch fault {
            case .reorders: list.swapAt(0, 1)
            case .dropsBytes: list = list.map { RawMessage(topic: $0.topic, payload: Array($0.payload.filter { $0 != 0 })) }
            case .batchesDiffer, .ignoresCancellation: break
            }
            return Feed(items: list, forever: fault == .ignoresCancellation)
        }

        struct Reader: RawBatchReader {
            var pending: [RawMessage]
            mutating func next(into batch: inout RawMessageBatch) async throws -> Bool {
                guard !pending.isEmpty else { return false }
                for m in pending { batch.append(m) }
                pending = []
                return true
            }
        }

        func batchReader() async throws -> Reader? {
            fault == .batchesDiffer ? Reader(pending: Array(messages.dropFirst())) : nil
        }
    }

    @Test("built-in sources pass: a scripted feed and a capture file")
    func sourcesPass() async throws {
        try await MessageSourceConformance.run { messages in ScriptedSource(messages.map { .raw($0) }) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("conformance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await MessageSourceConformance.run { messages in
            let path = dir.appendingPathComponent("\(UUID().uuidString).capture").path
            let writer = try CaptureWriter(path: path)
            for m in messages { try writer.write(m) }
            try writer.close()
            return CaptureSource(path: path)
        }
    }

    @Test("broken sources fail the check they break")
    func brokenSources() async {
        await Self.expectFailure("deliversAllInOrder") { try await MessageSourceConformance.run { Broken(messages: $0, fault: .reorders) } }
        await Self.expectFailure("payloadBytesIntact") { try await MessageSourceConformance.run { Broken(messages: $0, fault: .dropsBytes) } }
        await Self.expectFailure("batchesAreTheSameMessages") { try await MessageSourceConformance.run { Broken(messages: $0, fault: .batchesDiffer) } }
        await Self.expectFailure("cancellingEndsTheFeed") {
            try await MessageSourceConformance.run(timeLimit: .seconds(1)) { Broken(messages: $0, fault: .ignoresCancellation) }
        }
    }
}
