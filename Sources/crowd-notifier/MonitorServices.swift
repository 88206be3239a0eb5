import CrowdKitCore
import CrowdKitMQTT
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs a ``CrowdMonitor`` until graceful shutdown, then closes its MQTT source.
struct MonitorService<Policy: DetectionPolicy, Source: MessageSource>: Service {
    let monitor: CrowdMonitor<Policy, Source>
    let close: @Sendable () async -> Void

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await monitor.run() }
        } catch {
            await close()
            throw error
        }
        await close()
    }
}

/// Sends each event change of a monitor to a notifier. Drains the change stream until the monitor
/// stops (so the changes it made last are still sent), then returns once the group shuts down.
struct NotifierService: Service {
    let changes: AsyncStream<EventChange>
    let notifier: any Notifier
    let kinds: Set<NotificationKind>
    let logger: Logger

    func run() async throws {
        for await change in changes where kinds.contains(change.kind) {
            do {
                _ = try await notifier.send(CrowdNotification(kind: change.kind, event: change.event))
            } catch {
                logger.error("notification failed", metadata: ["crowd.event": "\(change.event.id)", "error": "\(error)"])
            }
        }
        // Returning before the group asks would count as an unexpected end.
        try? await gracefulShutdown()
    }
}

/// Prints a status line every `interval` until graceful shutdown: processed messages, source
/// counters and state. `crowd-notifier run --stats-interval` (used by the benchmark scripts).
struct StatusLineService: Service {
    let interval: Duration
    let processed: @Sendable () -> Int
    let events: @Sendable () -> Int
    let status: @Sendable () -> SourceStatus

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                emit()
            }
        }
        emit()
    }

    /// Unbuffered, so lines never interleave with other output on stdout.
    private func emit() {
        FileHandle.standardOutput.write(Data((line() + "\n").utf8))
    }

    func line() -> String {
        let s = status()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return
            "stats t=\(now) processed=\(processed()) events=\(events()) received=\(s.received) dropped=\(s.dropped) state=\(s.state.rawValue) reconnects=\(s.reconnects)"
    }
}

/// Counts the messages its consumer (the monitor) has taken from a source: the processed count
/// the benchmark compares with the broker's drain rate. One relaxed atomic add per message.
struct CountingSource<Base: MessageSource>: MessageSource where Base.Messages: Sendable {
    let base: Base
    let counter: Counter

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    init(_ base: Base) {
        self.base = base
        self.counter = Counter()
    }

    var count: Int { counter.value.load(ordering: .relaxed) }
    var status: SourceStatus { base.status }

    func messages() async throws -> Messages { Messages(base: try await base.messages(), counter: counter) }

    struct Messages: AsyncSequence, Sendable {
        typealias Element = SourceMessage
        let base: Base.Messages
        let counter: Counter

        func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), counter: counter) }

        struct Iterator: AsyncIteratorProtocol {
            var base: Base.Messages.AsyncIterator
            let counter: Counter

            mutating func next() async throws -> SourceMessage? {
                guard let m = try await base.next() else { return nil }
                counter.value.wrappingAdd(1, ordering: .relaxed)
                return m
            }
        }
    }
}
