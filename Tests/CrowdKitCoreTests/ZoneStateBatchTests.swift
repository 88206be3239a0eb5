import CrowdKitCore
import Testing

@Suite("Zone state batches")
struct ZoneStateBatchTests {
    static let a = ZoneKey(camera: "Q2GV-A", zone: "0")
    static let b = ZoneKey(camera: "Q2GV-B", zone: "5843")

    @Test("a directory numbers each (zone, policy) once, in order")
    func directoryNumbers() {
        let d = ZoneDirectory()
        #expect(d.id(for: Self.a, policy: "dwell") == 0)
        #expect(d.id(for: Self.b, policy: "dwell") == 1)
        #expect(d.id(for: Self.a, policy: "dwell") == 0)
        #expect(d.id(for: Self.a, policy: "messageCount") == 2)
        #expect(d.count == 3)
        #expect(d[1] == ZoneDirectory.Entry(zone: Self.b, policy: "dwell"))
    }

    @Test("states read back with their zone, policy and exact bytes")
    func readBack() {
        let states = [
            SavedZoneState(zone: Self.a, policy: "dwell", data: [0, 1, 0xFF]),
            SavedZoneState(zone: Self.b, policy: "messageCount", data: []),
            SavedZoneState(zone: Self.a, policy: "dwell", data: [9]),
        ]
        let batch = ZoneStateBatch(states)
        #expect(batch.count == 3)
        #expect(batch.byteCount == 4)
        #expect(batch.states == states)
        #expect(batch.zoneID(at: 0) == batch.zoneID(at: 2))
        #expect(batch.withData(at: 2) { Array($0) } == [9])
    }

    @Test("a state whose encoding fails leaves nothing behind")
    func failedEncoding() {
        let d = ZoneDirectory()
        var batch = ZoneStateBatch(directory: d)
        #expect(batch.append(d.id(for: Self.a, policy: "p")) { w in
            w.write(Int64(7))
            return true
        })
        #expect(!batch.append(d.id(for: Self.b, policy: "p")) { w in
            w.write(Int64(8))
            return false
        })
        #expect(batch.count == 1)
        #expect(batch.byteCount == 8)
        #expect(batch.states.map(\.zone) == [Self.a])
    }

    @Test("merging keeps each zone's state from the latest batch, per directory")
    func mergedKeepsLatest() {
        let d = ZoneDirectory()
        let ia = d.id(for: Self.a, policy: "dwell")
        let ib = d.id(for: Self.b, policy: "dwell")
        var first = ZoneStateBatch(directory: d)
        first.append(ia, [1])
        first.append(ib, [2])
        var second = ZoneStateBatch(directory: d)
        second.append(ia, [3])
        let other = ZoneStateBatch([SavedZoneState(zone: Self.b, policy: "dwell", data: [4])])
        var third = ZoneStateBatch(directory: d)
        let ic = d.id(for: ZoneKey(camera: "Q2GV-C", zone: "1"), policy: "dwell")
        third.append(ic, [5])
        third.append(ia, [6, 6])

        let merged = ZoneStateBatch.merged([first, second, other, third])
        #expect(merged.count == 2)
        let latest = Dictionary(uniqueKeysWithValues: merged[0].states.map { ($0.zone, $0.data) })
        #expect(latest == [Self.a: [6, 6], Self.b: [2], ZoneKey(camera: "Q2GV-C", zone: "1"): [5]])
        #expect(merged[0].directory === d)
        #expect(merged[1].states == other.states)
        #expect(ZoneStateBatch.merged([first]).first?.states == first.states)
    }

    @Test("the engine hands over only the zones that changed, numbered once for its life")
    func engineTakes() throws {
        var e = DetectionEngine(policy: DwellPolicy(DwellParameters(minPeople: 2, dwell: .seconds(10), gap: .seconds(2), cooldown: .seconds(60))))
        e.trackChanges()
        let t0: Int64 = 1_714_632_600_000
        func feed(_ camera: String, _ ts: Int64, _ people: Int) {
            _ = e.process(RawMessage(topic: "/merakimv/\(camera)/0", payload: #"{"ts":\#(ts),"counts":{"person":\#(people)}}"#)) { _ in }
        }
        feed("CAM1", t0, 3)
        feed("CAM2", t0, 1)
        let taken1 = e.takeChangedStates()
        let first = try #require(taken1)
        #expect(Set(first.states.map(\.zone.camera)) == ["CAM1", "CAM2"])
        let taken2 = e.takeChangedStates()
        #expect(taken2?.isEmpty == true)
        feed("CAM2", t0 + 1000, 4)
        let taken3 = e.takeChangedStates()
        let second = try #require(taken3)
        #expect(second.states.map(\.zone.camera) == ["CAM2"])
        #expect(second.directory === first.directory)
        #expect(second.zoneID(at: 0) == first.zoneID(at: first.states.firstIndex { $0.zone.camera == "CAM2" }!))
        // what the engine hands over restores a fresh engine to the same state
        var fresh = DetectionEngine(policy: DwellPolicy(DwellParameters(minPeople: 2, dwell: .seconds(10), gap: .seconds(2), cooldown: .seconds(60))))
        let allTaken = e.allStates()
        let all = try #require(allTaken)
        #expect(all.count == 2)
        #expect(fresh.restore(all.states).isEmpty)
        #expect(fresh.snapshot() == e.snapshot())
    }
}
