import CrowdKitCore

/// Builds a response body byte by byte: JSON and HTML escaping, integers and ISO 8601 times
/// without an intermediate `String` per field (which cost more than the database read).
struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int = 4096) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func raw(_ s: StaticString) { s.withUTF8Buffer { bytes.append(contentsOf: $0) } }
    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func raw(_ b: UInt8) { bytes.append(b) }

    mutating func int(_ v: Int64) {
        var v = v
        if v < 0 {
            if v == .min {
                raw(String(v))
                return
            }
            bytes.append(0x2D)
            v = -v
        }
        digits(v, width: 1)
    }

    mutating func int(_ v: Int) { int(Int64(v)) }

    /// `v` (non-negative) with at least `width` digits.
    mutating func digits(_ v: Int64, width: Int) {
        var n = 1
        var p: Int64 = 10
        while p <= v && n < 18 {
            p *= 10
            n += 1
        }
        var pad = width - n
        while pad > 0 {
            bytes.append(48)
            pad -= 1
        }
        var div = p / 10
        while div > 0 {
            bytes.append(UInt8(truncatingIfNeeded: 48 + (v / div) % 10))
            div /= 10
        }
    }

    // MARK: JSON

    /// A JSON string literal; `<`, `>`, `&` and U+2028/2029 are escaped too.
    mutating func json(_ s: String) {
        bytes.append(0x22)
        var utf8 = s.utf8.makeIterator()
        var pending: [UInt8] = []
        while let b = pending.isEmpty ? utf8.next() : pending.removeFirst() {
            switch b {
            case 0x22: raw("\\\"")
            case 0x5C: raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0x3C: raw("\\u003c")
            case 0x3E: raw("\\u003e")
            case 0x26: raw("\\u0026")
            case 0xE2:
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
                let b2 = utf8.next()
                let b3 = b2 == 0x80 ? utf8.next() : nil
                if b2 == 0x80, b3 == 0xA8 || b3 == 0xA9 {
                    raw(b3 == 0xA8 ? "\\u2028" : "\\u2029")
                } else {
                    bytes.append(b)
                    if let b2 { pending.append(b2) }
                    if let b3 { pending.append(b3) }
                }
            default:
                if b < 0x20 {
                    raw("\\u00")
                    bytes.append(Self.hex[Int(b >> 4)])
                    bytes.append(Self.hex[Int(b & 0xF)])
                } else {
                    bytes.append(b)
                }
            }
        }
        bytes.append(0x22)
    }

    mutating func json(_ s: String?) {
        if let s { json(s) } else { raw("null") }
    }

    mutating func json(_ v: Int64?) {
        if let v { int(v) } else { raw("null") }
    }

    /// `"2024-05-02T07:10:00.123Z"` or `null`.
    mutating func jsonISO(_ ms: Int64?) {
        guard let ms else {
            raw("null")
            return
        }
        bytes.append(0x22)
        iso(ms)
        bytes.append(0x22)
    }

    // MARK: HTML

    /// Text escaped for element content and quoted attribute values.
    mutating func html(_ s: String) {
        for b in s.utf8 {
            switch b {
            case 0x26: raw("&amp;")
            case 0x3C: raw("&lt;")
            case 0x3E: raw("&gt;")
            case 0x22: raw("&quot;")
            case 0x27: raw("&#39;")
            case 0x00: raw("\u{FFFD}")
            default: bytes.append(b)
            }
        }
    }

    // MARK: Times

    /// `2024-05-02T07:10:00.123Z` (UTC, proleptic Gregorian).
    mutating func iso(_ ms: Int64) { civil(ms, separator: 0x54, fraction: true, suffix: "Z") }

    /// `2024-05-02 07:10:00 UTC`.
    mutating func readableUTC(_ ms: Int64) { civil(ms, separator: 0x20, fraction: false, suffix: " UTC") }

    mutating func civil(_ ms: Int64, separator: UInt8, fraction: Bool, suffix: StaticString) {
        let t = CivilTime(epochMilliseconds: ms)
        let y = t.year
        if y < 0 { bytes.append(0x2D) }
        digits(abs(y), width: 4)
        bytes.append(0x2D)
        digits(t.month, width: 2)
        bytes.append(0x2D)
        digits(t.day, width: 2)
        bytes.append(separator)
        digits(t.hour, width: 2)
        bytes.append(0x3A)
        digits(t.minute, width: 2)
        bytes.append(0x3A)
        digits(t.second, width: 2)
        if fraction {
            bytes.append(0x2E)
            digits(t.millisecond, width: 3)
        }
        raw(suffix)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}
