/// Why a message was rejected (SEMANTICS.md §1).
public enum RejectReason: String, Error, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// The topic is not `[/]merakimv/<serial>/<suffix>` (or `.../crossing/<boundaryId>`).
    case badTopic
    /// The payload is over ``MVSenseDecoder/maxPayloadBytes``.
    case payloadTooLarge
    /// The payload is not a JSON object.
    case notJSON
    /// `ts` is missing.
    case missingTimestamp
    /// `ts` is not a number, `counts` is not an object, or a count is not a whole number.
    case wrongType
    /// A count is negative.
    case negativeCount
    /// A line crossing without `event` (SEMANTICS.md §8).
    case missingEvent

    public var description: String {
        switch self {
        case .badTopic: "topic is not merakimv/<serial>/<zone>"
        case .payloadTooLarge: "payload over 64 KiB"
        case .notJSON: "payload is not a JSON object"
        case .missingTimestamp: "payload has no ts"
        case .wrongType: "payload field has the wrong type (ts must be a number, counts an object of whole numbers)"
        case .negativeCount: "payload has a negative count"
        case .missingEvent: "crossing payload has no event"
        }
    }
}

/// What a topic is, per MV Sense conventions.
public enum MVSenseTopic: Hashable, Sendable {
    /// A zone count topic: `merakimv/<serial>/<zone>` where zone is a decimal id (`0` = full frame).
    case zone(camera: String, zone: String)
    /// A line crossing topic: `merakimv/<serial>/crossing/<boundaryId>` (SEMANTICS.md §8).
    case crossing(camera: String, line: String)
    /// Another MV Sense topic (`raw_detections`, `light`, `audio_analytics`, ...): not a zone count.
    case other(camera: String, suffix: String)
    /// Not an MV Sense topic.
    case invalid
}

/// The outcome of decoding one message.
public enum DecodeResult: Hashable, Sendable {
    case observation(Observation)
    /// A valid MV Sense message that is not a zone count; skipped and counted.
    case nonCount
    case rejected(RejectReason)
}

/// Decodes MV Sense zone-count messages: topic and payload to an ``Observation``.
///
/// Topics are `/merakimv/<serial>/<zone>`, with or without the leading slash. Payloads are
/// `{"ts": <epoch ms>, "counts": {"person": n, "vehicle": n}}`; a missing count key means 0, a
/// missing `counts` object means no one was counted. Rejected: not JSON (or not an object),
/// missing `ts`, `ts` not a number, `counts` not an object, a count that is not a whole number,
/// a negative count, a bad topic, a payload over 64 KiB. Other keys are ignored. Duplicate keys:
/// the last one wins, as with most JSON parsers.
public enum MVSenseDecoder {
    /// Payloads above this size are rejected.
    public static let maxPayloadBytes = 64 * 1024

    /// Classifies a topic.
    public static func topic(_ topic: String) -> MVSenseTopic {
        var t = topic
        return t.withUTF8 { buf in
            let raw = UnsafeRawBufferPointer(buf)
            switch classifyTopic(raw) {
            case .zone(let s, let z):
                return .zone(camera: string(raw, s), zone: string(raw, z))
            case .other(let s, let x):
                return .other(camera: string(raw, s), suffix: string(raw, x))
            case .crossing(let s, let l):
                return .crossing(camera: string(raw, s), line: string(raw, l))
            case .invalid:
                return .invalid
            }
        }
    }

    /// Decodes one message.
    public static func decode(_ message: RawMessage) -> DecodeResult {
        var topic = message.topic
        return topic.withUTF8 { tbuf in
            let traw = UnsafeRawBufferPointer(tbuf)
            switch classifyTopic(traw) {
            case .invalid: return .rejected(.badTopic)
            case .other, .crossing: return .nonCount
            case .zone(let s, let z):
                return message.payload.withUnsafeBytes { praw in
                    switch decodeCounts(praw) {
                    case .failure(let r): return .rejected(r)
                    case .success(let c):
                        return .observation(
                            Observation(
                                camera: string(traw, s), zone: string(traw, z), ts: c.ts, people: c.people,
                                vehicles: c.vehicles))
                    }
                }
            }
        }
    }

    // MARK: hot path (bytes)

    /// Byte ranges of a classified topic.
    @usableFromInline
    enum TopicClass {
        case zone(serial: Range<Int>, zone: Range<Int>)
        case other(serial: Range<Int>, suffix: Range<Int>)
        case crossing(serial: Range<Int>, line: Range<Int>)
        case invalid
    }

    /// Classifies topic bytes without allocating.
    @usableFromInline
    static func classifyTopic(_ t: UnsafeRawBufferPointer) -> TopicClass {
        let n = t.count
        var i = 0
        if n > 0 && t[0] == 0x2F { i = 1 }
        let prefix: StaticString = "merakimv/"
        let pn = prefix.utf8CodeUnitCount
        guard n - i > pn else { return .invalid }
        for k in 0..<pn where t[i + k] != prefix.utf8Start[k] { return .invalid }
        i += pn
        let serialStart = i
        while i < n && t[i] != 0x2F {
            let c = t[i]
            if c == 0x2B || c == 0x23 { return .invalid }  // wildcards are not topic names
            i += 1
        }
        guard i > serialStart, i < n else { return .invalid }
        let serial = serialStart..<i
        i += 1
        let suffixStart = i
        guard suffixStart < n else { return .invalid }
        let crossing: StaticString = "crossing/"
        let cn = crossing.utf8CodeUnitCount
        if n - i > cn, (0..<cn).allSatisfy({ t[i + $0] == crossing.utf8Start[$0] }) {
            i += cn
            let lineStart = i
            while i < n {
                let c = t[i]
                if c == 0x2F || c == 0x2B || c == 0x23 || c == 0 { return .invalid }
                i += 1
            }
            return .crossing(serial: serial, line: lineStart..<n)
        }
        var digits = true
        while i < n {
            let c = t[i]
            if c == 0x2F || c == 0x2B || c == 0x23 || c == 0 { return .invalid }
            if c < 0x30 || c > 0x39 { digits = false }
            i += 1
        }
        return digits ? .zone(serial: serial, zone: suffixStart..<n) : .other(serial: serial, suffix: suffixStart..<n)
    }

    /// The numbers of a zone count payload.
    @usableFromInline
    struct Counts {
        @usableFromInline var ts: Int64
        @usableFromInline var people: Int
        @usableFromInline var vehicles: Int
        @inlinable init(ts: Int64, people: Int, vehicles: Int) {
            self.ts = ts
            self.people = people
            self.vehicles = vehicles
        }
    }

    /// Decodes a zone count payload without allocating (on the common path).
    @usableFromInline
    static func decodeCounts(_ payload: UnsafeRawBufferPointer) -> Result<Counts, RejectReason> {
        decodeCounts(payload, PlainJSONQuotes.self)
    }

    /// ``decodeCounts(_:)`` over the content of a JSON string holding the payload (quotes written
    /// `\"`), read in place. Succeeds exactly when the unescaped payload would; a failure may be
    /// the form's (another escape): unescape then and decode as plain JSON for the real reason.
    @usableFromInline
    static func decodeCountsInPlace(_ escaped: UnsafeRawBufferPointer) -> Result<Counts, RejectReason> {
        decodeCounts(escaped, EscapedJSONQuotes.self)
    }

    @usableFromInline
    static func decodeCounts<Q: JSONQuoting>(_ payload: UnsafeRawBufferPointer, _: Q.Type) -> Result<Counts, RejectReason> {
        // (escaped text over the limit may still unescape to a payload within it: the caller's
        // plain decode after unescaping decides)
        guard payload.count <= maxPayloadBytes else { return .failure(.payloadTooLarge) }
        guard let base = payload.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return .failure(.notJSON) }
        var s = JSONScannerOf<Q>(base: base, count: payload.count)
        if let counts = commonForm(&s) { return .success(counts) }
        s.pos = 0
        var ts: Int64?
        var tsWrong = false
        var people = 0
        var vehicles = 0
        var countsWrong = false
        var negative = false
        guard var more = s.openObject() else { return .failure(.notJSON) }
        while more {
            guard let key = s.memberKey() else { return .failure(.notJSON) }
            if s.keyEquals(key, "ts") {
                let c = s.peek()
                if c == 0x2D || (c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false) {
                    guard let num = s.scanNumber() else { return .failure(.notJSON) }
                    switch num {
                    case .integer(let v):
                        ts = v
                        tsWrong = false
                    case .double(let d):
                        if d.isFinite, d.rounded(.down) == d, abs(d) < 9.0e18 {
                            ts = Int64(d)
                            tsWrong = false
                        } else {
                            tsWrong = true
                        }
                    }
                } else {
                    guard s.skipValue() else { return .failure(.notJSON) }
                    tsWrong = true
                }
            } else if s.keyEquals(key, "counts") {
                people = 0
                vehicles = 0
                countsWrong = false
                negative = false
                if s.peek() == 0x7B {
                    var inner = s.openObject() ?? false
                    while inner {
                        guard let ckey = s.memberKey() else { return .failure(.notJSON) }
                        let isPerson = s.keyEquals(ckey, "person")
                        let isVehicle = !isPerson && s.keyEquals(ckey, "vehicle")
                        if isPerson || isVehicle {
                            var value: Int?
                            let c = s.peek()
                            if c == 0x2D || (c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false) {
                                guard let num = s.scanNumber() else { return .failure(.notJSON) }
                                switch num {
                                case .integer(let v): value = Int(v)
                                case .double(let d):
                                    if d.isFinite, d.rounded(.down) == d, abs(d) < 1.0e15 { value = Int(d) }
                                }
                            } else {
                                guard s.skipValue(depth: 2) else { return .failure(.notJSON) }
                            }
                            if let v = value {
                                if v < 0 { negative = true }
                                if isPerson { people = v } else { vehicles = v }
                            } else {
                                countsWrong = true
                            }
                        } else {
                            guard s.skipValue(depth: 2) else { return .failure(.notJSON) }
                        }
                        guard s.endMember(&inner) else { return .failure(.notJSON) }
                    }
                } else {
                    guard s.skipValue(depth: 1) else { return .failure(.notJSON) }
                    countsWrong = true
                }
            } else {
                guard s.skipValue(depth: 1) else { return .failure(.notJSON) }
            }
            guard s.endMember(&more) else { return .failure(.notJSON) }
        }
        guard s.finished() else { return .failure(.notJSON) }
        if tsWrong || countsWrong { return .failure(.wrongType) }
        guard let t = ts else { return .failure(.missingTimestamp) }
        if negative { return .failure(.negativeCount) }
        return .success(Counts(ts: t, people: people, vehicles: vehicles))
    }

    /// The form MV Sense publishes, `{"ts": N, "counts": {"person": N, "vehicle": N}}` (in this
    /// order, any spacing, `vehicle` optional, plain non-negative integers), read without the
    /// general member walk; `nil` for anything else, which the walk then reads from the start.
    /// What it accepts the walk accepts with the same numbers.
    @inlinable
    static func commonForm<Q: JSONQuoting>(_ s: inout JSONScannerOf<Q>) -> Counts? {
        guard s.openObject() == true, s.scanExactKey("ts"), let ts = s.scanDigits() else { return nil }
        s.skipWhitespace()
        guard s.consume(0x2C), s.scanExactKey("counts"), s.openObject() == true, s.scanExactKey("person"),
            let people = s.scanDigits()
        else { return nil }
        var vehicles: Int64 = 0
        s.skipWhitespace()
        if s.consume(0x2C) {
            guard s.scanExactKey("vehicle"), let v = s.scanDigits() else { return nil }
            vehicles = v
            s.skipWhitespace()
        }
        guard s.consume(0x7D) else { return nil }
        s.skipWhitespace()
        guard s.consume(0x7D), s.finished() else { return nil }
        return Counts(ts: ts, people: Int(people), vehicles: Int(vehicles))
    }

    /// What a line crossing says (SEMANTICS.md §8).
    @usableFromInline
    struct Crossing {
        @usableFromInline enum Direction { case into, outOf, other }
        /// Epoch milliseconds (seconds below 10^11 already multiplied).
        @usableFromInline var ts: Int64
        @usableFromInline var direction: Direction
        /// nil: a type other than person or vehicle.
        @usableFromInline var type: ObjectType?
        /// The byte range of the `label` string in the payload, when it has one without escapes.
        @usableFromInline var label: Range<Int>?
    }

    /// Decodes a line crossing payload: `{"ts": …, "event": "crossing_in"|"crossing_out"|…,
    /// "type": "person"|"vehicle", "label": …, "object_id": …}`. Rejected: not a JSON object, no
    /// `ts` or no `event`, a `ts` that is not a non-negative integer, an `event` that is not a
    /// string, over 64 KiB.
    @usableFromInline
    static func decodeCrossing(_ payload: UnsafeRawBufferPointer) -> Result<Crossing, RejectReason> {
        guard payload.count <= maxPayloadBytes else { return .failure(.payloadTooLarge) }
        guard let base = payload.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return .failure(.notJSON) }
        var s = JSONScanner(base: base, count: payload.count)
        var ts: Int64?
        var tsWrong = false
        var direction: Crossing.Direction?
        var eventWrong = false
        var type: ObjectType? = .person
        var label: Range<Int>?
        guard var more = s.openObject() else { return .failure(.notJSON) }
        while more {
            guard let key = s.memberKey() else { return .failure(.notJSON) }
            if s.keyEquals(key, "ts") {
                let c = s.peek()
                tsWrong = true
                if c == 0x2D || (c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false) {
                    guard let num = s.scanNumber() else { return .failure(.notJSON) }
                    switch num {
                    case .integer(let v):
                        if v >= 0 {
                            ts = v
                            tsWrong = false
                        }
                    case .double(let d):
                        if d.isFinite, d.rounded(.down) == d, d >= 0, d < 9.0e15 {
                            ts = Int64(d)
                            tsWrong = false
                        }
                    }
                } else {
                    guard s.skipValue(depth: 1) else { return .failure(.notJSON) }
                }
                if tsWrong { ts = nil }
            } else if s.keyEquals(key, "event") {
                if s.peek() == 0x22 {
                    guard let v = s.scanString() else { return .failure(.notJSON) }
                    direction = s.keyEquals(v, "crossing_in") ? .into : s.keyEquals(v, "crossing_out") ? .outOf : .other
                    eventWrong = false
                } else {
                    guard s.skipValue(depth: 1) else { return .failure(.notJSON) }
                    direction = nil
                    eventWrong = true
                }
            } else if s.keyEquals(key, "type") {
                if s.peek() == 0x22 {
                    guard let v = s.scanString() else { return .failure(.notJSON) }
                    type = s.keyEquals(v, "person") ? .person : s.keyEquals(v, "vehicle") ? .vehicle : nil
                } else {
                    guard s.skipValue(depth: 1) else { return .failure(.notJSON) }
                    type = nil
                }
            } else if s.keyEquals(key, "label"), s.peek() == 0x22 {
                guard let v = s.scanString() else { return .failure(.notJSON) }
                label = v.escaped ? nil : v.start..<v.end
            } else {
                guard s.skipValue(depth: 1) else { return .failure(.notJSON) }
            }
            guard s.endMember(&more) else { return .failure(.notJSON) }
        }
        guard s.finished() else { return .failure(.notJSON) }
        if tsWrong || eventWrong { return .failure(.wrongType) }
        guard let t = ts else { return .failure(.missingTimestamp) }
        guard let direction else { return .failure(.missingEvent) }
        return .success(Crossing(ts: t < 100_000_000_000 ? t * 1000 : t, direction: direction, type: type, label: label))
    }

    @usableFromInline
    static func string(_ raw: UnsafeRawBufferPointer, _ r: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: raw[r]), as: UTF8.self)
    }
}
