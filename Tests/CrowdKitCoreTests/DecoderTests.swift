@testable import CrowdKitCore
import Foundation
import Testing

@Suite("MV Sense decoder (SEMANTICS.md §1)")
struct DecoderTests {
    static func decode(_ topic: String, _ payload: String) -> DecodeResult {
        MVSenseDecoder.decode(RawMessage(topic: topic, payload: payload))
    }

    @Test("zone count topics with and without the leading slash")
    func topics() {
        #expect(MVSenseDecoder.topic("/merakimv/Q2GV-ABCD-1234/0") == .zone(camera: "Q2GV-ABCD-1234", zone: "0"))
        #expect(MVSenseDecoder.topic("merakimv/Q2GV-ABCD-1234/584342051651321858") == .zone(camera: "Q2GV-ABCD-1234", zone: "584342051651321858"))
    }

    @Test("non-count suffixes are recognised, not errors", arguments: ["raw_detections", "light", "audio_analytics", "audio_detections", "net.meraki.detector", "something_new"])
    func nonCount(suffix: String) {
        #expect(MVSenseDecoder.topic("/merakimv/Q2GV-ABCD-1234/\(suffix)") == .other(camera: "Q2GV-ABCD-1234", suffix: suffix))
        #expect(Self.decode("/merakimv/Q2GV-ABCD-1234/\(suffix)", #"{"lux":212.5}"#) == .nonCount)
    }

    @Test("bad topics are rejected", arguments: ["", "/", "/merakimv", "/merakimv/", "/merakimv/Q2", "/merakimv/Q2/", "/merakimv//0", "/other/Q2/0", "/merakimv/Q2/0/extra", "merakimv/+/0", "/merakimv/#", "//merakimv/Q2/0", "/MERAKIMV/Q2/0"])
    func badTopics(topic: String) {
        #expect(MVSenseDecoder.topic(topic) == .invalid)
        #expect(Self.decode(topic, #"{"ts":1,"counts":{"person":1}}"#) == .rejected(.badTopic))
    }

    @Test("a full payload decodes to an observation")
    func fullPayload() {
        let r = Self.decode("/merakimv/Q2GV-ABCD-1234/0", #"{"ts": 1714632600123, "counts": {"person": 3, "vehicle": 2}}"#)
        #expect(r == .observation(Observation(camera: "Q2GV-ABCD-1234", zone: "0", ts: 1714632600123, people: 3, vehicles: 2)))
    }

    @Test("missing count keys mean 0; a missing counts object means nobody counted")
    func missingCounts() {
        let t = "/merakimv/C/0"
        #expect(Self.decode(t, #"{"ts":5,"counts":{"vehicle":2}}"#) == .observation(Observation(camera: "C", zone: "0", ts: 5, people: 0, vehicles: 2)))
        #expect(Self.decode(t, #"{"ts":5,"counts":{"person":4}}"#) == .observation(Observation(camera: "C", zone: "0", ts: 5, people: 4, vehicles: 0)))
        #expect(Self.decode(t, #"{"ts":5,"counts":{}}"#) == .observation(Observation(camera: "C", zone: "0", ts: 5, people: 0)))
        #expect(Self.decode(t, #"{"ts":5}"#) == .observation(Observation(camera: "C", zone: "0", ts: 5, people: 0)))
    }

    @Test("other keys and nested values are ignored after validation")
    func extraKeys() {
        let r = Self.decode("/merakimv/C/1", #"{"zone":{"a":[1,2,{"b":null}],"c":"x\"y"},"ts":7,"counts":{"person":1,"bike":3},"ok":true}"#)
        #expect(r == .observation(Observation(camera: "C", zone: "1", ts: 7, people: 1)))
    }

    @Test("escaped keys are decoded; duplicate keys: the last wins")
    func escapedAndDuplicateKeys() {
        #expect(Self.decode("/merakimv/C/0", #"{"\u0074s":9,"counts":{"per\u0073on":2}}"#) == .observation(Observation(camera: "C", zone: "0", ts: 9, people: 2)))
        #expect(Self.decode("/merakimv/C/0", #"{"ts":1,"ts":2,"counts":{"person":1,"person":3}}"#) == .observation(Observation(camera: "C", zone: "0", ts: 2, people: 3)))
    }

    @Test("whole-number floats are accepted")
    func floats() {
        #expect(Self.decode("/merakimv/C/0", #"{"ts":1.714632600123e12,"counts":{"person":3.0}}"#) == .observation(Observation(camera: "C", zone: "0", ts: 1714632600123, people: 3)))
    }

    @Test("rejections", arguments: [
        (#"not json"#, RejectReason.notJSON),
        (#""#, .notJSON),
        (#"[1,2]"#, .notJSON),
        (#"{"ts":1,"counts":{"person":1}"#, .notJSON),
        (#"{"ts":1,"counts":{"person":1}} trailing"#, .notJSON),
        (#"{"ts":1,,"counts":{}}"#, .notJSON),
        (#"{"ts":01}"#, .notJSON),
        (#"{"counts":{"person":1}}"#, .missingTimestamp),
        (#"{"ts":"1714632600123","counts":{"person":1}}"#, .wrongType),
        (#"{"ts":null,"counts":{"person":1}}"#, .wrongType),
        (#"{"ts":true,"counts":{"person":1}}"#, .wrongType),
        (#"{"ts":1,"counts":[1]}"#, .wrongType),
        (#"{"ts":1,"counts":{"person":"3"}}"#, .wrongType),
        (#"{"ts":1,"counts":{"person":2.5}}"#, .wrongType),
        (#"{"ts":1,"counts":{"person":null}}"#, .wrongType),
        (#"{"ts":1,"counts":{"person":-1}}"#, .negativeCount),
        (#"{"ts":1,"counts":{"vehicle":-2}}"#, .negativeCount),
    ])
    func rejections(payload: String, reason: RejectReason) {
        #expect(Self.decode("/merakimv/C/0", payload) == .rejected(reason))
    }

    @Test("payloads over 64 KiB are rejected")
    func tooLarge() {
        let pad = String(repeating: " ", count: 64 * 1024)
        #expect(Self.decode("/merakimv/C/0", #"{"ts":1,"counts":{"person":1}}"# + pad) == .rejected(.payloadTooLarge))
        let justFits = String(repeating: " ", count: 64 * 1024 - 30)
        #expect(Self.decode("/merakimv/C/0", #"{"ts":1,"counts":{"person":1}}"# + justFits) == .observation(Observation(camera: "C", zone: "0", ts: 1, people: 1)))
    }

    @Test("deep nesting is rejected, not a crash")
    func deepNesting() {
        let deep = String(repeating: "[", count: 10_000)
        #expect(Self.decode("/merakimv/C/0", #"{"x":"# + deep + "}") == .rejected(.notJSON))
    }
}

@Suite("MV Sense decoder: the common form read by literal keys")
struct CommonFormTests {
    /// Payloads near the form MV Sense publishes, with what the general reading gives for each.
    static let cases: [(String, [Int64]?, RejectReason?)] = [
        (#"{"ts":1714632600123,"counts":{"person":3,"vehicle":1}}"#, [1714632600123, 3, 1], nil),
        (#"{ "ts": 1714632600123, "counts": { "person": 3, "vehicle": 1 } }"#, [1714632600123, 3, 1], nil),
        (#"{"ts":1714632600123,"counts":{"person":3}}"#, [1714632600123, 3, 0], nil),
        (#"{"ts":1714632600123,"counts":{"vehicle":2,"person":3}}"#, [1714632600123, 3, 2], nil),
        (#"{"counts":{"person":3},"ts":1714632600123}"#, [1714632600123, 3, 0], nil),
        (#"{"ts":1714632600123,"counts":{"person":3},"counts":{"person":4}}"#, [1714632600123, 4, 0], nil),
        (#"{"ts":1714632600123,"ts":5,"counts":{"person":3}}"#, [5, 3, 0], nil),
        (#"{"ts":1714632600123,"counts":{"person":3,"vehicle":1,"bike":9}}"#, [1714632600123, 3, 1], nil),
        (#"{"ts":1714632600123,"counts":{"person":3,"vehicle":1},"x":[1,{"y":null}]}"#, [1714632600123, 3, 1], nil),
        (#"{"ts":0,"counts":{"person":0,"vehicle":0}}"#, [0, 0, 0], nil),
        (#"{"ts":-5,"counts":{"person":3}}"#, [-5, 3, 0], nil),
        (#"{"ts":1714632600123.0,"counts":{"person":3.0,"vehicle":1e0}}"#, [1714632600123, 3, 1], nil),
        (#"{"ts":123456789012345678901,"counts":{"person":3}}"#, nil, .wrongType),
        (#"{"ts":1714632600123,"counts":{"person":03}}"#, nil, .notJSON),
        (#"{"ts":01,"counts":{"person":3}}"#, nil, .notJSON),
        (#"{"ts":1714632600123,"counts":{"person":-3}}"#, nil, .negativeCount),
        (#"{"ts":1714632600123,"counts":{"person":"3"}}"#, nil, .wrongType),
        (#"{"ts":1714632600123,"counts":{"person":3,}}"#, nil, .notJSON),
        (#"{"ts":1714632600123,"counts":{"person":3}} x"#, nil, .notJSON),
        (#"{"ts":1714632600123,"counts":{"person":3}"#, nil, .notJSON),
        (#"{"ts":1714632600123,"counts":{"person":3,"vehicle":}}"#, nil, .notJSON),
        (#"{"ts":1714632600123,"counts":[3]}"#, nil, .wrongType),
        (#"{"t\u0073":1714632600123,"counts":{"person":3}}"#, [1714632600123, 3, 0], nil),
    ]

    static func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.fragmentsAllowed])
        let text = String(decoding: data, as: UTF8.self)  // ["..."]
        return String(text.dropFirst(2).dropLast(2))
    }

    static func outcome(_ r: Result<MVSenseDecoder.Counts, RejectReason>) -> ([Int64]?, RejectReason?) {
        switch r {
        case .success(let c): ([c.ts, Int64(c.people), Int64(c.vehicles)], nil)
        case .failure(let e): (nil, e)
        }
    }

    @Test("near the common form, every payload decodes as the general reading says, plain and in place")
    func agreesWithGeneralReading() {
        for (payload, numbers, reason) in Self.cases {
            var p = Array(payload.utf8)
            let plain = p.withUnsafeMutableBytes { Self.outcome(MVSenseDecoder.decodeCounts(UnsafeRawBufferPointer($0))) }
            #expect(plain.0 == numbers && plain.1 == reason, "\(payload)")
            // in place: the same numbers, or no answer (the caller then unescapes and reads it plain)
            var e = Array(Self.jsonString(payload).utf8)
            let inPlace = e.withUnsafeMutableBytes { Self.outcome(MVSenseDecoder.decodeCountsInPlace(UnsafeRawBufferPointer($0))) }
            if let n = inPlace.0 { #expect(n == numbers, "\(payload)") }
            if numbers == nil { #expect(inPlace.0 == nil, "\(payload)") }
        }
    }
}
