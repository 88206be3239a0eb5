import Foundation

/// A deterministic synthetic MV Sense feed: cameras × zones publishing zone counts at a fixed
/// cadence, with quiet periods and crowd episodes of configurable size and length. It produces the
/// same raw topics and payloads as a camera (so the whole decoding path runs), paced in real time
/// or as fast as the consumer takes them. Used by `crowd-notifier demo` and `simulate`.
public struct SimulatedSource: MessageSource {
    /// One simulated camera.
    public struct Camera: Hashable, Sendable {
        public var serial: String
        public var name: String
        /// Zone ids and labels.
        public var zones: [(id: String, label: String)]

        public init(serial: String, name: String, zones: [(id: String, label: String)]) {
            self.serial = serial
            self.name = name
            self.zones = zones
        }

        public static func == (a: Camera, b: Camera) -> Bool {
            a.serial == b.serial && a.name == b.name && a.zones.map(\.id) == b.zones.map(\.id)
                && a.zones.map(\.label) == b.zones.map(\.label)
        }

        public func hash(into h: inout Hasher) {
            h.combine(serial)
            h.combine(zones.map(\.id))
        }
    }

    /// The feed's shape.
    public struct Configuration: Hashable, Sendable {
        public var cameras: [Camera]
        /// Time between two readings of one zone.
        public var interval: Duration
        /// People during a crowd episode (inclusive range).
        public var crowdSize: ClosedRange<Int>
        /// People while quiet (inclusive range).
        public var quietSize: ClosedRange<Int>
        /// Length of a crowd episode.
        public var crowdLength: ClosedRange<Duration>
        /// Length of a quiet period.
        public var quietLength: ClosedRange<Duration>
        /// Camera time of the first reading (epoch ms); `nil`: the host time when the feed starts.
        public var startTime: Int64?
        /// `1`: real time; `nil`: as fast as possible; `10`: ten times real time.
        public var speed: Double?
        /// Stop after this much camera time; `nil`: never.
        public var length: Duration?
        /// Seed of the pseudo-random episodes.
        public var seed: UInt64

        public init(
            cameras: [Camera] = SimulatedSource.demoCameras, interval: Duration = .milliseconds(500),
            crowdSize: ClosedRange<Int> = 3...9, quietSize: ClosedRange<Int> = 0...2,
            crowdLength: ClosedRange<Duration> = .seconds(20)...(.seconds(90)),
            quietLength: ClosedRange<Duration> = .seconds(10)...(.seconds(60)), startTime: Int64? = nil,
            speed: Double? = 1, length: Duration? = nil, seed: UInt64 = 42
        ) {
            self.cameras = cameras
            self.interval = interval
            self.crowdSize = crowdSize
            self.quietSize = quietSize
            self.crowdLength = crowdLength
            self.quietLength = quietLength
            self.startTime = startTime
            self.speed = speed
            self.length = length
            self.seed = seed
        }
    }

    /// A small site: three cameras with named zones.
    public static let demoCameras: [Camera] = [
        Camera(serial: "Q2MV-DEMO-0001", name: "Front Desk", zones: [("0", "Full Frame"), ("584342051651321001", "Lobby")]),
        Camera(serial: "Q2MV-DEMO-0002", name: "Cafeteria", zones: [("0", "Full Frame"), ("584342051651321002", "Queue"), ("584342051651321003", "Tables")]),
        Camera(serial: "Q2MV-DEMO-0003", name: "Loading Dock", zones: [("584342051651321004", "Dock Door")]),
    ]

    public let configuration: Configuration
    private let counters = LockedBox(SourceStatus(state: .connecting, description: "simulated feed"))

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public var status: SourceStatus { counters.withLock { $0 } }

    /// Camera and zone names of the simulated site, as an enricher would find them.
    public var names: (cameras: [String: String], zones: [ZoneKey: String]) {
        var cams: [String: String] = [:]
        var zones: [ZoneKey: String] = [:]
        for c in configuration.cameras {
            cams[c.serial] = c.name
            for z in c.zones { zones[ZoneKey(camera: c.serial, zone: z.id)] = z.label }
        }
        return (cams, zones)
    }

    public func messages() async throws -> Messages {
        counters.withLock { $0.state = .connected }
        return Messages(configuration: configuration, status: counters)
    }

    public struct Messages: AsyncSequence {
        public typealias Element = SourceMessage
        let configuration: Configuration
        let status: LockedBox<SourceStatus>

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(configuration: configuration, status: status)
        }

        public struct AsyncIterator: AsyncIteratorProtocol {
            let configuration: Configuration
            let status: LockedBox<SourceStatus>
            var generator: FeedGenerator?
            var started = ContinuousClock.now

            public mutating func next() async throws -> SourceMessage? {
                if generator == nil {
                    let start = configuration.startTime ?? Int64(Date().timeIntervalSince1970 * 1000)
                    generator = FeedGenerator(configuration: configuration, startTime: start)
                    started = .now
                }
                guard let (message, offset) = generator!.next() else {
                    status.withLock { $0.state = .finished }
                    return nil
                }
                // a feed behind its schedule never sleeps: check for cancellation every time
                try Task.checkCancellation()
                if let speed = configuration.speed, speed > 0 {
                    let due = started + .milliseconds(Double(offset) / speed)
                    if due > .now { try await Task.sleep(until: due, clock: .continuous) }
                }
                status.withLock {
                    $0.received += 1
                    $0.lastMessageAt = Date()
                }
                return .raw(message)
            }
        }
    }
}

/// The deterministic message generator behind ``SimulatedSource`` (also usable synchronously, for
/// publishing a feed to a broker or writing a capture).
public struct FeedGenerator: Sendable {
    struct ZoneSim: Sendable {
        var topic: String
        var inCrowd: Bool
        var until: Int64
        var size: Int
    }

    public let configuration: SimulatedSource.Configuration
    public let startTime: Int64
    private var rng: SplitMix64
    private var zones: [ZoneSim] = []
    private var tick: Int64 = 0
    private var index = 0

    public init(configuration: SimulatedSource.Configuration, startTime: Int64) {
        self.configuration = configuration
        self.startTime = startTime
        rng = SplitMix64(seed: configuration.seed)
        for c in configuration.cameras {
            for z in c.zones {
                // stagger: each zone starts quiet for a short random while, so the first crowds
                // come within seconds (the demo shows events within a minute)
                let first = configuration.quietLength.lowerBound
                let quiet = rng.duration(in: min(.seconds(2), first)...first)
                zones.append(ZoneSim(topic: "/merakimv/\(c.serial)/\(z.id)", inCrowd: false, until: startTime + quiet, size: 0))
            }
        }
    }

    /// The next message and its camera-time offset from the start (ms); `nil` at the end.
    public mutating func next() -> (RawMessage, Int64)? {
        guard !zones.isEmpty else { return nil }
        let step = max(configuration.interval.milliseconds, 1)
        let offset = tick * step
        if let length = configuration.length, offset >= length.milliseconds { return nil }
        let ts = startTime + offset
        var z = zones[index]
        if ts >= z.until {
            z.inCrowd.toggle()
            z.until = ts + rng.duration(in: z.inCrowd ? configuration.crowdLength : configuration.quietLength)
            z.size = z.inCrowd ? rng.int(in: configuration.crowdSize) : 0
        }
        let people = z.inCrowd ? max(configuration.crowdSize.lowerBound, z.size + rng.int(in: -1...1)) : rng.int(in: configuration.quietSize)
        zones[index] = z
        let payload = #"{"ts":\#(ts),"counts":{"person":\#(people),"vehicle":0}}"#
        let message = RawMessage(topic: z.topic, payload: payload, receivedAt: ts)
        index += 1
        if index == zones.count {
            index = 0
            tick += 1
        }
        return (message, offset)
    }
}

/// A small, fast, seedable PRNG (SplitMix64) so simulated feeds are reproducible.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(in range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func duration(in range: ClosedRange<Duration>) -> Int64 {
        Int64.random(in: range.lowerBound.milliseconds...max(range.lowerBound.milliseconds, range.upperBound.milliseconds), using: &self)
    }
}
