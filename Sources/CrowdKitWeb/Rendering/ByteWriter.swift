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
    mutating func digits(_ v: Int64, width: Int) { TextFormat.appendDigits(v, width: width, to: &bytes) }

    // MARK: JSON

    /// A JSON string literal; `<`, `>`, `&` and U+2028/2029 are escaped too.
    mutating func json(_ s: String) { TextFormat.appendJSON(s.utf8, htmlSafe: true, to: &bytes) }

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
    mutating func html(_ s: String) { TextFormat.appendHTML(s, to: &bytes) }

    // MARK: Times

    /// `2024-05-02T07:10:00.123Z` (UTC, proleptic Gregorian).
    mutating func iso(_ ms: Int64) { civil(ms, separator: 0x54, fraction: true, suffix: "Z") }

    /// `2024-05-02 07:10:00 UTC`.
    mutating func readableUTC(_ ms: Int64) { civil(ms, separator: 0x20, fraction: false, suffix: " UTC") }

    mutating func civil(_ ms: Int64, separator: UInt8, fraction: Bool, suffix: StaticString) {
        TextFormat.appendCivil(ms, separator: separator, milliseconds: fraction, suffix: suffix, to: &bytes)
    }
}
