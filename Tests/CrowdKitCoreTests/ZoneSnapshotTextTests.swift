import CrowdKitCore
import Foundation
import Testing

@Suite("ZoneSnapshotText")
struct ZoneSnapshotTextTests {
    static let zones: [ZoneSnapshot] = [
        ZoneSnapshot(camera: "Q2GV-0001", zone: "0", people: 0, vehicles: 0, lastTs: 1_714_632_600_000, phase: .idle),
        ZoneSnapshot(camera: "Q2GV-0001", zone: "584342051651321858", people: 4, vehicles: 2, lastTs: 1_714_632_601_000, phase: .pending(since: 1_714_632_590_000)),
        ZoneSnapshot(
            camera: "Q2GV-0002", zone: "1", people: 9, vehicles: 0, lastTs: 1_714_632_602_000, phase: .crowd(since: 1_714_632_500_000, firedAt: 1_714_632_560_000),
            eventID: CrowdEventID(rawValue: "ev-1")),
        ZoneSnapshot(camera: "Q2GV-0003", zone: "2", people: 1, vehicles: 0, lastTs: 5, phase: .paused(until: 7)),
        // names that need escaping, and a negative time (a camera clock before 1970)
        ZoneSnapshot(camera: "cam \"quoted\" \\ é 🙂", zone: "z\n\t", people: 3, vehicles: 1, lastTs: -1_000, phase: .pending(since: -2_000),
            eventID: CrowdEventID(rawValue: "a\"b")),
    ]

    @Test("every phase, escaped names and event ids round-trip")
    func roundTrip() throws {
        let text = ZoneSnapshotText.encode(Self.zones)
        #expect(ZoneSnapshotText.isCompact(text))
        #expect(try ZoneSnapshotText.decode(text) == Self.zones)
        #expect(try ZoneSnapshotText.decode(ZoneSnapshotText.encode([])) == [])
        // it is JSON: Foundation reads it too
        #expect((try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["v"] as? Int == 2)
    }

    @Test("damaged documents and other versions are refused, never half-read")
    func refusesDamage() throws {
        let text = ZoneSnapshotText.encode(Self.zones)
        for bad in [
            "", "[]", #"{"v":3,"zones":[]}"#, String(text.dropLast()), text + "x", text.replacingOccurrences(of: "\"pending\"", with: "\"later\""),
            text.replacingOccurrences(of: ",null]", with: ",null,1]"), text.replacingOccurrences(of: "[\"Q2GV-0003\",\"2\",1", with: "[\"Q2GV-0003\",\"2\",1.5"),
        ] {
            #expect(throws: ZoneSnapshotText.DecodingError.self, "\(bad.prefix(60))") { try ZoneSnapshotText.decode(bad) }
        }
        // the older form (a JSON array of objects) is not this one: the store reads it with Foundation
        let older = String(decoding: try JSONEncoder().encode(Self.zones), as: UTF8.self)
        #expect(!ZoneSnapshotText.isCompact(older))
    }
}
