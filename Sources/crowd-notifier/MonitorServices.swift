import CrowdKitCore
import CrowdKitMQTT
import Foundation
import Logging
import ServiceLifecycle

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

    /// Unbuffered, so lines never interleave with other output on stdout; a failing output (a
    /// full disk under a redirect) is ignored.
    private func emit() {
        writeStandardOutput(line() + "\n")
    }

    func line() -> String {
        let s = status()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return
            "stats t=\(now) processed=\(processed()) events=\(events()) received=\(s.received) dropped=\(s.dropped) state=\(s.state.rawValue) reconnects=\(s.reconnects)"
    }
}
