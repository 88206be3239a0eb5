import CrowdKitCore
import Testing

@Suite("Raw message batches")
struct RawMessageBatchTests {
    static func feed() -> [RawMessage] {
        var messages: [RawMessage] = []
        for t in stride(from: Int64(0), through: 6000, by: 500) {
            for zone in ["0", "1", "2"] {
                let people = zone == "2" ? 0 : (t < 4000 ? 4 : 0)
                messages.append(
                    RawMessage(
                        topic: "/merakimv/Q2GV-ABCD-1234/\(zone)", payload: #"{"ts":\#(t),"counts":{"person":\#(people)}}"#,
                        receivedAt: 1_700_000_000_000 + t))
            }
            if t == 1000 {
                messages.append(RawMessage(topic: "/merakimv/Q2GV-ABCD-1234/0", payload: "not json", receivedAt: 5))
                messages.append(RawMessage(topic: "/merakimv/Q2GV-ABCD-1234/0/raw_detections", payload: "{}", receivedAt: 6))
                messages.append(RawMessage(topic: "/elsewhere", payload: "", receivedAt: 7))
            }
        }
        return messages
    }

    @Test("appended messages come back with their bytes, times and flags, in order")
    func roundTrip() {
        var batch = RawMessageBatch()
        let messages = Self.feed()
        for (i, m) in messages.enumerated() { batch.append(m, flags: UInt8(i % 8)) }
        #expect(batch.count == messages.count)
        #expect((0..<batch.count).map { batch.message(at: $0) } == messages)
        var seen: [(String, [UInt8], Int64, UInt8)] = []
        batch.forEach { topic, payload, entry in
            seen.append((String(decoding: topic, as: UTF8.self), Array(payload), entry.receivedAt, entry.flags))
        }
        #expect(seen.map(\.0) == messages.map(\.topic))
        #expect(seen.map(\.1) == messages.map(\.payload))
        #expect(seen.map(\.2) == messages.map { $0.receivedAt ?? 0 })
        #expect(seen.map(\.3) == (0..<messages.count).map { UInt8($0 % 8) })
        batch.removeAll()
        #expect(batch.isEmpty)
        var calls = 0
        batch.forEach { _, _, _ in calls += 1 }
        #expect(calls == 0)
    }

    @Test("the engine gives the same events, counters and rejections for a batch as message by message")
    func engineBatchEqualsOneByOne() {
        let policy = DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(1), cooldown: .zero))
        let messages = Self.feed()

        var single = DetectionEngine(policy: policy)
        var singleChanges: [EventChange] = []
        var singleRejected: [Int: RejectReason] = [:]
        for (i, m) in messages.enumerated() {
            if case .rejected(let r) = single.process(m, emit: { singleChanges.append($0) }) { singleRejected[i] = r }
        }

        var batched = DetectionEngine(policy: policy)
        var batchChanges: [EventChange] = []
        var batchRejected: [Int: RejectReason] = [:]
        // two batches, split in the middle of a crowd
        let split = messages.count / 2
        for part in [messages[..<split], messages[split...]] {
            var batch = RawMessageBatch()
            for m in part { batch.append(m) }
            let offset = part.startIndex
            batched.process(batch, emit: { batchChanges.append($0) }) { i, r in batchRejected[offset + i] = r }
        }

        #expect(!singleChanges.isEmpty)
        #expect(batchChanges == singleChanges)
        #expect(batchRejected == singleRejected)
        #expect(batchRejected.values.contains(.notJSON))
        #expect(batched.statistics == single.statistics)
        #expect(batched.statistics.messages == messages.count)
    }
}
