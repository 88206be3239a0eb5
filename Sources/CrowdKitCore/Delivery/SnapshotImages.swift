import Foundation

/// Snapshot images already downloaded in this process, by URL: an enricher that downloads a
/// snapshot to see that it is ready puts the image here, and a notifier that uploads snapshots
/// takes it from here instead of downloading it a second time.
///
/// Give the same instance to both (e.g. `MerakiEnricher(..., images:)` and
/// `WebexNotifier(..., images:)`). Bounded: at most ``capacity`` images and ``maximumBytes`` in
/// all, each kept for ``lifetime`` (snapshot URLs expire anyway); the oldest go first. An image
/// is kept after it is taken, for the event's later notifications.
public final class SnapshotImages: Sendable {
    /// One downloaded image.
    public struct Image: Sendable, Hashable {
        public var data: Data
        /// The `Content-Type` it was served with, e.g. `image/jpeg`.
        public var contentType: String

        public init(data: Data, contentType: String) {
            self.data = data
            self.contentType = contentType
        }
    }

    public let capacity: Int
    public let maximumBytes: Int
    public let lifetime: Duration

    private struct Entry {
        var image: Image
        var storedAt: ContinuousClock.Instant
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var order: [String] = []
        var bytes = 0
    }

    private let state = LockedBox(State())

    public init(capacity: Int = 64, maximumBytes: Int = 32 << 20, lifetime: Duration = .seconds(600)) {
        self.capacity = max(1, capacity)
        self.maximumBytes = max(1, maximumBytes)
        self.lifetime = lifetime
    }

    /// Keeps `image` for `url` (an image larger than ``maximumBytes`` is not kept).
    public func put(_ image: Image, for url: String) {
        guard image.data.count <= maximumBytes else { return }
        let now = ContinuousClock.now
        state.withLock { s in
            if let old = s.entries.removeValue(forKey: url) {
                s.bytes -= old.image.data.count
                s.order.removeAll { $0 == url }
            }
            s.entries[url] = Entry(image: image, storedAt: now)
            s.order.append(url)
            s.bytes += image.data.count
            while s.order.count > capacity || s.bytes > maximumBytes, let oldest = s.order.first {
                s.order.removeFirst()
                if let gone = s.entries.removeValue(forKey: oldest) { s.bytes -= gone.image.data.count }
            }
        }
    }

    /// The image downloaded for `url`, if kept and not older than ``lifetime``.
    public func image(for url: String) -> Image? {
        let now = ContinuousClock.now
        return state.withLock { s in
            guard let entry = s.entries[url] else { return nil }
            guard now - entry.storedAt <= lifetime else {
                s.entries[url] = nil
                s.order.removeAll { $0 == url }
                s.bytes -= entry.image.data.count
                return nil
            }
            return entry.image
        }
    }

    /// Images kept now.
    public var count: Int { state.withLock { $0.entries.count } }
}
