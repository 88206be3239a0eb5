import ArgumentParser
import CrowdKitCore
import CrowdKitMQTT
import Foundation
import Logging
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Watch a live MV Sense feed from an MQTT broker and notify about crowds.",
        discussion: """
            Connects to the broker, subscribes to the MV Sense topics and runs detection until \
            SIGINT or SIGTERM, then shuts down gracefully. Notifications go to Webex and/or a \
            webhook when configured (--webex-token with one destination, --webhook-url), enriched \
            with Meraki video links, snapshots and names when --meraki-api-key is set; otherwise \
            to the log (one line per crowd naming the camera serial, the zone id and the peak \
            count). Failed notifications are retried; at shutdown, pending ones get a few seconds.

            A broker that is not there yet (boot orders where it starts second), refuses the \
            connection or fails TLS is tried again with back-off, one log line per attempt, while \
            the page answers and /readyz says not ready until the subscription is in place. With \
            --exit-on-connect-failure the first failure instead prints one line naming the broker \
            and the reason and exits with status 1. A broker that goes away later is reconnected \
            to forever (with back-off); the log shows it.
            """
    )

    @OptionGroup var broker: BrokerOptions
    @OptionGroup var topic: TopicOptions
    @OptionGroup var detection: DetectionOptions
    @OptionGroup var notify: NotifierOptions
    @OptionGroup var storeWeb: WebOptions
    @OptionGroup var logging: LoggingOptions

    @Flag(name: .long, help: "Exit with status 1 when the first connection to the broker fails, instead of trying again.")
    var exitOnConnectFailure = false

    @Option(name: .long, help: "Print a status line (processed messages, source counters) every N seconds; 0: off.")
    var statsInterval: Double = 0

    @Option(name: .long, help: "At shutdown, print this run's events to stdout as JSON Lines, like `replay --format jsonl`.")
    var printEvents: EventsFormat?

    @Option(
        name: .long,
        help: "Messages held while detection catches up. When it is full, reading pauses for up to 5 s (the backlog waits in the broker); what still does not fit is counted as dropped.")
    var bufferSize: Int = 100_000

    @Option(
        name: .long,
        help: "Run at this lower CPU priority (nice 1-19; 0: unchanged), so that a broker on the same machine is never short of CPU, even during a burst of alerts.")
    var nice: Int32 = 0

    enum EventsFormat: String, ExpressibleByArgument { case jsonl }

    func validate() throws {
        guard statsInterval.isFinite, statsInterval >= 0 else { throw ValidationError("--stats-interval must be >= 0 (got \(statsInterval))") }
        guard bufferSize >= 1 else { throw ValidationError("--buffer-size must be >= 1 (got \(bufferSize))") }
        guard (0...19).contains(nice) else { throw ValidationError("--nice must be 0 to 19 (got \(nice))") }
    }

    func run() async throws {
        MallocArenas.limitForLongRuns()
        let flags = detection.configFlags.merging(broker.configFlags) { a, _ in a }.merging(topic.configFlags) { a, _ in a }
            .merging(notify.configFlags) { a, _ in a }.merging(storeWeb.configFlags) { a, _ in a }
        let settings = try await loadSettings(flags: flags, configFile: detection.config)
        let logger = logging.makeLogger(level: settings.logLevel)
        if nice > 0 {
            do {
                let outcome = try ProcessPriority.lower(to: nice)
                if outcome.autogroups && !outcome.sessionGroup {
                    logger.warning(
                        "--nice \(nice) counts only within this terminal session: start crowd-notifier in a session of its own (setsid, or as a service) to give a broker on this machine the CPU first")
                } else {
                    logger.info("running at nice \(nice)", metadata: ["threads": "\(outcome.threads)", "session.group": "\(outcome.sessionGroup)"])
                }
            } catch {
                logger.warning("cannot lower the CPU priority; running as is", metadata: ["error": "\(error)"])
            }
        }
        // concrete policy types, so the monitor's engine is specialised (no generic dispatch per message)
        switch settings.detection.policy {
        case let p as DwellPolicy: try await watch(p, settings, logger: logger)
        case let p as MessageCountPolicy: try await watch(p, settings, logger: logger)
        case let p: try await watch(AnyDetectionPolicy(p), settings, logger: logger)
        }
    }

    private func watch<P: DetectionPolicy>(_ policy: P, _ settings: AppSettings, logger: Logger) async throws {
        var mqtt = broker.clientConfiguration(settings.mqtt)
        mqtt.bufferCapacity = bufferSize
        mqtt.retryFirstConnection = !exitOnConnectFailure
        let topics = settings.mqtt.topics
        let source: MQTTMessageSource
        do {
            source = try MQTTMessageSource(configuration: .init(mqtt: mqtt, topics: topics), logger: logger)
            // failing fast: before any service starts; otherwise the monitor connects, retrying
            if exitOnConnectFailure { try await source.connect() }
        } catch let error as MQTTError {
            printError("crowd-notifier: \(error)")
            throw ExitCode(1)
        }
        let setup: NotifierSetup
        do {
            setup = try settings.notifierSetup(
                merakiRequestsPerSecond: notify.merakiRate, snapshot: notify.snapshotMode ?? .ready, logger: logger)
        } catch {
            printError("error: \(error)")
            throw ExitCode(78)
        }
        if mqtt.bufferedReads {
            if source.client.bufferedReads {
                logger.info("mqtt buffered reads on (libmosquitto's read import redirected; see Operations)")
            } else {
                logger.warning(
                    "mqtt.bufferedReads is set but not in effect here (TLS, another platform, or a libmosquitto that reads its socket in other ways): reads stay unbuffered")
            }
        }
        logger.notice(
            "watching \(source.status.description) topics \(topics.joined(separator: " ")) with policy \(policy.name)")
        var app = NotifierApp(
            policy: policy, source: source, settings: settings, setup: setup, logger: logger,
            close: { await source.shutdown() },
            statusInterval: statsInterval > 0 ? .milliseconds(Int64(statsInterval * 1000)) : nil)
        // per-camera subscriptions replace the default `/merakimv/#` only (other filters are
        // the operator's choice, kept as they are)
        if topics == ["/merakimv/#"] { app.followTopics = { try await source.follow(topics: $0) } }
        let stats = try await app.run()
        if printEvents == .jsonl {
            var events = try await WebWiring.openStore(settings, logger: logger).whileOpen { store in
                var events: [CrowdEvent] = []
                var query = EventQuery(limit: 1000)
                while true {
                    let page = try await store.events(query)
                    events += page.records.map(\.event)
                    guard let next = page.nextCursor else { break }
                    query.cursor = next
                }
                return events
            }
            events.sort { ($0.firedAt, $0.camera, $0.zone) < ($1.firedAt, $1.camera, $1.zone) }
            writeStandardOutput(ReplayFormat.jsonLines(events))
        }
        // with several instances: how much of the feed was this instance's
        let shared = settings.cluster == nil ? "" : "; \(stats.observations) observations of this instance's cameras, \(stats.notOwned) of other instances' cameras skipped"
        logger.notice(
            "stopped: \(stats.messages) messages processed, \(stats.fired) crowd events; source \(source.status.received) received, \(source.status.dropped) dropped, \(source.status.reconnects) reconnects\(shared)")
    }
}
