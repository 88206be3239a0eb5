import CrowdKitCore

/// A ``MessageSource`` that plays a fixed list of messages, then ends (or stays open until the
/// task is cancelled, like a live feed, with `holdOpen`).
public struct ScriptedSource: MessageSource {
    public let script: [SourceMessage]
    public let holdOpen: Bool
    private let state = LockedBox(SourceStatus(state: .connecting, description: "scripted"))

    public init(_ script: [SourceMessage], holdOpen: Bool = false) {
        self.script = script
        self.holdOpen = holdOpen
    }

    /// Zone count messages on MV Sense topics for the given readings.
    public init(camera: String, zone: String, readings: [(ts: Int64, people: Int)], holdOpen: Bool = false) {
        self.init(
            readings.map {
                .raw(RawMessage(topic: "/merakimv/\(camera)/\(zone)", payload: #"{"ts":\#($0.ts),"counts":{"person":\#($0.people)}}"#))
            }, holdOpen: holdOpen)
    }

    public var status: SourceStatus { state.withLock { $0 } }

    public func messages() async throws -> AsyncStream<SourceMessage> {
        let (stream, continuation) = AsyncStream<SourceMessage>.makeStream()
        for m in script { continuation.yield(m) }
        state.withLock {
            $0.state = holdOpen ? .connected : .finished
            $0.received = script.count
        }
        // Held open, the stream ends when the consuming task is cancelled (AsyncStream returns nil).
        if !holdOpen { continuation.finish() }
        return stream
    }
}
