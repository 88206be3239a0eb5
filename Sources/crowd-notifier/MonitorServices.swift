import CrowdKitCore
import CrowdKitMQTT
import CrowdKitWeb
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
    /// With several instances: members, owned cameras and observations, appended to the line.
    var cluster: (@Sendable () -> String)? = nil

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
            + (cluster.map { " " + $0() } ?? "")
    }
}

/// Ends the process if a graceful shutdown takes longer than `limit` plus a second (a service
/// stuck in a call that ignores cancellation, such as a hung disk): logs what happened and exits
/// with status 70, instead of hanging or crashing.
struct ShutdownWatchdog: Service {
    let limit: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is ending anyway
        }
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18 + 1
        let logger = self.logger
        let thread = Thread {
            Thread.sleep(forTimeInterval: seconds)
            logger.critical("shutdown took longer than \(Int(seconds)) s; exiting without waiting any longer")
            exit(70)
        }
        thread.start()
    }
}

/// Keeps the run-time settings in effect current: takes what other instances (or another
/// process on the same file) changed, every couple of seconds. With `seed` (a store that is
/// usable only once its loop runs, PostgreSQL), first loads them, seeding them at the very first
/// start, retrying until the store answers.
struct SettingsService: Service {
    let control: SettingsControl
    let seed: RuntimeSettings?
    let logger: Logger

    func run() async throws {
        // a shutdown cancels the loop: that ends the service, it is not an error
        await cancelWhenGracefulShutdown {
            if let seed {
                var delay = Duration.milliseconds(500)
                while !Task.isCancelled {
                    do {
                        try await control.start(seed: seed)
                        break
                    } catch {
                        logger.warning("cannot read the run-time settings yet; detection runs on the configuration", metadata: ["error": "\(error)"])
                        do { try await Task.sleep(for: delay) } catch { return }
                        delay = min(delay * 2, .seconds(30))
                    }
                }
            }
            await control.run()
        }
    }
}

/// Removes occupancy history older than `history.retentionDays`, at start and every hour.
struct HistoryRetentionService: Service {
    let store: any OccupancyHistoryStore
    let days: Int
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await store.pruneOccupancy(before: Int64(Date().timeIntervalSince1970 * 1000) - Int64(days) * 86_400_000)
                    if removed > 0 { logger.info("occupancy history pruned", metadata: ["history.minutes": "\(removed)"]) }
                } catch {
                    logger.warning("cannot prune occupancy history; trying again in an hour", metadata: ["error": "\(error)"])
                }
                // a shutdown cancels the wait: that ends the loop, it is not an error
                do { try await Task.sleep(for: .seconds(3600)) } catch { return }
            }
        }
    }
}

/// Keeps this instance in the cluster (``ClusterCoordinator``) until graceful shutdown; it then
/// leaves, so that the others take its cameras at once. Placed before the monitor in the group,
/// so it stops after the monitor saved its zone states.
struct ClusterService: Service {
    let coordinator: ClusterCoordinator

    func run() async throws {
        await cancelWhenGracefulShutdown { await coordinator.run() }
    }
}
