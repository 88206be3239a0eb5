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

    /// A simulated area (SEMANTICS.md §8): people walk in and out through its doors, lines on
    /// the cameras, one crossing per door and interval at most.
    public struct Area: Hashable, Sendable {
        public struct Door: Hashable, Sendable {
            /// The camera serial (one of ``Configuration/cameras`` gives the area its heartbeat).
            public var camera: String
            public var line: String
            public var label: String
            /// The camera counts walking in as `crossing_out` (configure the line `:reverse`).
            public var reverse: Bool
            public init(camera: String, line: String, label: String, reverse: Bool = false) {
                self.camera = camera
                self.line = line
                self.label = label
                self.reverse = reverse
            }
        }
        public var name: String
        public var doors: [Door]
        public init(name: String, doors: [Door]) {
            self.name = name
            self.doors = doors
        }

        /// The area as the engine is configured with it.
        public var definition: AreaDefinition {
            AreaDefinition(name: name, lines: doors.map { AreaLine(LineKey(camera: $0.camera, line: $0.line), reverse: $0.reverse) })
        }
    }

    /// The demo's area: a hall with a main door seen by the front desk camera and a side door seen
    /// (the other way round) by the cafeteria camera.
    public static let demoAreas: [Area] = [
        Area(name: "hall", doors: [
            Area.Door(camera: "Q2MV-DEMO-0001", line: "701", label: "Main door"),
            Area.Door(camera: "Q2MV-DEMO-0002", line: "702", label: "Side door", reverse: true),
        ])
    ]

    /// The feed's shape.
    public struct Configuration: Hashable, Sendable {
        public var cameras: [Camera]
        /// Areas whose doors publish line crossings.
        public var areas: [Area]
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
            speed: Double? = 1, length: Duration? = nil, seed: UInt64 = 42, areas: [Area] = []
        ) {
            self.cameras = cameras
            self.areas = areas
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
        if !configuration.areas.isEmpty { cams[AreaDefinition.camera] = "Area" }
        for a in configuration.areas { zones[ZoneKey(camera: AreaDefinition.camera, zone: a.name)] = a.name.prefix(1).uppercased() + a.name.dropFirst() }
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

    struct AreaSim: Sendable {
        var occupancy = 0
        var target = 0
        var crowd = false
        var until: Int64
    }

    public let configuration: SimulatedSource.Configuration
    public let startTime: Int64
    private var rng: SplitMix64
    private var zones: [ZoneSim] = []
    private var areas: [AreaSim] = []
    private var pending: [RawMessage] = []
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
        areas = configuration.areas.map { _ in AreaSim(until: startTime + rng.duration(in: .seconds(2)...(.seconds(5)))) }
    }

    /// One tick of every area: towards its target, one crossing per door at most.
    private mutating func stepAreas(at ts: Int64) {
        for i in areas.indices {
            var a = areas[i]
            if ts >= a.until {
                a.crowd.toggle()
                a.until = ts + rng.duration(in: a.crowd ? configuration.crowdLength : configuration.quietLength)
                a.target = a.crowd ? rng.int(in: configuration.crowdSize) + 1 : rng.int(in: configuration.quietSize)
            }
            for door in configuration.areas[i].doors where a.occupancy != a.target && rng.int(in: 0...2) > 0 {
                let entering = a.occupancy < a.target
                a.occupancy += entering ? 1 : -1
                let event = entering != door.reverse ? "crossing_in" : "crossing_out"
                let payload = #"{"label":"\#(door.label)","event":"\#(event)","type":"person","ts":\#(ts),"object_id":\#(rng.int(in: 1...99_999))}"#
                pending.append(RawMessage(topic: "/merakimv/\(door.camera)/crossing/\(door.line)", payload: payload, receivedAt: ts))
            }
            areas[i] = a
        }
    }

    /// The next message and its camera-time offset from the start (ms); `nil` at the end.
    public mutating func next() -> (RawMessage, Int64)? {
        guard !zones.isEmpty else { return nil }
        let step = max(configuration.interval.milliseconds, 1)
        if !pending.isEmpty { return (pending.removeFirst(), max(0, tick - 1) * step) }
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
            if !areas.isEmpty { stepAreas(at: ts) }
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
