/// Parses capture lines (SEMANTICS.md §5): JSON Lines as written by `crowd-notifier record`
/// (`{"receivedAt": ms, "topic": "...", "payload": "<raw payload as a string>"}`) and
/// `mosquitto_sub -v` output (`<topic> <payload>`), mixed freely. Empty lines and lines starting
/// with `#` are skipped.
///
/// Allocation-free on the common path: escaped strings are decoded into reused scratch buffers.
public struct CaptureParser {
    /// What one line held.
    public enum Line<R> {
        /// Empty or a `#` comment.
        case skipped
        /// Not a capture line; the reason in words.
        case malformed(String)
        /// A message; `R` is what the body returned for it.
        case message(R)
    }

    @usableFromInline var topicScratch: [UInt8] = []
    @usableFromInline var payloadScratch: [UInt8] = []

    public init() {
        topicScratch.reserveCapacity(256)
        payloadScratch.reserveCapacity(4096)
    }

    /// Parses one line (without its newline) and calls `body` with the topic, the raw payload and
    /// `receivedAt` (JSON Lines only) when it holds a message.
    @inlinable
    public mutating func parse<R>(
        line: UnsafeRawBufferPointer,
        _ body: (_ topic: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer, _ receivedAt: Int64?) -> R
    ) -> Line<R> {
        parse(line: line, inPlace: false) { topic, payload, _, receivedAt in body(topic, payload, receivedAt) }
    }

    /// ``parse(line:_:)``, except that with `inPlace` a JSON Lines payload string with escapes is
    /// passed as it stands in the line (`payloadEscaped` true): the content of a JSON string, for
    /// ``MVSenseDecoder/decodeCountsInPlace(_:)``, instead of being unescaped first.
    @inlinable
    mutating func parse<R>(
        line: UnsafeRawBufferPointer, inPlace: Bool,
        _ body: (_ topic: UnsafeRawBufferPointer, _ payload: UnsafeRawBufferPointer, _ payloadEscaped: Bool, _ receivedAt: Int64?) -> R
    ) -> Line<R> {
        guard let base = line.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return .skipped }
        let end = Self.endWithoutTrailingSpace(base, line.count)
        var start = 0
        while start < end && (base[start] == 0x20 || base[start] == 0x09) { start += 1 }
        if start == end || base[start] == 0x23 { return .skipped }
        if base[start] == 0x7B {
            return parseJSONLine(base: base + start, count: end - start, inPlace: inPlace, body)
        }
        // mosquitto_sub -v: topic, one space, payload
        var i = start
        while i < end && base[i] != 0x20 { i += 1 }
        guard i < end else { return .malformed("no payload after the topic (expected \"<topic> <payload>\" or a JSON object)") }
        let topic = UnsafeRawBufferPointer(start: base + start, count: i - start)
        let payload = UnsafeRawBufferPointer(start: base + i + 1, count: end - i - 1)
        return .message(body(topic, payload, false, nil))
    }

    @usableFromInline
    mutating func parseJSONLine<R>(
        base: UnsafePointer<UInt8>, count: Int, inPlace: Bool,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, Bool, Int64?) -> R
    ) -> Line<R> {
        var s = JSONScanner(base: base, count: count)
        var topic: (start: Int, end: Int, escaped: Bool)?
        var payload: (start: Int, end: Int, escaped: Bool)?
        var payloadRaw: Range<Int>?  // payload given as a JSON value rather than a string
        var receivedAt: Int64?
        // The exact form `record` writes, `{"receivedAt":N,"topic":"…","payload":"…"}`, read
        // without the general object walk; anything else (spacing, order, other keys) starts over
        // below. The strings are validated the same way either way.
        if let line = Self.recordForm(&s) {
            topic = line.topic
            payload = line.payload
            receivedAt = line.receivedAt
        } else {
            s.pos = 0
            if let error = Self.parseObject(&s, topic: &topic, payload: &payload, payloadRaw: &payloadRaw, receivedAt: &receivedAt) {
                return .malformed(error)
            }
        }
        guard let t = topic else { return .malformed("missing \"topic\"") }
        guard payload != nil || payloadRaw != nil else { return .malformed("missing \"payload\"") }

        let topicBuf: UnsafeRawBufferPointer
        var topicLength = 0
        var payloadLength = 0
        if t.escaped {
            guard let n = JSONScanner.unescape(base: base, from: t.start, to: t.end, into: &topicScratch) else {
                return .malformed("invalid escape in \"topic\"")
            }
            topicLength = n
            topicBuf = UnsafeRawBufferPointer(start: nil, count: 0)  // replaced below
        } else {
            topicBuf = UnsafeRawBufferPointer(start: base + t.start, count: t.end - t.start)
        }
        var payloadBuf: UnsafeRawBufferPointer
        if let r = payloadRaw {
            payloadBuf = UnsafeRawBufferPointer(start: base + r.lowerBound, count: r.count)
        } else {
            let p = payload!
            if p.escaped && inPlace && !t.escaped {
                return .message(body(topicBuf, UnsafeRawBufferPointer(start: base + p.start, count: p.end - p.start), true, receivedAt))
            }
            if p.escaped {
                guard let n = JSONScanner.unescape(base: base, from: p.start, to: p.end, into: &payloadScratch) else {
                    return .malformed("invalid escape in \"payload\"")
                }
                payloadLength = n
                payloadBuf = UnsafeRawBufferPointer(start: nil, count: 0)
            } else {
                payloadBuf = UnsafeRawBufferPointer(start: base + p.start, count: p.end - p.start)
            }
        }
        let topicEscaped = t.escaped
        let payloadEscaped = payloadRaw == nil && payload!.escaped
        return topicScratch.withUnsafeBytes { ts in
            payloadScratch.withUnsafeBytes { ps in
                if payloadEscaped { payloadBuf = UnsafeRawBufferPointer(rebasing: ps[0..<payloadLength]) }
                return .message(body(topicEscaped ? UnsafeRawBufferPointer(rebasing: ts[0..<topicLength]) : topicBuf, payloadBuf, false, receivedAt))
            }
        }
    }

    /// The general walk of a capture line's JSON object; the reason when it is not a capture line.
    @usableFromInline
    static func parseObject(
        _ s: inout JSONScanner, topic: inout (start: Int, end: Int, escaped: Bool)?, payload: inout (start: Int, end: Int, escaped: Bool)?,
        payloadRaw: inout Range<Int>?, receivedAt: inout Int64?
    ) -> String? {
        guard s.consume(0x7B) else { return "not a JSON object" }
        s.skipWhitespace()
        if !s.consume(0x7D) {
            while true {
                s.skipWhitespace()
                guard let key = s.scanString() else { return "invalid JSON" }
                s.skipWhitespace()
                guard s.consume(0x3A) else { return "invalid JSON" }
                s.skipWhitespace()
                if s.keyEquals(key, "topic") {
                    guard s.peek() == 0x22, let v = s.scanString() else { return "\"topic\" is not a string" }
                    topic = v
                } else if s.keyEquals(key, "payload") {
                    if s.peek() == 0x22 {
                        guard let v = s.scanString() else { return "invalid JSON" }
                        payload = v
                        payloadRaw = nil
                    } else {
                        let from = s.pos
                        guard s.skipValue(depth: 1) else { return "invalid JSON" }
                        payloadRaw = from..<s.pos
                        payload = nil
                    }
                } else if s.keyEquals(key, "receivedAt") {
                    if case .integer(let v)? = s.scanNumber() {
                        receivedAt = v
                    } else {
                        return "\"receivedAt\" is not an integer (epoch ms)"
                    }
                } else {
                    guard s.skipValue(depth: 1) else { return "invalid JSON" }
                }
                s.skipWhitespace()
                if s.consume(0x2C) { continue }
                guard s.consume(0x7D) else { return "invalid JSON" }
                break
            }
        }
        s.skipWhitespace()
        guard s.atEnd else { return "text after the JSON object" }
        return nil
    }

    /// `{"receivedAt":N,"topic":"…","payload":"…"}` exactly (strings validated as usual), or nil.
    @inlinable
    static func recordForm(_ s: inout JSONScanner) -> (topic: (start: Int, end: Int, escaped: Bool), payload: (start: Int, end: Int, escaped: Bool), receivedAt: Int64)? {
        guard s.scanLiteral("{\"receivedAt\":"), case .integer(let r)? = s.scanNumber() else { return nil }
        guard s.scanLiteral(",\"topic\":"), s.peek() == 0x22, let t = s.scanString() else { return nil }
        guard s.scanLiteral(",\"payload\":"), s.peek() == 0x22, let p = s.scanString() else { return nil }
        guard s.consume(0x7D), s.atEnd else { return nil }
        return (t, p, r)
    }

    /// A zone count in the exact form `record` writes, with the payload in the exact form MV
    /// Sense publishes and no spacing:
    /// `{"receivedAt":N,"topic":"…","payload":"{\"ts\":N,\"counts\":{\"person\":N,\"vehicle\":N}}"}`
    /// (`vehicle` optional), read in one pass with whole-word comparisons: the topic and the counts.
    /// `nil` for anything else, which ``recordParts(_:)`` and ``MVSenseDecoder`` then read: what
    /// this accepts they accept with the same topic and numbers (numbers are plain digits without a
    /// leading zero, at most 18; the topic has no escape or control character).
    @inlinable
    static func recordCounts(_ line: UnsafeRawBufferPointer) -> (topic: UnsafeRawBufferPointer, counts: MVSenseDecoder.Counts)? {
        guard let base = line.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let end = Self.endWithoutTrailingSpace(base, line.count)
        guard end >= 14, Self.literal(base, "{\"receivedAt\":") else { return nil }
        var pos = 14
        guard Self.digits(base, &pos, end: end) != nil, end - pos >= 10, Self.literal(base + pos, ",\"topic\":\"") else { return nil }
        pos += 10
        let topicStart = pos
        JSONScanner.skipPlainBytes(base, &pos, end: end)
        guard pos < end, base[pos] == 0x22 else { return nil }
        let topicEnd = pos
        // `","payload":"{\"ts\":` then the payload's ts
        guard end - pos >= 21, Self.literal(base + pos, "\",\"payload\":\"{\\\"ts\\\":") else { return nil }
        pos += 21
        guard let ts = Self.digits(base, &pos, end: end), end - pos >= 24, Self.literal(base + pos, ",\\\"counts\\\":{\\\"person\\\":")
        else { return nil }
        pos += 24
        guard let people = Self.digits(base, &pos, end: end) else { return nil }
        var vehicles: Int64 = 0
        if pos < end && base[pos] == 0x2C {
            guard end - pos >= 13, Self.literal(base + pos, ",\\\"vehicle\\\":") else { return nil }
            pos += 13
            guard let v = Self.digits(base, &pos, end: end) else { return nil }
            vehicles = v
        }
        // `}}"}` and the end of the line
        guard end - pos == 4, base[pos] == 0x7D, base[pos + 1] == 0x7D, base[pos + 2] == 0x22, base[pos + 3] == 0x7D else { return nil }
        return (
            UnsafeRawBufferPointer(start: base + topicStart, count: topicEnd - topicStart),
            MVSenseDecoder.Counts(ts: ts, people: Int(people), vehicles: Int(vehicles))
        )
    }

    /// Whether the bytes at `p` are `text` (at least 8 bytes), compared eight bytes at a time (the
    /// last word overlapping the one before it).
    @inlinable @inline(__always)
    static func literal(_ p: UnsafePointer<UInt8>, _ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        let a = UnsafeRawPointer(p)
        let b = UnsafeRawPointer(text.utf8Start)
        var i = 0
        while i + 8 <= n {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        if i < n && a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) != b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) {
            return false
        }
        return true
    }

    /// Plain decimal digits at `pos` (no leading zero, at most 18) followed by `,` or `}`, as a
    /// value, `pos` left after them; `nil` for anything else.
    @inlinable @inline(__always)
    static func digits(_ base: UnsafePointer<UInt8>, _ pos: inout Int, end: Int) -> Int64? {
        guard let value = JSONScanner.plainDigits(base, &pos, end: end), pos < end, base[pos] == 0x2C || base[pos] == 0x7D else { return nil }
        return value
    }

    /// The end of a line of `count` bytes without its trailing `\r`, spaces and tabs.
    @inlinable @inline(__always)
    static func endWithoutTrailingSpace(_ base: UnsafePointer<UInt8>, _ count: Int) -> Int {
        var end = count
        while end > 0 && (base[end - 1] == 0x0D || base[end - 1] == 0x20 || base[end - 1] == 0x09) { end -= 1 }
        return end
    }

    /// The raw parts of a line in the exact form `record` writes,
    /// `{"receivedAt":N,"topic":"…","payload":"…"}`, found without validating the payload string:
    /// for a reader that validates it itself (``DetectionEngine`` reads it in place and succeeds
    /// only on well-formed content) and parses the line the general way when that fails. The
    /// topic has no escape or control character; `nil` for anything else.
    @inlinable
    public static func recordParts(_ line: UnsafeRawBufferPointer) -> (topic: UnsafeRawBufferPointer, escapedPayload: UnsafeRawBufferPointer, receivedAt: Int64)? {
        guard let base = line.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let end = Self.endWithoutTrailingSpace(base, line.count)
        var s = JSONScanner(base: base, count: end)
        guard s.scanLiteral("{\"receivedAt\":"), case .integer(let r)? = s.scanNumber() else { return nil }
        guard s.scanLiteral(",\"topic\":\"") else { return nil }
        let topicStart = s.pos
        JSONScanner.skipPlainBytes(base, &s.pos, end: end)
        while s.pos < end {
            let c = base[s.pos]
            if c == 0x22 { break }
            if c == 0x5C || c < 0x20 { return nil }
            s.pos += 1
        }
        let topicEnd = s.pos
        guard s.scanLiteral("\",\"payload\":\""), end - s.pos >= 2, base[end - 2] == 0x22, base[end - 1] == 0x7D else { return nil }
        return (
            UnsafeRawBufferPointer(start: base + topicStart, count: topicEnd - topicStart),
            UnsafeRawBufferPointer(start: base + s.pos, count: end - 2 - s.pos), r
        )
    }
}
