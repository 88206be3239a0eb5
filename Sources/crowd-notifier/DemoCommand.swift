import ArgumentParser
import CrowdKitCore
import Foundation
import Logging

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole notifier on a simulated MV Sense feed (no camera, broker or credentials).",
        discussion: """
            Three simulated cameras publish zone counts twice a second with crowd episodes. Detection \
            runs with demo-friendly defaults (3 people for 10 s, 60 s cooldown) unless you pass \
            detection options. Each notification is printed as the message it would send.
            """
    )

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var logging: LoggingOptions

    @Option(name: .long, help: "Simulation speed: 1 is real time (default), 10 is ten times faster.")
    var speed: Double = 1

    @Option(name: .long, help: "Stop after this many seconds of simulated time (default: run until interrupted).")
    var duration: Double?

    @Option(name: .long, help: "Seed of the simulated episodes (default 42).")
    var seed: UInt64 = 42

    func validate() throws {
        guard speed.isFinite, speed > 0, speed <= 10_000 else { throw ValidationError("--speed must be a number in (0, 10000] (got \(speed))") }
        if let d = duration, !(d.isFinite && d > 0) { throw ValidationError("--duration must be a number of seconds > 0 (got \(d))") }
    }

    func run() async throws {
        let logger = logging.makeLogger()
        var options = detection
        if options.policy == nil && options.messageCountOptionsGiven.isEmpty {
            options.dwell = options.dwell ?? 10
            options.cooldown = options.cooldown ?? 60
            options.gap = options.gap ?? 3
        }
        let (policy, filter) = try await options.resolve()
        try await demo(policy, filter: filter, logger: logger)
    }

    private func demo<P: DetectionPolicy>(_ policy: P, filter: ZoneFilter, logger: Logger) async throws {
        let source = SimulatedSource(
            .init(speed: speed, length: duration.map { .milliseconds(Int64($0 * 1000)) }, seed: seed))
        let names = source.names
        let enricher = StaticNamesEnricher(cameraNames: names.cameras, zoneNames: names.zones) { camera, at in
            "https://example.invalid/video/\(camera)?t=\(at)"
        }
        let store = InMemoryEventStore(capacity: 10_000)
        let notifier = LogNotifier(logger: logger)
        let monitor = CrowdMonitor(
            source: source, policy: policy, filter: filter, store: store,
            notifiers: NotificationPlan(notifiers: [notifier.name], kinds: [.fired, .ended]), logger: logger)
        logger.notice("demo: simulated feed of \(names.cameras.count) cameras, \(names.zones.count) zones; notifications go to the log")
        let changes = monitor.changes()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await monitor.run() }
            group.addTask {
                for await change in changes where change.kind != .reminder {
                    let event = await enricher.enrich(change.event)
                    _ = try? await notifier.send(CrowdNotification(kind: change.kind, event: event))
                }
            }
            // the change stream finishes when the monitor stops, so the notifier drains it first
            try await group.waitForAll()
        }
        let stats = monitor.statistics
        logger.notice("demo finished: \(stats.messages) messages, \(stats.fired) crowd events")
    }
}
