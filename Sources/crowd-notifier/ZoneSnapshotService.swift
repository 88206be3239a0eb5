import CrowdKitCore
import Logging
import ServiceLifecycle

/// Several instances: publishes the live rows of the cameras this instance owns to the store
/// once a second and reads the other live instances' rows as often, so that the page and
/// `/api/zones` of any instance show every camera (``merged(own:)``). The others' rows are at
/// most about two intervals old; an instance that stopped publishing drops out after
/// `maxAge`.
final class ZoneSnapshotService: Service, Sendable {
    let store: any ZoneSnapshotStore
    let coordinator: ClusterCoordinator
    let zones: @Sendable () -> [ZoneSnapshot]
    let interval: Duration
    let maxAge: Duration
    let logger: Logger
    /// The other instances' rows, and a number that changes with every refresh.
    private let others = LockedBox<(version: Int, rows: [String: [ZoneSnapshot]])>((0, [:]))
    /// The last merge, reused while its inputs are the same (the page and `/api/zones` ask for
    /// it on every request; this instance's rows change every 100 ms, the others' every second).
    private let lastMerge = LockedBox<(own: [ZoneSnapshot], version: Int, result: [ZoneSnapshot])?>(nil)

    init(
        store: any ZoneSnapshotStore, coordinator: ClusterCoordinator, zones: @escaping @Sendable () -> [ZoneSnapshot],
        interval: Duration = .seconds(1), maxAge: Duration = .seconds(3), logger: Logger
    ) {
        self.store = store
        self.coordinator = coordinator
        self.zones = zones
        self.interval = interval
        self.maxAge = maxAge
        self.logger = logger
    }

    /// This instance's rows merged with the other live instances' last ones.
    func merged(own: [ZoneSnapshot]) -> [ZoneSnapshot] {
        let (version, rows) = others.withLock { ($0.version, $0.rows) }
        guard !rows.isEmpty else { return own }
        // the same rows as last time: the same array storage (kept alive by the cache, so its
        // address cannot be reused by another array meanwhile)
        let storage = { (a: [ZoneSnapshot]) in a.withUnsafeBufferPointer { $0.baseAddress } }
        if let last = lastMerge.withLock({ $0 }), last.version == version, last.own.count == own.count, storage(last.own) == storage(own) {
            return last.result
        }
        let result = ZoneSnapshot.merged(own: own, others: rows.values)
        lastMerge.withLock { $0 = (own, version, result) }
        return result
    }

    func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            var loggedFailureAt: ContinuousClock.Instant?
            while !Task.isCancelled {
                do {
                    try await refresh()
                    loggedFailureAt = nil
                } catch {
                    let now = ContinuousClock.now
                    if loggedFailureAt.map({ now - $0 >= .seconds(60) }) ?? true {
                        loggedFailureAt = now
                        logger.warning(
                            "cannot share the live zones through the store; the page shows this instance's cameras only meanwhile",
                            metadata: ["error": "\(error)"])
                    }
                    // the others' rows age out rather than stay frozen on the page
                    others.withLock { $0 = ($0.version + 1, [:]) }
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Publishes this instance's cameras and reads the others'.
    func refresh() async throws {
        var own = zones()
        if let ownership = coordinator.ownership?.ownership {
            own.removeAll { $0.camera != AreaDefinition.camera && !ownership.owns($0.camera) }
        }
        try await store.publishZoneSnapshots(instance: coordinator.name, own)
        let live = try await store.liveZoneSnapshots(maxAge: maxAge, except: coordinator.name)
        others.withLock { $0 = ($0.version + 1, live) }
    }
}
