import CrowdKitCore
import CrowdKitMeraki
import Logging
import ServiceLifecycle

/// Several instances with a known camera list (`cameras`, or the Meraki network's cameras): this
/// instance subscribes only to the topics of the cameras it owns (`/merakimv/<serial>/#`) and
/// follows the ownership as members come and go, and the list as it changes. Until the first
/// heartbeat and the first list it keeps the configured subscription (the monitor then processes
/// every camera, as it does while alone).
struct CameraSubscriptionService: Service {
    let coordinator: ClusterCoordinator
    /// The camera list: the configured one, or the Meraki network's (`nil` while unknown: the
    /// last list stays in force).
    let cameras: @Sendable () async -> [String]?
    /// How often ``cameras`` is asked again (never, for a configured list).
    var listRefresh: Duration? = nil
    /// Replaces the feed's subscriptions (``MQTTMessageSource/follow(topics:)``).
    let follow: @Sendable ([String]) async throws -> Void
    let logger: Logger

    /// The topic filters of the cameras of `cameras` that `ownership` gives this instance.
    static func topics(of cameras: [String], ownership: CameraOwnership) -> [String] {
        cameras.filter { ownership.owns($0) }.sorted().map { "/merakimv/\($0)/#" }
    }

    /// The cameras (MV models, or devices without a model) of a Meraki network, `nil` when
    /// the call fails (logged once per failure spell).
    static func merakiCameras(_ client: MerakiClient, network: String, logger: Logger) -> @Sendable () async -> [String]? {
        let failing = LockedBox(false)
        return {
            do {
                let devices = try await client.networkDevices(networkID: network)
                if failing.withLock({ f in defer { f = false }; return f }) {
                    logger.notice("mqtt: the Meraki network's camera list is readable again")
                }
                return devices.filter { $0.model.map { $0.uppercased().hasPrefix("MV") } ?? true }.map(\.serial)
            } catch {
                if !failing.withLock({ f in defer { f = true }; return f }) {
                    logger.warning(
                        "mqtt: cannot read the Meraki network's camera list; keeping the current subscriptions",
                        metadata: ["error": "\(error)"])
                }
                return nil
            }
        }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var version = -1
            var loggedFailureAt: ContinuousClock.Instant?
            var list: [String]?
            var listAt: ContinuousClock.Instant?
            var listChanged = false
            while !Task.isCancelled {
                // asked at start, then every `listRefresh`; while unknown, every 10 s
                let now = ContinuousClock.now
                let wait = list == nil ? Duration.seconds(10) : listRefresh
                if listAt.map({ at in wait.map { now - at >= $0 } ?? false }) ?? true {
                    listAt = now
                    if let fresh = await cameras().map({ Array(Set($0)).sorted() }), fresh != list {
                        list = fresh
                        listChanged = true
                    }
                }
                if let cameras = list, let current = coordinator.ownership, current.version != version || listChanged {
                    let topics = Self.topics(of: cameras, ownership: current.ownership)
                    do {
                        try await follow(topics)
                        version = current.version
                        listChanged = false
                        logger.notice(
                            "mqtt: subscribed to the \(topics.count) of \(cameras.count) cameras this instance owns",
                            metadata: ["cluster.name": "\(coordinator.name)", "mqtt.subscriptions": "\(topics.count)"])
                    } catch {
                        // tried again at the next turn; logged once a minute
                        let now = ContinuousClock.now
                        if loggedFailureAt.map({ now - $0 >= .seconds(60) }) ?? true {
                            loggedFailureAt = now
                            logger.error(
                                "mqtt: cannot change the subscriptions to this instance's cameras; trying again",
                                metadata: ["error": "\(error)"])
                        }
                    }
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
