import ArgumentParser
import CrowdKitCore
import CrowdKitMQTT
import Foundation
import Logging

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Publish a synthetic MV Sense feed to an MQTT broker (no camera needed).",
        discussion: """
            Cameras × zones publish zone counts on /merakimv/<serial>/<zone> at --rate readings per \
            second, alternating quiet periods and crowd episodes of configurable size and length. \
            The feed is deterministic for a given --seed and --start-time. Try it with a local \
            mosquitto and `crowd-notifier run` in another terminal.
            """
    )

    @OptionGroup var broker: BrokerOptions
    @OptionGroup var configFile: ConfigFileOption
    @OptionGroup var logging: LoggingOptions

    @Option(name: .long, help: "Number of simulated cameras (default 3).")
    var cameraCount: Int = 3

    @Option(name: .long, help: "Zones per camera; the first is zone 0, the full frame (default 2).")
    var zoneCount: Int = 2

    @Option(name: .long, help: "Readings per second per zone (default 2).")
    var rate: Double = 2

    @Option(name: .long, help: "People during a crowd episode, as MIN-MAX or N (default 3-9).")
    var crowdSize: String = "3-9"

    @Option(name: .long, help: "Length of a crowd episode in seconds, as MIN-MAX or N (default 20-90).")
    var crowdLength: String = "20-90"

    @Option(name: .long, help: "Length of a quiet period in seconds, as MIN-MAX or N (default 10-60).")
    var quietLength: String = "10-60"

    @Option(name: .long, help: "Speed: 1 is real time (default), 10 ten times faster, 0 as fast as possible.")
    var speed: Double = 1

    @Option(name: .long, help: "Stop after this many seconds of camera time (default: until interrupted).")
    var duration: Double?

    @Option(name: .long, help: "Camera time of the first reading, epoch ms (default: now).")
    var startTime: Int64?

    @Option(name: .long, help: "Seed of the pseudo-random episodes (default 42).")
    var seed: UInt64 = 42

    static func range(_ text: String, _ option: String) throws -> ClosedRange<Double> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...2).contains(parts.count), parts.allSatisfy({ $0 != nil && $0! >= 0 && $0!.isFinite }) else {
            throw ValidationError("\(option) must be N or MIN-MAX with numbers >= 0 (got \"\(text)\")")
        }
        let lo = parts[0]!
        let hi = parts.count == 2 ? parts[1]! : lo
        guard lo <= hi else { throw ValidationError("\(option): MIN must not exceed MAX (got \"\(text)\")") }
        return lo...hi
    }

    func validate() throws {
        guard (1...10_000).contains(cameraCount) else { throw ValidationError("--camera-count must be in 1...10000 (got \(cameraCount))") }
        guard (1...100).contains(zoneCount) else { throw ValidationError("--zone-count must be in 1...100 (got \(zoneCount))") }
        guard rate.isFinite, rate > 0, rate <= 1000 else { throw ValidationError("--rate must be in (0, 1000] (got \(rate))") }
        guard speed.isFinite, speed >= 0 else { throw ValidationError("--speed must be >= 0 (got \(speed))") }
        if let d = duration, !(d.isFinite && d > 0) { throw ValidationError("--duration must be a number of seconds > 0 (got \(d))") }
        let size = try Self.range(crowdSize, "--crowd-size")
        guard size.lowerBound >= 1 else { throw ValidationError("--crowd-size must be at least 1 person (got \"\(crowdSize)\")") }
        _ = try Self.range(crowdLength, "--crowd-length")
        _ = try Self.range(quietLength, "--quiet-length")
    }

    /// The simulated site: serials `Q2SM-0000-0001`…, zone `0` then long decimal ids.
    func feedConfiguration() throws -> SimulatedSource.Configuration {
        let cameras = (1...cameraCount).map { c in
            SimulatedSource.Camera(
                serial: String(format: "Q2SM-%04d-%04d", c / 10_000, c % 10_000), name: "Simulated camera \(c)",
                zones: (0..<zoneCount).map { z -> (id: String, label: String) in
                    if z == 0 { return (id: "0", label: "Full Frame") }
                    let id: Int = 584_342_051_651_321_000 + c * 100 + z
                    return (id: String(id), label: "Zone \(z)")
                })
        }
        func seconds(_ r: ClosedRange<Double>) -> ClosedRange<Duration> {
            .milliseconds(Int64(r.lowerBound * 1000))...(.milliseconds(Int64(r.upperBound * 1000)))
        }
        let size = try Self.range(crowdSize, "--crowd-size")
        return SimulatedSource.Configuration(
            cameras: cameras, interval: .milliseconds(max(1, Int64((1000 / rate).rounded()))),
            crowdSize: Int(size.lowerBound)...Int(size.upperBound),
            quietSize: 0...max(0, Int(size.lowerBound) - 1),
            crowdLength: seconds(try Self.range(crowdLength, "--crowd-length")),
            quietLength: seconds(try Self.range(quietLength, "--quiet-length")), startTime: startTime,
            speed: speed == 0 ? nil : speed, length: duration.map { .milliseconds(Int64($0 * 1000)) }, seed: seed)
    }

    func run() async throws {
        let logger = logging.makeLogger()
        let feed = try feedConfiguration()
        let settings = try await loadSettings(flags: broker.configFlags, configFile: configFile.config)
        let client: MQTTClient
        do {
            client = try MQTTClient(configuration: broker.clientConfiguration(settings.mqtt), logger: logger)
            try await client.connect()
        } catch let error as MQTTError {
            printError("crowd-notifier: \(error)")
            throw ExitCode(1)
        }
        let start = feed.startTime ?? Int64(Date().timeIntervalSince1970 * 1000)
        var generator = FeedGenerator(configuration: feed, startTime: start)
        logger.notice(
            "simulating \(cameraCount) cameras × \(zoneCount) zones at \(rate)/s per zone to \(client.status.description)")
        let began = ContinuousClock.now
        var published = 0
        var skipped = 0
        do {
            while let (message, offset) = generator.next() {
                try Task.checkCancellation()
                if let s = feed.speed {
                    let due = began + .milliseconds(Double(offset) / s)
                    if due > .now { try await Task.sleep(until: due, clock: .continuous) }
                }
                do {
                    try client.publish(topic: message.topic, payload: message.payload)
                    published += 1
                } catch {
                    // the broker went away: the client reconnects by itself; readings meanwhile are lost
                    let failure: MQTTError = error
                    guard failure.code == .notConnected else { throw failure }
                    skipped += 1
                }
            }
        } catch is CancellationError {}
        await client.shutdown()
        logger.notice("published \(published) messages (\(skipped) skipped while disconnected)")
    }
}
