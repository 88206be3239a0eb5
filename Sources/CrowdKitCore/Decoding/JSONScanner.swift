/// A small, strict, allocation-free JSON scanner over bytes, used on the ingestion hot path.
///
/// It validates what it walks (RFC 8259 grammar, nesting limited to ``maxDepth``) and extracts
/// only what MV Sense decoding needs; everything else is skipped after validation.
@usableFromInline
typealias JSONScanner = JSONScannerOf<PlainJSONQuotes>

/// How the text a scanner reads spells a string's quotes.
@usableFromInline
protocol JSONQuoting {
    /// `true`: the text is the content of a JSON string (a payload inside a JSON Lines capture
    /// line) and every quote of it is written `\"`.
    static var escaped: Bool { get }
}

/// JSON as is.
@usableFromInline
enum PlainJSONQuotes: JSONQuoting {
    @inlinable static var escaped: Bool { false }
}

/// JSON inside a JSON string, read in place without unescaping it first: `\"` is a quote. Only
/// the common form is read (no other escapes, inside strings or out); anything else fails, and
/// the caller unescapes and reads it again as plain JSON, so results never differ.
@usableFromInline
enum EscapedJSONQuotes: JSONQuoting {
    @inlinable static var escaped: Bool { true }
}

@usableFromInline
struct JSONScannerOf<Quoting: JSONQuoting> {
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let end: Int
    @usableFromInline var pos: Int

    static var maxDepth: Int { 64 }

    @inlinable
    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.end = count
        self.pos = 0
    }

    @inlinable
    var atEnd: Bool { pos >= end }

    @inlinable
    func peek() -> UInt8? { pos < end ? base[pos] : nil }

    @inlinable
    mutating func skipWhitespace() {
        if Quoting.escaped {
            // inside a JSON string only the space is written as is (a newline or tab is `\n`, `\t`)
            while pos < end && base[pos] == 0x20 { pos += 1 }
            return
        }
        while pos < end {
            let c = base[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { return }
        }
    }

    @inlinable
    mutating func consume(_ byte: UInt8) -> Bool {
        if pos < end && base[pos] == byte {
            pos += 1
            return true
        }
        return false
    }

    /// Scans a string starting at `"`. Returns the raw (still escaped) content range and whether
    /// it contains escapes. Validates escapes and rejects raw control characters.
    @inlinable
    mutating func scanString() -> (start: Int, end: Int, escaped: Bool)? {
        if Quoting.escaped { return scanEscapedQuoteString() }
        guard consume(0x22) else { return nil }
        let start = pos
        var escaped = false
        while pos < end {
            JSONScanner.skipPlainBytes(base, &pos, end: end)
            guard pos < end else { return nil }
            let c = base[pos]
            if c == 0x22 {
                let r = (start, pos, escaped)
                pos += 1
                return r
            }
            if c == 0x5C {
                escaped = true
                pos += 1
                guard pos < end else { return nil }
                switch base[pos] {
                case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: pos += 1
                case 0x75:
                    guard pos + 4 < end else { return nil }
                    for i in 1...4 where hexValue(base[pos + i]) == nil { return nil }
                    pos += 5
                default: return nil
                }
                continue
            }
            if c < 0x20 { return nil }
            pos += 1
        }
        return nil
    }

    // MARK: objects, member by member

    /// Opens an object: `true` when members follow, `false` for `{}`, `nil` when the next value
    /// is not an object. Use with ``memberKey()`` and ``afterMember()``:
    ///
    ///     guard var more = s.openObject() else { /* not an object */ }
    ///     while more {
    ///         guard let key = s.memberKey() else { /* malformed */ }
    ///         /* read or skip the value */
    ///         guard let next = s.afterMember() else { /* malformed */ }
    ///         more = next
    ///     }
    @inlinable
    mutating func openObject() -> Bool? {
        skipWhitespace()
        guard consume(0x7B) else { return nil }
        skipWhitespace()
        return !consume(0x7D)
    }

    /// A member's key, the scanner left at its value; `nil` when malformed.
    @inlinable
    mutating func memberKey() -> (start: Int, end: Int, escaped: Bool)? {
        skipWhitespace()
        guard let key = scanString() else { return nil }
        skipWhitespace()
        guard consume(0x3A) else { return nil }
        skipWhitespace()
        return key
    }

    /// After a member's value: `true` when another member follows, `false` at the object's end,
    /// `nil` when malformed.
    @inlinable
    mutating func afterMember() -> Bool? {
        skipWhitespace()
        if consume(0x2C) { return true }
        return consume(0x7D) ? false : nil
    }

    /// ``afterMember()`` into `more`; `false` when malformed.
    @inlinable
    mutating func endMember(_ more: inout Bool) -> Bool {
        guard let next = afterMember() else { return false }
        more = next
        return true
    }

    /// Whether only whitespace is left.
    @inlinable
    mutating func finished() -> Bool {
        skipWhitespace()
        return atEnd
    }

    /// A member key spelled exactly `key` (no escapes), then `:`, whitespace around it skipped;
    /// the scanner left at the value. `false` (position unspecified) for anything else.
    @inlinable
    mutating func scanExactKey(_ key: StaticString) -> Bool {
        skipWhitespace()
        if Quoting.escaped {
            guard consume(0x5C) else { return false }
        }
        guard consume(0x22), scanLiteral(key) else { return false }
        if Quoting.escaped {
            guard consume(0x5C) else { return false }
        }
        guard consume(0x22) else { return false }
        skipWhitespace()
        guard consume(0x3A) else { return false }
        skipWhitespace()
        return true
    }

    /// Plain decimal digits (no sign, fraction or exponent, no leading zero, at most 18 digits)
    /// as a value; `nil` (position unspecified) for anything else, which ``scanNumber()`` reads.
    @inlinable
    mutating func scanDigits() -> Int64? {
        guard let value = JSONScanner.plainDigits(base, &pos, end: end) else { return nil }
        if pos < end {
            let c = base[pos]
            if c == 0x2E || c == 0x65 || c == 0x45 { return nil }
        }
        return value
    }

    /// A string quoted `\"…\"` whose content has no backslash or control character.
    @inlinable
    mutating func scanEscapedQuoteString() -> (start: Int, end: Int, escaped: Bool)? {
        guard pos + 1 < end, base[pos] == 0x5C, base[pos + 1] == 0x22 else { return nil }
        pos += 2
        let start = pos
        while pos < end {
            let c = base[pos]
            if c == 0x5C {
                guard pos + 1 < end, base[pos + 1] == 0x22 else { return nil }
                let r = (start, pos, false)
                pos += 2
                return r
            }
            if c < 0x20 || c == 0x22 { return nil }
            pos += 1
        }
        return nil
    }

    /// Decimal digits at `pos` (no leading zero, at most 18: they cannot overflow) as a value,
    /// `pos` left after them; `nil` when there are none or too many. What follows is for the
    /// caller to check.
    @inlinable @inline(__always)
    static func plainDigits(_ base: UnsafePointer<UInt8>, _ pos: inout Int, end: Int) -> Int64? {
        let start = pos
        var value: Int64 = 0
        while pos < end, base[pos] &- 0x30 < 10 {
            value = value &* 10 &+ Int64(base[pos] &- 0x30)
            pos += 1
        }
        let n = pos - start
        guard n > 0, n <= 18, n == 1 || base[start] != 0x30 else { return nil }
        return value
    }

    /// Moves `pos` over string content that needs no attention, eight bytes at a time while none
    /// is a quote, a backslash or a control character; it stops at the first such byte (or fewer
    /// than eight bytes before `end`, where the caller goes on byte by byte).
    @inlinable @inline(__always)
    static func skipPlainBytes(_ base: UnsafePointer<UInt8>, _ pos: inout Int, end: Int) {
        while pos + 8 <= end {
            let w = UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self)
            let special = zeroBytes(w ^ 0x2222_2222_2222_2222) | zeroBytes(w ^ 0x5C5C_5C5C_5C5C_5C5C) | bytesBelow0x20(w)
            if special != 0 {
                pos += special.trailingZeroBitCount >> 3
                return
            }
            pos += 8
        }
    }

    /// High bit set in each byte of `w` that is zero. Bytes above the first zero byte may be
    /// flagged too (borrows), so only the lowest flag is exact: enough to find the first.
    @inlinable
    static func zeroBytes(_ w: UInt64) -> UInt64 {
        (w &- 0x0101_0101_0101_0101) & ~w & 0x8080_8080_8080_8080
    }

    /// High bit set in each byte of `w` below 0x20 (the lowest flag exact, as ``zeroBytes(_:)``).
    @inlinable
    static func bytesBelow0x20(_ w: UInt64) -> UInt64 {
        (w &- 0x2020_2020_2020_2020) & ~w & 0x8080_8080_8080_8080
    }

    /// A number literal: its integer value when it has no fraction or exponent (and fits), else
    /// its `Double` value.
    @usableFromInline
    enum Number {
        case integer(Int64)
        case double(Double)
    }

    @inlinable
    mutating func scanNumber() -> Number? {
        let start = pos
        var negative = false
        if consume(0x2D) { negative = true }
        guard pos < end else { return nil }
        var value: Int64 = 0
        var overflow = false
        if base[pos] == 0x30 {
            pos += 1
        } else if base[pos] >= 0x31 && base[pos] <= 0x39 {
            // up to 18 digits cannot overflow: no checks
            let fast = min(end, pos + 18)
            while pos < fast, base[pos] &- 0x30 < 10 {
                value = value &* 10 &+ Int64(base[pos] &- 0x30)
                pos += 1
            }
            while pos < end, base[pos] >= 0x30, base[pos] <= 0x39 {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(base[pos] &- 0x30))
                if o1 || o2 { overflow = true }
                value = a
                pos += 1
            }
        } else {
            return nil
        }
        var isInteger = true
        if pos < end && base[pos] == 0x2E {
            isInteger = false
            pos += 1
            let digits = pos
            while pos < end, base[pos] >= 0x30, base[pos] <= 0x39 { pos += 1 }
            if pos == digits { return nil }
        }
        if pos < end && (base[pos] == 0x65 || base[pos] == 0x45) {
            isInteger = false
            pos += 1
            if pos < end && (base[pos] == 0x2B || base[pos] == 0x2D) { pos += 1 }
            let digits = pos
            while pos < end, base[pos] >= 0x30, base[pos] <= 0x39 { pos += 1 }
            if pos == digits { return nil }
        }
        if isInteger && !overflow {
            return .integer(negative ? -value : value)
        }
        // Rare path: parse the literal as a Double.
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: pos - start), as: UTF8.self)
        guard let d = Double(text) else { return nil }
        return .double(d)
    }

    @inlinable
    mutating func scanLiteral(_ bytes: StaticString) -> Bool {
        let n = bytes.utf8CodeUnitCount
        guard pos + n <= end else { return false }
        let p = bytes.utf8Start
        for i in 0..<n where base[pos + i] != p[i] { return false }
        pos += n
        return true
    }

    /// Validates and skips any value.
    @usableFromInline
    mutating func skipValue(depth: Int = 0) -> Bool {
        guard depth < JSONScanner.maxDepth else { return false }
        skipWhitespace()
        guard let c = peek() else { return false }
        switch c {
        case 0x22 where !Quoting.escaped: return scanString() != nil
        case 0x5C where Quoting.escaped: return scanString() != nil
        case 0x7B:
            guard var more = openObject() else { return false }
            while more {
                guard memberKey() != nil, skipValue(depth: depth + 1), let next = afterMember() else { return false }
                more = next
            }
            return true
        case 0x5B:
            pos += 1
            skipWhitespace()
            if consume(0x5D) { return true }
            while true {
                guard skipValue(depth: depth + 1) else { return false }
                skipWhitespace()
                if consume(0x2C) { continue }
                return consume(0x5D)
            }
        case 0x74: return scanLiteral("true")
        case 0x66: return scanLiteral("false")
        case 0x6E: return scanLiteral("null")
        default: return scanNumber() != nil
        }
    }

    /// Whether the raw key bytes in `range` equal `key` (keys with escapes compare decoded).
    @inlinable
    func keyEquals(_ s: (start: Int, end: Int, escaped: Bool), _ key: StaticString) -> Bool {
        let n = key.utf8CodeUnitCount
        if !s.escaped {
            guard s.end - s.start == n else { return false }
            let k = key.utf8Start
            for i in 0..<n where base[s.start + i] != k[i] { return false }
            return true
        }
        var decoded: [UInt8] = []
        guard let count = JSONScanner.unescape(base: base, from: s.start, to: s.end, into: &decoded) else { return false }
        return decoded[..<count].elementsEqual(UnsafeBufferPointer(start: key.utf8Start, count: n))
    }

    /// Decodes the escaped string content `base[from..<to]` into the start of `out` (grown when
    /// too small, never shrunk, so a reused buffer allocates once) and returns its length; `nil`
    /// on an invalid escape (unpaired surrogates become U+FFFD). The decoded text is never
    /// longer than the escaped one.
    @usableFromInline
    static func unescape(base: UnsafePointer<UInt8>, from: Int, to: Int, into out: inout [UInt8]) -> Int? {
        var written = 0
        var ok = true
        if out.count < to - from { out.append(contentsOf: repeatElement(0, count: to - from - out.count)) }
        out.withUnsafeMutableBufferPointer { buf in
            let o = buf.baseAddress!
            var i = from
            while i < to {
                // eight bytes at a time up to the next backslash (there is always room: the
                // output never runs ahead of the input)
                while i + 8 <= to {
                    let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                    UnsafeMutableRawPointer(o + written).storeBytes(of: w, as: UInt64.self)
                    let backslash = zeroBytes(w ^ 0x5C5C_5C5C_5C5C_5C5C)
                    if backslash == 0 {
                        i += 8
                        written += 8
                    } else {
                        let k = backslash.trailingZeroBitCount >> 3
                        i += k
                        written += k
                        break
                    }
                }
                guard i < to else { break }
                let c = base[i]
                if c != 0x5C {
                    o[written] = c
                    written += 1
                    i += 1
                    continue
                }
                guard i + 1 < to else {
                    ok = false
                    return
                }
                let e = base[i + 1]
                i += 2
                switch e {
                case 0x22: o[written] = 0x22
                case 0x5C: o[written] = 0x5C
                case 0x2F: o[written] = 0x2F
                case 0x62: o[written] = 0x08
                case 0x66: o[written] = 0x0C
                case 0x6E: o[written] = 0x0A
                case 0x72: o[written] = 0x0D
                case 0x74: o[written] = 0x09
                case 0x75:
                    guard let u = hex4(base, i, to) else {
                        ok = false
                        return
                    }
                    i += 4
                    var scalar: UInt32 = u
                    if u >= 0xD800 && u <= 0xDBFF {
                        if i + 6 <= to, base[i] == 0x5C, base[i + 1] == 0x75, let lo = hex4(base, i + 2, to),
                            lo >= 0xDC00 && lo <= 0xDFFF
                        {
                            scalar = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                            i += 6
                        } else {
                            scalar = 0xFFFD
                        }
                    } else if u >= 0xDC00 && u <= 0xDFFF {
                        scalar = 0xFFFD
                    }
                    written += writeUTF8(scalar, to: o + written)
                    continue
                default:
                    ok = false
                    return
                }
                written += 1
            }
        }
        return ok ? written : nil
    }

    /// Writes `scalar` as UTF-8 at `o` (at most 4 bytes); returns the byte count. An escape of 6
    /// bytes (`\uXXXX`) gives at most 3, a pair of 12 gives 4: never more than it replaces.
    @usableFromInline
    static func writeUTF8(_ scalar: UInt32, to o: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case 0..<0x80:
            o[0] = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            o[0] = UInt8(0xC0 | (scalar >> 6))
            o[1] = UInt8(0x80 | (scalar & 0x3F))
            return 2
        case 0x800..<0x10000:
            o[0] = UInt8(0xE0 | (scalar >> 12))
            o[1] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
            o[2] = UInt8(0x80 | (scalar & 0x3F))
            return 3
        default:
            o[0] = UInt8(0xF0 | (scalar >> 18))
            o[1] = UInt8(0x80 | ((scalar >> 12) & 0x3F))
            o[2] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
            o[3] = UInt8(0x80 | (scalar & 0x3F))
            return 4
        }
    }

    @usableFromInline
    static func hex4(_ base: UnsafePointer<UInt8>, _ at: Int, _ end: Int) -> UInt32? {
        guard at + 4 <= end else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let h = hexValue(base[at + k]) else { return nil }
            v = v << 4 | UInt32(h)
        }
        return v
    }
}

@inlinable
func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: c - 0x30
    case 0x41...0x46: c - 0x41 + 10
    case 0x61...0x66: c - 0x61 + 10
    default: nil
    }
}
