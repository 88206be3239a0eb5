import CrowdKitCore
import Foundation

/// What the live panel and `/api/zones` show: every zone's state and the feed's health.
public struct LiveStatus: Sendable {
    /// Every zone seen so far (``CrowdMonitor/zones``).
    public var zones: [ZoneSnapshot]
    /// The message source's health (``MessageSource/status``).
    public var feed: SourceStatus
    /// Messages per second over the last interval, when measured (see ``MessageRateMeter``).
    public var messagesPerSecond: Double?
    /// Camera display names by serial, when known (from an enricher's cache).
    public var cameraNames: [String: String]
    /// Zone labels, when known.
    public var zoneNames: [ZoneKey: String]
    /// Whether the monitor's writes reach the store (``CrowdMonitor/storeHealth``); `/readyz` is
    /// false while they fail.
    public var storeWrites: StoreWriteHealth
    /// Areas counted from line crossings (``CrowdMonitor/areaStates``).
    public var areas: [AreaSnapshot]
    /// Lines with their crossings today (``CrowdMonitor/lines``).
    public var lines: [LineSnapshot]
    /// With several instances sharing the cameras: the live members and this instance's share
    /// (``ClusterCoordinator/status``); `/readyz` reports it.
    public var cluster: ClusterStatus?
    /// Whether the store has connected (a PostgreSQL store connects on its own after start):
    /// while `false`, `/readyz` says the store is unavailable at once, without waiting for it.
    public var storeConnected: Bool
    /// Whether detection has started (``CrowdMonitor/hasStarted``: saved zone states restored):
    /// while `false`, `/readyz` is false with `"detection":"starting"`.
    public var detectionStarted: Bool

    public init(
        zones: [ZoneSnapshot] = [], feed: SourceStatus = SourceStatus(), messagesPerSecond: Double? = nil,
        cameraNames: [String: String] = [:], zoneNames: [ZoneKey: String] = [:], storeWrites: StoreWriteHealth = .init(),
        areas: [AreaSnapshot] = [], lines: [LineSnapshot] = [], cluster: ClusterStatus? = nil, storeConnected: Bool = true,
        detectionStarted: Bool = true
    ) {
        self.storeConnected = storeConnected
        self.detectionStarted = detectionStarted
        self.cluster = cluster
        self.storeWrites = storeWrites
        self.areas = areas
        self.lines = lines
        self.zones = zones
        self.feed = feed
        self.messagesPerSecond = messagesPerSecond
        self.cameraNames = cameraNames
        self.zoneNames = zoneNames
    }
}

extension LiveStatus {
    /// The zones by camera and zone (``ZoneKey`` order). The monitor's rows and the cluster's
    /// merged rows come in that order already: then they are returned as they are, after one
    /// pass, instead of being sorted again on every page view.
    var zonesInOrder: [ZoneSnapshot] {
        for i in zones.indices.dropFirst() where ZoneSnapshot.inZoneOrder(zones[i], zones[i - 1]) {
            return zones.sorted(by: ZoneSnapshot.inZoneOrder)
        }
        return zones
    }
}

/// Turns a growing message counter into messages per second, averaged over at least `window`.
///
/// Call ``rate(received:at:)`` whenever the status is read; it is safe from any task.
public final class MessageRateMeter: Sendable {
    private struct Sample {
        var received: Int
        var at: Date
        var rate: Double?
    }

    private let window: TimeInterval
    private let state = LockedBox<Sample?>(nil)

    public init(window: Duration = .seconds(2)) {
        let (s, a) = window.components
        self.window = TimeInterval(s) + TimeInterval(a) / 1e18
    }

    /// The latest rate for the counter value `received` at `at`; `nil` until two samples are
    /// `window` apart.
    public func rate(received: Int, at: Date = Date()) -> Double? {
        state.withLock { sample in
            guard let last = sample else {
                sample = Sample(received: received, at: at, rate: nil)
                return nil
            }
            let elapsed = at.timeIntervalSince(last.at)
            guard elapsed >= window else { return last.rate }
            let rate = max(0, Double(received - last.received)) / elapsed
            sample = Sample(received: received, at: at, rate: rate)
            return rate
        }
    }
}
