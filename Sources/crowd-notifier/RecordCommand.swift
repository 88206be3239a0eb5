import ArgumentParser
import CrowdKitCore
import CrowdKitMQTT
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record the live MV Sense feed to a capture file that `replay` reads back.",
        discussion: """
            Writes one JSON line per message (SEMANTICS.md §5): {"receivedAt":…,"topic":…,"payload":…}. \
            Runs until SIGINT or SIGTERM (or --count / --duration), then flushes and closes the file.
            """
    )

    @Option(name: .long, help: "The capture file to write (truncated unless --append).")
    var out: String

    @Flag(name: .long, help: "Append to the file instead of replacing it.")
    var append = false

    @Option(name: .long, help: "Stop after this many messages.")
    var count: Int?

    @Option(name: .long, help: "Stop after this many seconds.")
    var duration: Double?

    @OptionGroup var broker: BrokerOptions
    @OptionGroup var topic: TopicOptions
    @OptionGroup var configFile: ConfigFileOption
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be >= 1 (got \(count))") }
        if let d = duration, !(d.isFinite && d > 0) { throw ValidationError("--duration must be a number of seconds > 0 (got \(d))") }
    }

    func run() async throws {
        let logger = logging.makeLogger()
        do {
            // open (and truncate, unless --append) now, so a bad path fails before connecting
            try CaptureWriter(path: out, append: append).close()
        } catch {
            printError("crowd-notifier: cannot write \(out): \(error)")
            throw ExitCode(73)
        }
        let settings = try await loadSettings(
            flags: broker.configFlags.merging(topic.configFlags) { a, _ in a }, configFile: configFile.config)
        let topics = settings.mqtt.topics
        let source: MQTTMessageSource
        do {
            source = try MQTTMessageSource(
                configuration: .init(mqtt: broker.clientConfiguration(settings.mqtt), topics: topics), logger: logger)
            try await source.connect()
        } catch let error as MQTTError {
            printError("crowd-notifier: \(error)")
            throw ExitCode(1)
        }
        let recorder = RecorderService(source: source, path: out, limit: count)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: recorder, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "recorder")], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.notice("recording \(source.status.description) topics \(topics.joined(separator: " ")) to \(out)")
        let timer = duration.map { seconds in
            Task {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                await group.triggerGracefulShutdown()
            }
        }
        defer { timer?.cancel() }
        try await group.run()
        logger.notice("recorded \(recorder.recorded.value.load(ordering: .relaxed)) messages to \(out)")
    }
}

/// Writes the feed to the capture file until graceful shutdown or `limit` messages.
struct RecorderService: Service {
    final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    let source: MQTTMessageSource
    let path: String
    let limit: Int?
    let recorded = Count()

    func run() async throws {
        try await cancelWhenGracefulShutdown { [source, path, limit, recorded] in
            // The writer is owned by this task alone.
            let writer = try CaptureWriter(path: path, append: true)
            var lastFlush = ContinuousClock.now
            for await message in try await source.messages() {
                guard case .raw(let raw) = message else { continue }
                try writer.write(raw)
                recorded.value.store(writer.count, ordering: .relaxed)
                if let limit, writer.count >= limit { break }
                // keep the file current (tail -f, crashes) without a syscall per message
                if ContinuousClock.now - lastFlush >= .milliseconds(500) {
                    try writer.flush()
                    lastFlush = .now
                }
            }
            try writer.close()
        }
        await source.shutdown()
    }
}
