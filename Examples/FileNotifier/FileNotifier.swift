import CrowdKitCore
import Foundation

/// An example ``Notifier``: appends each notification as one JSON line to a file (for audit
/// trails, or for another program to tail). The guide `Documentation/WritingANotifier.md` walks
/// through it.
///
/// The contract it keeps (see ``Notifier``):
/// - a stable ``name`` (delivery records are keyed by it);
/// - one line per call, or a thrown error: `.permanent` when the file can never be written
///   (a directory, no permission), `.transient` otherwise;
/// - the delivery id in every line, so a reader can drop the rare duplicate of an interrupted send
///   (delivery is at least once);
/// - no secrets: events carry none.
public actor FileNotifier: Notifier {
    public nonisolated let name: String
    public let path: String
    private let encoder: JSONEncoder

    public init(name: String = "file", path: String) {
        self.name = name
        self.path = path
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    /// What one line holds.
    public struct Line: Codable, Hashable, Sendable {
        public var deliveryID: String
        public var kind: NotificationKind
        public var text: String
        public var event: CrowdEvent
    }

    public func send(_ notification: CrowdNotification) async throws -> NotificationReceipt {
        let line = Line(
            deliveryID: notification.deliveryID, kind: notification.kind,
            text: CrowdMessageFormatter.plainText(notification), event: notification.event)
        var data = try encoder.encode(line)
        data.append(0x0A)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw NotificationError(.permanent, "file notifier: \(path) is a directory")
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw NotificationError(.permanent, "file notifier: cannot create \(path)")
            }
        }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
        } catch {
            throw NotificationError(.transient, "file notifier: cannot write \(path): \(error.localizedDescription)")
        }
        return NotificationReceipt(remoteID: notification.deliveryID)
    }
}
