import CrowdKitCore
import Testing

/// The saved form of zone states (SEMANTICS.md §7): compact varints, and the fixed-width
/// version 1 of earlier releases still read.
@Suite("Zone state encoding")
struct StateEncodingTests {
    static let zone = ZoneKey(camera: "Q2GV-AAAA-0001", zone: "0")
    static let t0: Int64 = 1_714_632_600_000

    static func fixed(_ v: Int64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (8 * UInt64($0))) } }

    @Test("varints, zigzag integers and relative times read back exactly, extremes included")
    func varints() throws {
        let values: [Int64] = [0, 1, -1, 63, -64, 64, 127, 128, 300, -300, 1 << 40, .max, .min, .min + 1, Self.t0, -Self.t0]
        var w = StateBytesWriter()
        for v in values {
            w.write(zigzag: v)
            w.write(time: v, relativeTo: Self.t0)
            w.write(varint: UInt64(bitPattern: v))
        }
        var r = StateBytesReader(w.bytes)
        for v in values {
            #expect(try r.readZigzag() == v)
            #expect(try r.readTime(relativeTo: Self.t0) == v)
            #expect(try r.readVarint() == UInt64(bitPattern: v))
        }
        #expect(r.isAtEnd)
        // small magnitudes take one byte; a time a second away two
        var small = StateBytesWriter()
        small.write(zigzag: -64)
        small.write(time: Self.t0 + 1000, relativeTo: Self.t0)
        #expect(small.bytes.count == 3)
    }

    @Test("the pointer writer writes exactly what the array writer writes")
    func rawWriterMatches() {
        var a = StateBytesWriter()
        var b = StateBytesWriter()
        let values: [Int64] = [0, -5, 1 << 35, .min, .max]
        for v in values {
            a.write(UInt8(7))
            a.write(v)
            a.write(zigzag: v)
            a.write(time: v, relativeTo: 42)
            a.write(true)
        }
        b.write(reserving: values.count * 29) { w in
            for v in values {
                w.write(UInt8(7))
                w.write(v)
                w.write(zigzag: v)
                w.write(time: v, relativeTo: 42)
                w.write(true)
            }
        }
        #expect(a.bytes == b.bytes)
        // a reservation that is not used in full leaves no bytes behind
        b.write(reserving: 100) { $0.write(UInt8(1)) }
        #expect(b.bytes == a.bytes + [1])
    }

    @Test("malformed varints are errors, not crashes")
    func badVarints() {
        var truncated = StateBytesReader([0x80, 0x80])
        #expect(throws: StateBytesError.self) { try truncated.readVarint() }
        var tooLong = StateBytesReader([UInt8](repeating: 0xFF, count: 10) + [0x01])
        #expect(throws: StateBytesError.self) { try tooLong.readVarint() }
        var overflow = StateBytesReader([UInt8](repeating: 0xFF, count: 9) + [0x02])
        #expect(throws: StateBytesError.self) { try overflow.readVarint() }
    }

    static let parameters = DwellParameters(minPeople: 2, dwell: .seconds(10), gap: .seconds(2), cooldown: .seconds(60))

    /// A dwell zone saved by a release before the compact form (engine part and dwell state
    /// version 1, fixed 8-byte fields): an episode open since t0 with 3 people, last seen at t0+9 s.
    static var version1DwellState: [UInt8] {
        let engine: [UInt8] = [1] + fixed(t0 + 9000) + fixed(3) + fixed(0) + [0]
        let dwell: [UInt8] =
            [1] + fixed(t0 + 9000) + fixed(.min) + [2] + fixed(t0) + fixed(t0 + 9000) + fixed(3) + fixed(0) + fixed(0) + fixed(0)
        return engine + dwell
    }

    @Test("a dwell zone saved in version 1 resumes: its open episode fires on time with its start")
    func dwellVersion1() throws {
        var e = DetectionEngine(policy: DwellPolicy(Self.parameters))
        let skipped = e.restore([SavedZoneState(zone: Self.zone, policy: "dwell", data: Self.version1DwellState)])
        #expect(skipped.isEmpty)
        var fired: [CrowdEvent] = []
        _ = e.process(RawMessage(topic: "/merakimv/\(Self.zone.camera)/0", payload: #"{"ts":\#(Self.t0 + 10_000),"counts":{"person":3}}"#)) {
            if $0.kind == .fired { fired.append($0.event) }
        }
        #expect(fired.map(\.startedAt) == [Self.t0])
        #expect(fired.map(\.firedAt) == [Self.t0 + 10_000])
    }

    @Test("version 1 dwell and message-count states decode to what the compact form saves again")
    func version1RoundTrip() throws {
        let dwell = DwellPolicy(Self.parameters)
        var r = StateBytesReader(Array(Self.version1DwellState.dropFirst(26)))
        let old = try dwell.decodeState(from: &r, for: Self.zone)
        #expect(r.isAtEnd)
        var w = StateBytesWriter()
        #expect(dwell.encodeState(old, into: &w))
        #expect(w.bytes.first == 2)
        #expect(w.bytes.count < 30)
        var r2 = StateBytesReader(w.bytes)
        #expect(try dwell.decodeState(from: &r2, for: Self.zone) == old)

        let count = MessageCountPolicy()
        // armed at t0 after 4 messages, peak 5, 1 zero, paused until t0 + 60 s
        let v1: [UInt8] = [1] + Self.fixed(Self.t0 + 3000) + [1] + Self.fixed(Self.t0) + Self.fixed(4) + Self.fixed(5) + Self.fixed(1) + Self.fixed(Self.t0 + 60_000)
        var r3 = StateBytesReader(v1)
        let oldCount = try count.decodeState(from: &r3, for: Self.zone)
        #expect(r3.isAtEnd)
        #expect(count.phase(of: oldCount) == .pending(since: Self.t0))
        var w2 = StateBytesWriter()
        #expect(count.encodeState(oldCount, into: &w2))
        var r4 = StateBytesReader(w2.bytes)
        #expect(try count.decodeState(from: &r4, for: Self.zone) == oldCount)
    }

    @Test("compact states round-trip with extreme times (never seen, far past, far future)")
    func extremes() throws {
        let dwell = DwellPolicy(Self.parameters)
        for lastTs in [Int64.min, 0, Self.t0, Int64.max] {
            // a version 1 state with these times, read, then saved compact and read again
            let v1: [UInt8] =
                [1] + Self.fixed(lastTs) + Self.fixed(.max) + [7] + Self.fixed(.min) + Self.fixed(1) + Self.fixed(-4) + Self.fixed(.max)
                + Self.fixed(-1) + Self.fixed(9)
            var r = StateBytesReader(v1)
            let state = try dwell.decodeState(from: &r, for: Self.zone)
            var w = StateBytesWriter()
            _ = dwell.encodeState(state, into: &w)
            var r2 = StateBytesReader(w.bytes)
            #expect(try dwell.decodeState(from: &r2, for: Self.zone) == state)
            #expect(r2.isAtEnd)
        }
    }

    @Test("a zone that changes twice between takes is handed over twice, the later one newer")
    func changedTwice() async throws {
        var e = DetectionEngine(policy: DwellPolicy(Self.parameters))
        e.trackChanges()
        func feed(_ ts: Int64, _ people: Int) {
            _ = e.process(RawMessage(topic: "/merakimv/\(Self.zone.camera)/0", payload: #"{"ts":\#(ts),"counts":{"person":\#(people)}}"#)) { _ in }
        }
        feed(Self.t0, 3)
        feed(Self.t0 + 1000, 4)
        let takenStates = e.takeChangedStates()
        let taken = try #require(takenStates)
        #expect(taken.count == 2)
        #expect(taken.zoneID(at: 0) == taken.zoneID(at: 1))
        // a store keeps the later one: a fresh engine resumes at the second reading
        let store = InMemoryEventStore()
        try await store.saveZoneStates(taken)
        var fresh = DetectionEngine(policy: DwellPolicy(Self.parameters))
        #expect(fresh.restore(try await store.loadZoneStates()).isEmpty)
        #expect(fresh.snapshot() == e.snapshot())
        #expect(fresh.snapshot().first?.people == 4)
    }
}
