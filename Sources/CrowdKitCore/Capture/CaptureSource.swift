/// A ``MessageSource`` that plays a capture file (SEMANTICS.md §5), as fast as the consumer takes
/// it or paced by the capture's camera timestamps.
///
/// Malformed lines are skipped and counted in ``status``; an unreadable file makes
/// ``messages()`` throw ``CaptureError``.
public struct CaptureSource: MessageSource {
    public let path: String
    /// `nil`: as fast as possible. Otherwise replay speed relative to the capture's own timing
    /// (1 = real time), derived from `receivedAt` when present, else from nothing (no pacing).
    public var speed: Double?
    private let counters = LockedBox(SourceStatus())

    public init(path: String, speed: Double? = nil) {
        self.path = path
        self.speed = speed
        counters.withLock {
            $0.description = "capture \(path)"
            $0.state = .connecting
        }
    }

    public var status: SourceStatus { counters.withLock { $0 } }

    public func messages() async throws -> Messages {
        let file = try LineFile(path: path, maxLineBytes: 1 << 20)
        counters.withLock { $0.state = .connected }
        return Messages(iterator: Messages.AsyncIterator(file: file, speed: speed, status: counters))
    }

    /// The messages of the capture, in file order.
    public struct Messages: AsyncSequence {
        public typealias Element = SourceMessage
        let iterator: AsyncIterator
        public func makeAsyncIterator() -> AsyncIterator { iterator }

        public struct AsyncIterator: AsyncIteratorProtocol {
            let file: LineFile
            let speed: Double?
            let status: LockedBox<SourceStatus>
            var parser = CaptureParser()
            var firstReceived: Int64?
            var started = ContinuousClock.now

            init(file: LineFile, speed: Double?, status: LockedBox<SourceStatus>) {
                self.file = file
                self.speed = speed
                self.status = status
            }

            public mutating func next() async throws -> SourceMessage? {
                while true {
                    try Task.checkCancellation()
                    var parser = self.parser
                    let line: CaptureParser.Line<RawMessage>?? = try file.next { _, bytes in
                        guard let bytes else { return nil }
                        return parser.parse(line: bytes) { t, p, r in
                            RawMessage(
                                topic: String(decoding: t, as: UTF8.self), payload: Array(p), receivedAt: r)
                        }
                    }
                    self.parser = parser
                    guard let parsed = line else {
                        status.withLock { $0.state = .finished }
                        return nil
                    }
                    switch parsed {
                    case .none, .some(.malformed):
                        status.withLock { $0.dropped += 1 }
                        continue
                    case .some(.skipped):
                        continue
                    case .some(.message(let m)):
                        if let speed, speed > 0, let r = m.receivedAt {
                            if let first = firstReceived {
                                let due = started + .milliseconds(Double(r - first) / speed)
                                if due > .now { try await Task.sleep(until: due, clock: .continuous) }
                            } else {
                                firstReceived = r
                                started = .now
                            }
                        }
                        status.withLock {
                            $0.received += 1
                            $0.lastMessageAt = .now
                        }
                        return .raw(m)
                    }
                }
            }
        }
    }
}
