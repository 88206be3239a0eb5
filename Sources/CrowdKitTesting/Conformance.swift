import CrowdKitCore
import Foundation

/// A conformance check that failed: the suite, the check and what was wrong.
public struct ConformanceFailure: Error, CustomStringConvertible, Sendable {
    public var suite: String
    public var check: String
    public var message: String
    /// Every check that failed, when several did.
    public var all: [ConformanceFailure] = []

    public init(suite: String, check: String, message: String) {
        self.suite = suite
        self.check = check
        self.message = message
    }

    public var description: String {
        if all.count > 1 { return "\(suite) conformance: \(all.count) checks failed:\n" + all.map { "- \($0.check): \($0.message)" }.joined(separator: "\n") }
        return "\(suite) conformance \(check): \(message)"
    }

    /// Whether `check` is among the failures.
    public func includes(_ check: String) -> Bool { (all.isEmpty ? [self] : all).contains { $0.check == check } }
}

/// Runs each check, collecting failures; throws one ``ConformanceFailure`` listing all that failed.
enum ConformanceRunner {
    static func run<Check: CaseIterable & RawRepresentable>(
        _ suite: String, _ checks: Check.Type, skipping: Set<String> = [], _ body: (Check) async throws -> Void
    ) async throws where Check.RawValue == String {
        var failures: [ConformanceFailure] = []
        for check in Check.allCases where !skipping.contains(check.rawValue) {
            do {
                try await body(check)
            } catch let f as ConformanceFailure {
                failures.append(f)
            } catch {
                failures.append(ConformanceFailure(suite: suite, check: check.rawValue, message: "threw \(error)"))
            }
        }
        guard var first = failures.first else { return }
        first.all = failures
        throw first
    }

    /// `body`'s result, or `nil` when it did not finish within `limit`: then its task is
    /// cancelled and left behind, so that an implementation that ignores cancellation cannot
    /// hang the suite.
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        let once = Once<T?>()
        return try await withCheckedThrowingContinuation { (k: CheckedContinuation<T?, any Error>) in
            once.set(k)
            let work = Task {
                do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
            }
            Task {
                try? await Task.sleep(for: limit)
                if once.resume(.success(nil)) { work.cancel() }
            }
        }
    }
}

/// A continuation resumed by whichever comes first.
final class Once<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var result: Result<T, any Error>?

    func set(_ k: CheckedContinuation<T, any Error>) {
        lock.lock()
        if let result {
            lock.unlock()
            k.resume(with: result)
            return
        }
        continuation = k
        lock.unlock()
    }

    /// Whether this call was the first.
    @discardableResult
    func resume(_ r: Result<T, any Error>) -> Bool {
        lock.lock()
        guard result == nil else {
            lock.unlock()
            return false
        }
        result = r
        let k = continuation
        continuation = nil
        lock.unlock()
        k?.resume(with: r)
        return true
    }
}

/// A crowd event for the suites.
func conformanceEvent(camera: String = "Q2GV-CONF-0001", zone: String = "0", ended: Bool = false) -> CrowdEvent {
    CrowdEvent(
        camera: camera, zone: zone, startedAt: 1_714_632_600_123, firedAt: 1_714_632_660_200,
        endedAt: ended ? 1_714_632_760_000 : nil, peak: 7,
        policy: PolicyDescription(name: "dwell", parameters: ["minPeople": 3, "dwellSeconds": 60]))
}

/// Checks a ``Notifier`` against the contract written on the protocol. From a test of your own
/// notifier (with a fake of its remote side):
///
/// ```swift
/// try await NotifierConformance.run(
///     makeNotifier: { MyNotifier(url: fake.url) }, accepted: { fake.received.count },
///     makeFailing: { MyNotifier(url: fake.downURL) }, secrets: ["the-token"])
/// ```
///
/// - `accepted`: how many messages the remote side has accepted so far; with it the suite
///   checks one message per successful send.
/// - `makeFailing`: a notifier whose remote side fails; with it the suite checks that failures
///   are ``NotificationError``s, bounded in time, and name no secret.
public enum NotifierConformance {
    public enum Check: String, CaseIterable, Sendable {
        case nameIsStableAndNonEmpty
        case everyKindIsSentOnce
        case concurrentSendsComplete
        case failuresAreNotificationErrors
        case noSecretInErrors
    }

    public static func run(
        makeNotifier: @escaping @Sendable () async throws -> any Notifier, accepted: (@Sendable () async -> Int)? = nil,
        makeFailing: (@Sendable () async throws -> any Notifier)? = nil, secrets: [String] = [], timeLimit: Duration = .seconds(30)
    ) async throws {
        let suite = "Notifier"
        func fail(_ c: Check, _ m: String) -> ConformanceFailure { ConformanceFailure(suite: suite, check: c.rawValue, message: m) }
        let skipping: Set<String> = makeFailing == nil ? [Check.failuresAreNotificationErrors.rawValue, Check.noSecretInErrors.rawValue] : []
        try await ConformanceRunner.run(suite, Check.self, skipping: skipping) { check in
            switch check {
            case .nameIsStableAndNonEmpty:
                let a = try await makeNotifier().name, b = try await makeNotifier().name
                guard !a.isEmpty, !a.contains(where: \.isWhitespace) else { throw fail(check, "name \"\(a)\" is empty or has spaces") }
                guard a == b else { throw fail(check, "two notifiers made alike are named \"\(a)\" and \"\(b)\": delivery records are keyed by the name") }
            case .everyKindIsSentOnce:
                let notifier = try await makeNotifier()
                for (i, kind) in NotificationKind.allCases.enumerated() {
                    let before = await accepted?() ?? 0
                    let n = CrowdNotification(kind: kind, event: conformanceEvent(ended: kind == .ended), sequence: kind == .reminder ? 1 : 0, deliveryID: "conformance-\(i)")
                    guard try await ConformanceRunner.within(timeLimit, { try await notifier.send(n) }) != nil else {
                        throw fail(check, "sending a \(kind) notification took longer than \(timeLimit)")
                    }
                    if let accepted {
                        let after = await accepted()
                        guard after - before == 1 else { throw fail(check, "a \(kind) notification reached the remote side \(after - before) times, not once") }
                    }
                }
            case .concurrentSendsComplete:
                let notifier = try await makeNotifier()
                let before = await accepted?() ?? 0
                let done = try await ConformanceRunner.within(timeLimit) {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for i in 0..<16 {
                            group.addTask {
                                _ = try await notifier.send(
                                    CrowdNotification(kind: .fired, event: conformanceEvent(camera: "Q2GV-CONF-00\(10 + i)"), deliveryID: "concurrent-\(i)"))
                            }
                        }
                        try await group.waitForAll()
                    }
                    return true
                }
                guard done != nil else { throw fail(check, "16 concurrent sends did not all finish within \(timeLimit)") }
                if let accepted {
                    let n = await accepted() - before
                    guard n == 16 else { throw fail(check, "16 concurrent sends reached the remote side \(n) times") }
                }
            case .failuresAreNotificationErrors, .noSecretInErrors:
                let notifier = try await makeFailing!()
                let n = CrowdNotification(kind: .fired, event: conformanceEvent(), deliveryID: "failing")
                let outcome = try await ConformanceRunner.within(timeLimit) { () -> String? in
                    do {
                        _ = try await notifier.send(n)
                        return nil
                    } catch let e as NotificationError {
                        return "NotificationError(\(e.code)): \(e.message)"
                    } catch {
                        return "other: \(error)"
                    }
                }
                guard let outcome else { throw fail(check, "a failing send did not end within \(timeLimit)") }
                guard let text = outcome else { throw fail(check, "the failing notifier's send returned instead of throwing") }
                if check == .failuresAreNotificationErrors {
                    guard text.hasPrefix("NotificationError") else { throw fail(check, "failures must be NotificationError (.permanent or .transient); got \(text)") }
                    guard text.count > "NotificationError(transient): ".count else { throw fail(check, "the error says nothing") }
                } else if let secret = secrets.first(where: { !$0.isEmpty && text.contains($0) }) {
                    throw fail(check, "the error names a secret (\(secret.prefix(3))…)")
                }
            }
        }
    }
}

/// Checks an ``EventEnricher``: never fails, changes no count or time, keeps what the event
/// has, idempotent, bounded in time, concurrent, and puts no secret into the event.
///
/// ```swift
/// try await EventEnricherConformance.run(makeEnricher: { MyEnricher(...) }, secrets: ["api-key"])
/// ```
public enum EventEnricherConformance {
    public enum Check: String, CaseIterable, Sendable {
        case keepsCountsTimesAndIdentity
        case keepsWhatTheEventHas
        case idempotent
        case concurrentAndBounded
        case noSecretInTheEvent
    }

    public static func run(
        makeEnricher: @escaping @Sendable () async throws -> any EventEnricher, secrets: [String] = [], timeLimit: Duration = .seconds(30)
    ) async throws {
        let suite = "EventEnricher"
        func fail(_ c: Check, _ m: String) -> ConformanceFailure { ConformanceFailure(suite: suite, check: c.rawValue, message: m) }
        func enrich(_ enricher: any EventEnricher, _ e: CrowdEvent, _ check: Check) async throws -> CrowdEvent {
            guard let out = try await ConformanceRunner.within(timeLimit, { await enricher.enrich(e) }) else {
                throw fail(check, "enrich took longer than \(timeLimit)")
            }
            return out
        }
        try await ConformanceRunner.run(suite, Check.self) { check in
            let enricher = try await makeEnricher()
            switch check {
            case .keepsCountsTimesAndIdentity:
                let e = conformanceEvent(ended: true)
                let out = try await enrich(enricher, e, check)
                let same =
                    out.id == e.id && out.camera == e.camera && out.zone == e.zone && out.startedAt == e.startedAt
                    && out.firedAt == e.firedAt && out.endedAt == e.endedAt && out.peak == e.peak && out.lastCount == e.lastCount
                    && out.policy == e.policy
                guard same else { throw fail(check, "enrich changed the event's identity, counts or times") }
            case .keepsWhatTheEventHas:
                var e = conformanceEvent()
                e.cameraName = "Given camera"
                e.zoneName = "Given zone"
                e.videoURL = "https://video.example.invalid/given"
                e.snapshotURL = "https://snapshot.example.invalid/given.jpg"
                let out = try await enrich(enricher, e, check)
                guard out.snapshotURL == e.snapshotURL, out.videoURL == e.videoURL, out.cameraName == e.cameraName, out.zoneName == e.zoneName else {
                    throw fail(check, "enrich replaced names or links the event already had (a snapshot must not be fetched again)")
                }
            case .idempotent:
                let once = try await enrich(enricher, conformanceEvent(), check)
                let twice = try await enrich(enricher, once, check)
                guard twice.snapshotURL == once.snapshotURL, twice.videoURL == once.videoURL, twice.cameraName == once.cameraName,
                    twice.zoneName == once.zoneName
                else { throw fail(check, "enriching an enriched event changed what it had") }
            case .concurrentAndBounded:
                let done = try await ConformanceRunner.within(timeLimit) {
                    await withTaskGroup(of: Bool.self) { group in
                        for i in 0..<16 {
                            group.addTask {
                                let e = conformanceEvent(camera: "Q2GV-CONF-00\(10 + i)")
                                return await enricher.enrich(e).id == e.id
                            }
                        }
                        var ok = true
                        for await r in group { ok = ok && r }
                        return ok
                    }
                }
                guard let done else { throw fail(check, "16 concurrent enrichments did not finish within \(timeLimit)") }
                guard done else { throw fail(check, "a concurrent enrichment returned another event") }
            case .noSecretInTheEvent:
                let out = try await enrich(enricher, conformanceEvent(), check)
                let texts = [out.cameraName, out.zoneName, out.videoURL, out.visionURL, out.snapshotURL].compactMap { $0 } + out.enrichmentNotes
                if let secret = secrets.first(where: { s in !s.isEmpty && texts.contains { $0.contains(s) } }) {
                    throw fail(check, "the enriched event carries a secret (\(secret.prefix(3))…)")
                }
            }
        }
    }
}

/// Checks a ``MessageSource``: it delivers the messages it was given, in order and byte for byte
/// (binary payloads too); its batches, when it has them, are the same messages; cancelling the
/// consumer ends the feed; ``MessageSource/status`` can be read while it runs.
///
/// `makeSource(messages)` returns a fresh source whose feed will hold exactly `messages` (a file
/// source: write them; a live source: publish them once the feed has started).
///
/// ```swift
/// try await MessageSourceConformance.run { messages in try MySource(feeding: messages) }
/// ```
public enum MessageSourceConformance {
    public enum Check: String, CaseIterable, Sendable {
        case deliversAllInOrder
        case payloadBytesIntact
        case batchesAreTheSameMessages
        case cancellingEndsTheFeed
    }

    /// The messages the suite feeds: zone counts of two cameras, a non-count topic, and
    /// payloads with a NUL byte, a control character, non-ASCII text and 10 KiB.
    public static let messages: [RawMessage] = {
        var out: [RawMessage] = []
        for i in 0..<40 {
            out.append(RawMessage(topic: "/merakimv/Q2GV-CONF-000\(i % 2)/0", payload: #"{"ts":\#(1_714_632_600_000 + Int64(i) * 500),"counts":{"person":\#(i % 7)}}"#))
        }
        out.append(RawMessage(topic: "/merakimv/Q2GV-CONF-0000/light", payload: #"{"lux":12}"#))
        out.append(RawMessage(topic: "/merakimv/Q2GV-CONF-0000/0", payload: [0x7B, 0x00, 0x01, 0xC3, 0xA9, 0x22, 0x5C, 0x7D]))
        out.append(RawMessage(topic: "/merakimv/Q2GV-CONF-0000/0", payload: Array(repeating: 0x20, count: 10_240)))
        return out
    }()

    public static func run<S: MessageSource>(
        timeLimit: Duration = .seconds(30), makeSource: @escaping @Sendable ([RawMessage]) async throws -> S
    ) async throws {
        let suite = "MessageSource"
        func fail(_ c: Check, _ m: String) -> ConformanceFailure { ConformanceFailure(suite: suite, check: c.rawValue, message: m) }
        let expected = messages
        /// The first `count` raw messages of the source's feed (through messages() or its batches).
        @Sendable func read(_ source: S, count: Int, batches: Bool) async throws -> [RawMessage]? {
            try await ConformanceRunner.within(timeLimit) {
                var out: [RawMessage] = []
                if batches {
                    guard var reader = try await source.batchReader() else { return [] }
                    var batch = RawMessageBatch()
                    while out.count < count, try await reader.next(into: &batch) {
                        for i in 0..<batch.count { out.append(batch.message(at: i)) }
                        batch.removeAll(keepingCapacity: true)
                    }
                } else {
                    for try await m in try await source.messages() {
                        if case .raw(let r) = m { out.append(r) }
                        _ = source.status  // readable while the feed runs
                        if out.count >= count { break }
                    }
                }
                return out
            }
        }
        func same(_ a: [RawMessage], _ b: [RawMessage]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { $0.topic == $1.topic && $0.payload == $1.payload }
        }
        try await ConformanceRunner.run(suite, Check.self) { check in
            switch check {
            case .deliversAllInOrder, .payloadBytesIntact:
                let source = try await makeSource(expected)
                guard let got = try await read(source, count: expected.count, batches: false) else {
                    throw fail(check, "the feed did not deliver \(expected.count) messages within \(timeLimit)")
                }
                if check == .deliversAllInOrder {
                    guard got.map(\.topic) == expected.map(\.topic) else {
                        throw fail(check, "topics differ from what was fed (order or count): got \(got.count) messages")
                    }
                } else {
                    guard same(got, expected) else { throw fail(check, "payload bytes differ from what was fed (NUL, control characters, non-ASCII and 10 KiB payloads included)") }
                }
            case .batchesAreTheSameMessages:
                let source = try await makeSource(expected)
                guard let got = try await read(source, count: expected.count, batches: true) else {
                    throw fail(check, "the batches did not deliver \(expected.count) messages within \(timeLimit)")
                }
                guard got.isEmpty || same(got, expected) else { throw fail(check, "batchReader() gives other messages than messages()") }
            case .cancellingEndsTheFeed:
                let source = try await makeSource(Array(expected.prefix(2)))
                let consumer = Task {
                    var n = 0
                    for try await _ in try await source.messages() { n += 1 }
                    return n
                }
                try? await Task.sleep(for: .milliseconds(200))
                consumer.cancel()
                let ended = try await ConformanceRunner.within(timeLimit) { _ = try? await consumer.value; return true }
                guard ended != nil else { throw fail(check, "the feed did not end within \(timeLimit) after its consumer was cancelled") }
            }
        }
    }
}
