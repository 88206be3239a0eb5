import CrowdKitCore
import Foundation
import Logging

/// Captures every log line (message, metadata, source, level) at trace level, so tests can check
/// that no secret ever reaches a log.
public final class LogCapture: Sendable {
    public struct Entry: Sendable, CustomStringConvertible {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
        public var description: String {
            let meta = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return "\(level) \(message) \(meta)"
        }
    }

    private let box = LockedBox<[Entry]>([])

    public init() {}

    /// A logger whose every line (trace and above) is captured here.
    public func logger(label: String = "test") -> Logger {
        let box = self.box
        var logger = Logger(label: label) { _ in CapturingLogHandler(box: box) }
        logger.logLevel = .trace
        return logger
    }

    public var entries: [Entry] { box.withLock { $0 } }

    /// All captured text (messages and metadata) in one string.
    public var allText: String { entries.map(\.description).joined(separator: "\n") }
}

struct CapturingLogHandler: LogHandler {
    let box: LockedBox<[LogCapture.Entry]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var flat: [String: String] = [:]
        for (k, v) in merged { flat[k] = "\(v)" }
        if let error = event.error { flat["error"] = "\(error)" }
        box.withLock {
            $0.append(LogCapture.Entry(level: event.level, message: "\(event.message)", metadata: flat))
        }
    }
}
