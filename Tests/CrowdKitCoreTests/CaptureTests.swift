@testable import CrowdKitCore
import CrowdKitTesting
import Foundation
import Testing

@Suite("Capture format (SEMANTICS.md §5)")
struct CaptureTests {
    static func parse(_ line: String) -> CaptureParser.Line<(String, String, Int64?)> {
        var parser = CaptureParser()
        var bytes = Array(line.utf8)
        return bytes.withUnsafeMutableBytes { raw in
            parser.parse(line: UnsafeRawBufferPointer(raw)) { t, p, r in
                (String(decoding: t, as: UTF8.self), String(decoding: p, as: UTF8.self), r)
            }
        }
    }

    static func message(_ line: String) -> (String, String, Int64?)? {
        if case .message(let m) = parse(line) { return m }
        return nil
    }

    static func isMalformed(_ line: String) -> Bool {
        if case .malformed = parse(line) { return true }
        return false
    }

    static func temporaryFile(_ contents: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-\(UUID().uuidString).capture").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("mosquitto_sub -v lines: topic, one space, the raw payload")
    func mosquittoSubLine() {
        let m = Self.message(#"/merakimv/Q2/0 {"ts": 1, "counts": {"person": 3}}"#)
        #expect(m?.0 == "/merakimv/Q2/0")
        #expect(m?.1 == #"{"ts": 1, "counts": {"person": 3}}"#)
        #expect(m?.2 == nil)
    }

    @Test("JSON Lines: receivedAt, topic, and the payload string unescaped")
    func jsonLine() {
        let m = Self.message(#"{"receivedAt": 1714632600150, "topic": "/merakimv/Q2GV-ABCD-1234/0", "payload": "{\"ts\":1714632600123,\"counts\":{\"person\":3}}"}"#)
        #expect(m?.0 == "/merakimv/Q2GV-ABCD-1234/0")
        #expect(m?.1 == #"{"ts":1714632600123,"counts":{"person":3}}"#)
        #expect(m?.2 == 1714632600150)
        // key order does not matter; escaped topic; \u escapes; a payload given as an object
        let n = Self.message(#"{"payload":{"ts":1},"topic":"\/merakimv\/Q2\/\u0030"}"#)
        #expect(n?.0 == "/merakimv/Q2/0")
        #expect(n?.1 == #"{"ts":1}"#)
    }

    @Test("blank lines, whitespace and # comments are skipped; CRLF is fine")
    func skipped() {
        for line in ["", "   ", "# comment", "  # indented comment", "\r"] {
            guard case .skipped = Self.parse(line) else {
                Issue.record("not skipped: \(line.debugDescription)")
                continue
            }
        }
        #expect(Self.message("/merakimv/Q2/0 {\"ts\":1}\r")?.1 == "{\"ts\":1}")
    }

    @Test("malformed lines are reported", arguments: [
        "/merakimv/Q2/0", "{", #"{"topic":"/merakimv/Q2/0"}"#, #"{"payload":"x"}"#, #"{"topic":1,"payload":"x"}"#,
        #"{"topic":"t","payload":"x"} extra"#, #"{"topic":"t","payload":"\q"}"#, #"{"receivedAt":"x","topic":"t","payload":"p"}"#,
    ])
    func malformed(line: String) {
        #expect(Self.isMalformed(line))
    }

    @Test("a capture written by CaptureWriter reads back to the same messages")
    func roundTrip() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-\(UUID().uuidString).capture").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let messages = [
            RawMessage(topic: "/merakimv/Q2/0", payload: #"{"ts":1,"counts":{"person":3}}"#, receivedAt: 5),
            RawMessage(topic: "/merakimv/Q2/light", payload: "line1\nline2\t\"quoted\" \\ é 🎉 \u{01}", receivedAt: 6),
            RawMessage(topic: "merakimv/Q2/584342051651321858", payload: "", receivedAt: 7),
        ]
        let writer = try CaptureWriter(path: path)
        for m in messages { try writer.write(m) }
        try writer.close()
        var read: [RawMessage] = []
        var parser = CaptureParser()
        try CaptureReader(path: path).forEachLine { _, line in
            guard let line else { return }
            if case .message(let m) = parser.parse(line: line, { t, p, r in
                RawMessage(topic: String(decoding: t, as: UTF8.self), payload: Array(p), receivedAt: r)
            }) { read.append(m) }
        }
        #expect(read == messages)
    }

    @Test("the reader handles big files across chunk boundaries, a last line without newline, and overlong lines")
    func readerChunks() throws {
        var text = ""
        for i in 0..<30_000 { text += "/merakimv/Q2/0 {\"ts\":\(i),\"counts\":{\"person\":\(i % 7)}}\n" }
        text += String(repeating: "x", count: 3_000_000) + "\n"
        text += "/merakimv/Q2/0 {\"ts\":99999999}"
        let path = try Self.temporaryFile(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var count = 0
        var numbers: [Int] = []
        var overlong: [Int] = []
        var last = ""
        try CaptureReader(path: path, maxLineBytes: 1 << 20).forEachLine { n, line in
            numbers.append(n)
            guard let line else {
                overlong.append(n)
                return
            }
            count += 1
            last = String(decoding: line, as: UTF8.self)
        }
        #expect(count == 30_001)
        #expect(overlong == [30_001])
        #expect(numbers == Array(1...30_002))
        #expect(last == "/merakimv/Q2/0 {\"ts\":99999999}")
    }

    @Test("an unreadable capture is a CaptureError naming the file")
    func unreadable() {
        #expect(throws: CaptureError.self) {
            try CaptureReader(path: "/nonexistent/capture").forEachLine { _, _ in }
        }
        #expect(throws: CaptureError.self) {
            try CaptureReader(path: NSTemporaryDirectory()).forEachLine { _, _ in }
        }
    }

    @Test("CaptureSource plays a capture as a MessageSource, skipping malformed lines")
    func captureSource() async throws {
        let path = try Self.temporaryFile("# c\n/merakimv/Q2/0 {\"ts\":1}\njunk\n{\"topic\":\"/merakimv/Q2/1\",\"payload\":\"{}\"}\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = CaptureSource(path: path)
        var topics: [String] = []
        for try await m in try await source.messages() {
            if case .raw(let r) = m { topics.append(r.topic) }
        }
        #expect(topics == ["/merakimv/Q2/0", "/merakimv/Q2/1"])
        #expect(source.status.dropped == 1)
        #expect(source.status.state == .finished)
    }
}

/// JSON Lines payloads are decoded in place (quotes written `\"`) when they can be; every other
/// spelling is unescaped first. Either way a capture gives what the same messages give in
/// `mosquitto_sub` form.
@Suite("JSON Lines payloads read in place")
struct InPlacePayloadTests {
    /// Payloads and, for some, a hand-written escaped spelling with other escapes than `\"`.
    static let payloads: [(payload: String, escaped: String?)] = [
        (#"{"ts":1714632600000,"counts":{"person":4,"vehicle":0}}"#, nil),
        (#"{ "ts" : 1714632601000 , "counts" : { "person" : 5 } }"#, nil),
        (#"{"ts":1714632602000,"counts":{"person":6}}"#, #"{\u0022ts\u0022:1714632602000,\"counts\":{\"person\":6}}"#),
        (#"{"ts":1714632603000,"counts":{"person":7},"note":"a\"b\\c"}"#, nil),
        ("{\"ts\":1714632604000,\n\"counts\":{\"person\":8}}", nil),
        (#"{"ts":1714632605000,"counts":{"person":9},"x":"\/"}"#, #"{\"ts\":1714632605000,\"counts\":{\"person\":9},\"x\":\"\\\/\"}"#),
        (#"{"ts":1714632606000,"counts":{"person":-1}}"#, nil),
        (#"{"ts":"1714632607000","counts":{"person":3}}"#, nil),
        (#"{"counts":{"person":3}}"#, nil),
        (#"{"ts":1714632608000,"counts":{"person":3}"#, nil),
        (#"{"ts":1714632609000,"counts":{"person":3}} x"#, nil),
        (#"[1]"#, nil),
        (#"{"ts":1714632610000,"counts":{"person":3.0,"vehicle":2}}"#, nil),
        (#"{"ts":1714632611000,"counts":{"person":0}}"#, nil),
    ]

    static func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.fragmentsAllowed])
        let text = String(decoding: data, as: UTF8.self)  // ["..."]
        return String(text.dropFirst(2).dropLast(2))
    }

    @Test("in place, a payload decodes exactly as unescaped, or not at all")
    func decoderAgrees() {
        for (payload, handEscaped) in Self.payloads {
            for escaped in [Self.jsonString(payload)] + (handEscaped.map { [$0] } ?? []) {
                var e = Array(escaped.utf8)
                var p = Array(payload.utf8)
                func numbers(_ r: Result<MVSenseDecoder.Counts, RejectReason>) -> [Int64]? {
                    guard case .success(let c) = r else { return nil }
                    return [c.ts, Int64(c.people), Int64(c.vehicles)]
                }
                let inPlace = e.withUnsafeMutableBytes { numbers(MVSenseDecoder.decodeCountsInPlace(UnsafeRawBufferPointer($0))) }
                let plain = p.withUnsafeMutableBytes { numbers(MVSenseDecoder.decodeCounts(UnsafeRawBufferPointer($0))) }
                if let inPlace { #expect(inPlace == plain, "\(escaped)") }
                if escaped == Self.jsonString(payload) && !payload.contains("\\") && !payload.contains("\n") {
                    #expect((inPlace == nil) == (plain == nil), "the common form is read in place: \(escaped)")
                }
            }
        }
    }

    @Test("replay of JSON Lines equals replay of the same messages as mosquitto_sub lines")
    func replayAgrees() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inplace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var jsonl = "", sub = ""
        for round in 0..<3 {
            for (i, (payload, handEscaped)) in Self.payloads.enumerated() where !payload.contains("\n") {
                let shifted = payload.replacingOccurrences(of: "17146326", with: "1714632\(6 + round)")
                let escaped = handEscaped.map { $0.replacingOccurrences(of: "17146326", with: "1714632\(6 + round)") } ?? Self.jsonString(shifted)
                let topic = "/merakimv/Q2GV-INPL-000\(i % 3)/\(i % 2)"
                jsonl += #"{"receivedAt":1,"topic":"\#(topic)","payload":"\#(escaped)"}"# + "\n"
                sub += "\(topic) \(shifted)\n"
            }
        }
        try jsonl.write(to: dir.appendingPathComponent("a.capture"), atomically: true, encoding: .utf8)
        try sub.write(to: dir.appendingPathComponent("b.capture"), atomically: true, encoding: .utf8)
        let replay = Replay(policy: DwellPolicy(DwellParameters(minPeople: 3, dwell: .seconds(1), gap: .seconds(1))))
        let a = try replay.run(path: dir.appendingPathComponent("a.capture").path)
        let b = try replay.run(path: dir.appendingPathComponent("b.capture").path)
        #expect(a.events == b.events)
        #expect(!a.events.isEmpty)
        #expect(a.counters == b.counters)
        #expect(a.counters.rejected > 0)
        #expect(a.rejectedLines.map(\.line) == b.rejectedLines.map(\.line))
        let decoded = try DecodedCapture.read(path: dir.appendingPathComponent("a.capture").path)
        let backtest = Backtest.evaluate(decoded, policy: replay.policy, keepEvents: true)
        #expect(backtest.eventList == a.events)
    }
}

extension InPlacePayloadTests {
    @Test("lines that only look like record's form are judged as the general parser judges them")
    func nearRecordForm() throws {
        let good = #"{"receivedAt":1,"topic":"/merakimv/Q2GV-NEAR-0001/0","payload":"{\"ts\":1714632600000,\"counts\":{\"person\":4}}"}"#
        let lines = [
            good,
            good,  // now a known topic: read in place
            #"{"receivedAt":1,"topic":"/merakimv/Q2GV-NEAR-0001/0","payload":"{\"ts\":1714632601000,\"counts\":{\"person\":4}}\"}"#,  // unterminated string
            #"{"receivedAt":1,"topic":"/merakimv/Q2GV-NEAR-0001/0","payload":"{"ts":1714632602000}"}"#,  // raw quotes: not one string
            #"{"receivedAt":1.5,"topic":"/merakimv/Q2GV-NEAR-0001/0","payload":"{\"ts\":1714632603000}"}"#,
            #"{"receivedAt":1,"topic":"/merakimv/Q2GV-NEAR-0001/0","payload":"{\"ts\":1714632604000,\"counts\":{\"person\":4}}","x":1}"#,
            #"{"receivedAt":1,"topic":"\/merakimv\/Q2GV-NEAR-0001\/0","payload":"{\"ts\":1714632605000,\"counts\":{\"person\":5}}"}"#,
            #"{"receivedAt":1,"topic":"/merakimv/Q2GV-NEAR-0001/0","payload":"{\"ts\":1714632606000,\"counts\":{\"person\":\"5\"}}"}"#,
            #"{"receivedAt":1,"topic":"/merakimv/Q2GV-NEAR-0001/0","payload":"{\"ts\":1714632607000,\"counts\":{\"person\":4}} "}"#,
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("near-\(UUID().uuidString).capture").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Replay(policy: DwellPolicy()).run(path: path)
        // what the general parser says of each line on its own
        var parser = CaptureParser()
        var malformed: [Int] = []
        var messages = 0
        for (i, line) in lines.enumerated() {
            var bytes = Array(line.utf8)
            let r = bytes.withUnsafeMutableBytes { parser.parse(line: UnsafeRawBufferPointer($0)) { _, _, _ in true } }
            switch r {
            case .malformed: malformed.append(i + 1)
            case .message: messages += 1
            case .skipped: break
            }
        }
        #expect(result.malformed.map(\.line) == malformed)
        #expect(result.counters.messages == messages)
        #expect(result.counters.observations == 5)  // lines 1, 2, 6 (another key is fine), 7 and 9
        #expect(result.counters.rejectedByReason == [.wrongType: 1])  // line 8
    }
}

extension InPlacePayloadTests {
    /// Found by `scripts/fuzz.sh` (FuzzCapture): a line in record's form whose keys repeat. The
    /// fast path locates the first topic, the general parser keeps the last (as JSON parsers do);
    /// the fast path must not be taken, and replay must read the line as the general parser does.
    @Test("regression (fuzzing): repeated keys in a record-like line are read the general way")
    func repeatedKeys() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/fuzz/capture-repeated-keys.line")
        let data = try Data(contentsOf: url)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString).capture").path
        try (data + Data("\n".utf8)).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var parser = CaptureParser()
        var bytes = Array(data)
        var general: [UInt8]?
        let verdict = bytes.withUnsafeMutableBytes { line in
            parser.parse(line: UnsafeRawBufferPointer(line)) { topic, _, _ in
                general = Array(topic)
                return true
            }
        }
        let result = try Replay(policy: DwellPolicy()).run(path: path)
        switch verdict {
        case .malformed: #expect(result.malformedCount == 1)
        case .message:
            // the general parser keeps the last topic written, which is not an MV Sense topic
            #expect(general.map { String(decoding: $0, as: UTF8.self) }?.hasPrefix("-merakimv") == true)
            #expect(result.counters.messages == 1)
            #expect(result.counters.rejectedByReason == [.badTopic: 1])
        case .skipped: Issue.record("not skipped")
        }
        // whichever it is, the fast path alone never decides it
        let fast = bytes.withUnsafeBytes { CaptureParser.recordParts($0) }
        if let fast { #expect(MVSenseDecoder.decodeCountsInPlace(fast.escapedPayload).isSuccess == false) }
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
}

extension InPlacePayloadTests {
    /// Found by `scripts/fuzz.sh` (FuzzCapture): raw newlines inside a JSON Lines payload string
    /// (invalid JSON: control characters must be escaped) were taken for the inner JSON's
    /// whitespace by the in-place decoder. It now reads only spaces as is, like the outer string.
    @Test("regression (fuzzing): a payload string with raw control characters is not read in place")
    func rawNewlineInPayload() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/fuzz/capture-raw-newline-in-payload.line")
        var bytes = Array(try Data(contentsOf: url))
        var parser = CaptureParser()
        let verdict = bytes.withUnsafeMutableBytes { parser.parse(line: UnsafeRawBufferPointer($0)) { _, _, _ in true } }
        guard case .malformed = verdict else {
            Issue.record("the general parser reads it: \(verdict)")
            return
        }
        let fast = bytes.withUnsafeBytes { CaptureParser.recordParts($0) }
        let read = fast.map { MVSenseDecoder.decodeCountsInPlace($0.escapedPayload).isSuccess } ?? false
        #expect(!read, "a line the general parser rejects must not be read in place")
        // and a payload with raw tab or newline between its members is not read in place either
        for ws in ["\n", "\t", "\r"] {
            var p = Array((#"{\"ts\":1,"# + ws + #"\"counts\":{}}"#).utf8)
            #expect(p.withUnsafeMutableBytes { MVSenseDecoder.decodeCountsInPlace(UnsafeRawBufferPointer($0)).isSuccess } == false)
        }
        var spaced = Array(#"{ \"ts\" : 1 , \"counts\" : { } }"#.utf8)
        #expect(spaced.withUnsafeMutableBytes { MVSenseDecoder.decodeCountsInPlace(UnsafeRawBufferPointer($0)).isSuccess })
    }
}

extension InPlacePayloadTests {
    @Test("the first line of a topic, read in place or not, gives the verdicts, zones and counters of the general way")
    func firstSightOfTopics() throws {
        // each topic's first line is a different case; the same messages as mosquitto_sub lines
        // are read the general way only
        let firsts: [(topic: String, escaped: String, payload: String?)] = [
            ("/merakimv/Q2GV-FRST-0001/0", #"{\"ts\":1000,\"counts\":{\"person\":4}}"#, #"{"ts":1000,"counts":{"person":4}}"#),
            ("/merakimv/Q2GV-FRST-0001/1", #"{\u0022ts\u0022:1000,\"counts\":{\"person\":4}}"#, #"{"ts":1000,"counts":{"person":4}}"#),
            ("/merakimv/Q2GV-FRST-0001/2", #"{\"ts\":1000,\"counts\":{\"person\":4},\"note\":\"caf\u00e9 \\\\ \/\"}"#, #"{"ts":1000,"counts":{"person":4},"note":"café \\ /"}"#),
            ("/merakimv/Q2GV-FRST-0001/3", #"{\"ts\":1000,\"counts\":{\"person\":-4}}"#, #"{"ts":1000,"counts":{"person":-4}}"#),
            ("/merakimv/Q2GV-FRST-0001/4", "{\\\"ts\\\":1000,\t\\\"counts\\\":{}}", nil),  // raw tab: malformed line
            ("/merakimv/Q2GV-FRST-0001/light", #"{\"ts\":1000,\"counts\":{\"person\":4}}"#, #"{"ts":1000,"counts":{"person":4}}"#),
            ("/merakimv/Q2GV-FRST-0001/crossing/77", #"{\"ts\":1000,\"event\":\"crossing_in\"}"#, #"{"ts":1000,"event":"crossing_in"}"#),
            ("/other/Q2GV-FRST-0001/0", #"{\"ts\":1000,\"counts\":{\"person\":4}}"#, #"{"ts":1000,"counts":{"person":4}}"#),
        ]
        var jsonl = "", sub = ""
        for f in firsts {
            jsonl += #"{"receivedAt":1,"topic":"\#(f.topic)","payload":"\#(f.escaped)"}"# + "\n"
            if let p = f.payload { sub += "\(f.topic) \(p)\n" }
        }
        // then every topic again in the common form, in both spellings of the topic
        for (i, f) in firsts.enumerated() {
            for (k, topic) in [f.topic, String(f.topic.dropFirst())].enumerated() {
                let ts = 2000 + 1000 * k
                jsonl += #"{"receivedAt":1,"topic":"\#(topic)","payload":"{\"ts\":\#(ts),\"counts\":{\"person\":\#(i)}}"}"# + "\n"
                sub += #"\#(topic) {"ts":\#(ts),"counts":{"person":\#(i)}}"# + "\n"
            }
        }
        let a = try CaptureTests.temporaryFile(jsonl)
        let b = try CaptureTests.temporaryFile(sub)
        defer {
            try? FileManager.default.removeItem(atPath: a)
            try? FileManager.default.removeItem(atPath: b)
        }
        let replay = Replay(policy: DwellPolicy(DwellParameters(minPeople: 1, dwell: .zero)))
        let x = try replay.run(path: a)
        let y = try replay.run(path: b)
        #expect(x.malformed.map(\.line) == [5])
        #expect(y.malformedCount == 0)
        #expect(x.counters == y.counters)
        #expect(x.zones == y.zones)
        #expect(x.zones == 5)
        #expect(x.events == y.events)
        #expect(x.counters.rejectedByReason == [.negativeCount: 1, .badTopic: 3, .missingEvent: 2])
        let decodedA = try DecodedCapture.read(path: a)
        let decodedB = try DecodedCapture.read(path: b)
        #expect(decodedA.messages == decodedB.messages)
        #expect(decodedA.unusable == decodedB.unusable + 1)
        #expect(Backtest.evaluate(decodedA, policy: replay.policy, keepEvents: true).eventList == x.events)
    }

    @Test("backtest evaluated zone by zone gives replay's events, out-of-order readings and both policies included")
    func backtestZoneByZone() throws {
        // 40 zones interleaved irregularly, some readings late, crowds coming and going
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var text = ""
        var ts = [Int64](repeating: 1_714_632_600_000, count: 40)
        for i in 0..<20_000 {
            let z = Int(next() % 40)
            ts[z] += Int64(next() % 3000)
            let late = next() % 50 == 0 ? Int64(next() % 5000) : 0
            let people = (i / 700 + z) % 3 == 0 ? Int(next() % 3) : 2 + Int(next() % 5)
            let topic = "/merakimv/Q2GV-ZONE-\(z % 4)/\(z)"
            if i % 2 == 0 {
                text += #"{"receivedAt":1,"topic":"\#(topic)","payload":"{\"ts\":\#(ts[z] - late),\"counts\":{\"person\":\#(people),\"vehicle\":\#((people * 3 + z) % 7)}}"}"# + "\n"
            } else {
                text += #"\#(topic) {"ts":\#(ts[z] - late),"counts":{"person":\#(people),"vehicle":\#((people * 3 + z) % 7)}}"# + "\n"
            }
        }
        let path = try CaptureTests.temporaryFile(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let decoded = try DecodedCapture.read(path: path)
        #expect(decoded.messages == 20_000)
        for p in [
            DwellParameters(minPeople: 3, dwell: .seconds(10), gap: .seconds(3)),
            DwellParameters(minPeople: 4, dwell: .seconds(30), gap: .seconds(10), cooldown: .seconds(20), stale: .seconds(8), repeatEvery: .seconds(15)),
        ] {
            let policy = DwellPolicy(p)
            let replayed = try Replay(policy: policy).run(path: path)
            #expect(replayed.counters.outOfOrder > 0)
            #expect(replayed.events.count > 10)
            let outcome = Backtest.evaluate(decoded, policy: policy, keepEvents: true)
            #expect(outcome.eventList == replayed.events)
            #expect(outcome.events == replayed.events.count)
            // with vehicles counted instead (the zone's own choice of count)
            let vehicles = ObjectTypeSelection(.vehicle)
            let v = try Replay(policy: policy, objectTypes: vehicles).run(path: path)
            #expect(Backtest.evaluate(decoded, policy: policy, objectTypes: vehicles, keepEvents: true).eventList == v.events)
        }
        let counting = MessageCountPolicy(MessageCountParameters(armPeople: 3, iterateCount: 5, triggerPeople: 4, timeoutCount: 3, pause: .seconds(5)))
        let replayed = try Replay(policy: counting).run(path: path)
        #expect(!replayed.events.isEmpty)
        #expect(Backtest.evaluate(decoded, policy: counting, keepEvents: true).eventList == replayed.events)
    }
}
