import Foundation

/// The one place where CrowdKit turns times and text into what people read: durations, clock
/// times, ISO 8601 dates, and escaping for JSON and HTML. The log, Webex messages, the page and
/// the API all use it, so the same event shows the same duration everywhere.
public enum TextFormat {
    /// `45 s`, `2 min`, `2 min 5 s`, `1 h 3 min`, `2 d 4 h`: whole seconds (rounded down), in the
    /// two largest units.
    public static func duration(milliseconds ms: Int64) -> String {
        let total = max(0, ms) / 1000
        func two(_ big: Int64, _ bigUnit: String, _ small: Int64, _ smallUnit: String) -> String {
            small == 0 ? "\(big) \(bigUnit)" : "\(big) \(bigUnit) \(small) \(smallUnit)"
        }
        if total < 60 { return "\(total) s" }
        let minutes = total / 60
        if minutes < 60 { return two(minutes, "min", total % 60, "s") }
        let hours = minutes / 60
        if hours < 48 { return two(hours, "h", minutes % 60, "min") }
        return two(hours / 24, "d", hours % 24, "h")
    }

    /// An age to the minute (`raised 14 min ago`): `45 s` below a minute, then like
    /// ``duration(milliseconds:)`` without the seconds.
    public static func age(milliseconds ms: Int64) -> String {
        ms < 60_000 ? duration(milliseconds: ms) : duration(milliseconds: ms / 60_000 * 60_000)
    }

    /// `14:03:12` for camera epoch ms in `timeZone`; with `zone`, followed by the zone's
    /// abbreviation (`UTC` for GMT).
    public static func clockTime(_ ms: Int64, timeZone: TimeZone = .gmt, zone: Bool = false) -> String {
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ms) / 1000))) * 1000
        let t = CivilTime(epochMilliseconds: ms + offset)
        let clock = twoDigits(t.hour) + ":" + twoDigits(t.minute) + ":" + twoDigits(t.second)
        guard zone else { return clock }
        return clock + " " + (timeZone == .gmt ? "UTC" : (timeZone.abbreviation() ?? timeZone.identifier))
    }

    /// ISO 8601 in UTC for camera epoch ms: `2024-11-28T08:00:12.600Z`, or without the fraction
    /// (`2024-11-28T08:00:12Z`, as the Meraki API takes it). Computed in integers, so a
    /// millisecond is never rounded away.
    public static func iso8601(_ ms: Int64, milliseconds: Bool = true) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        appendCivil(ms, separator: 0x54, milliseconds: milliseconds, suffix: "Z", to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `2024-05-02 07:10:00 UTC`.
    public static func readableUTC(_ ms: Int64) -> String {
        var out: [UInt8] = []
        appendCivil(ms, separator: 0x20, milliseconds: false, suffix: " UTC", to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The UTC date and time of `ms` as `YYYY-MM-DD<separator>hh:mm:ss[.mmm]<suffix>`, appended
    /// as bytes (``iso8601(_:milliseconds:)``, ``readableUTC(_:)`` and the page's writer).
    public static func appendCivil(_ ms: Int64, separator: UInt8, milliseconds: Bool, suffix: StaticString, to out: inout [UInt8]) {
        let t = CivilTime(epochMilliseconds: ms)
        if t.year < 0 { out.append(0x2D) }
        appendDigits(abs(t.year), width: 4, to: &out)
        out.append(0x2D)
        appendDigits(t.month, width: 2, to: &out)
        out.append(0x2D)
        appendDigits(t.day, width: 2, to: &out)
        out.append(separator)
        appendDigits(t.hour, width: 2, to: &out)
        out.append(0x3A)
        appendDigits(t.minute, width: 2, to: &out)
        out.append(0x3A)
        appendDigits(t.second, width: 2, to: &out)
        if milliseconds {
            out.append(0x2E)
            appendDigits(t.millisecond, width: 3, to: &out)
        }
        suffix.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// `v` (non-negative) in decimal with at least `width` digits.
    public static func appendDigits(_ v: Int64, width: Int, to out: inout [UInt8]) {
        var n = 1
        var p: Int64 = 10
        while p <= v && n < 19 {
            if p > Int64.max / 10 {
                n += 1
                break
            }
            p *= 10
            n += 1
        }
        for _ in 0..<max(0, width - n) { out.append(0x30) }
        var div = n == 19 ? Int64(1_000_000_000_000_000_000) : p / 10
        while div > 0 {
            out.append(UInt8(truncatingIfNeeded: 0x30 + (v / div) % 10))
            div /= 10
        }
    }

    /// `s` as a JSON string literal, quotes included; with `htmlSafe`, `<`, `>`, `&` and
    /// U+2028/2029 are escaped too, so the text stays inert inside a page.
    public static func json(_ s: String, htmlSafe: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 2)
        appendJSON(s.utf8, htmlSafe: htmlSafe, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends UTF-8 bytes as a JSON string literal, quotes included: `"` and `\\` escaped,
    /// control characters (and DEL) as `\n`, `\r`, `\t` or `\u00xx`; with `htmlSafe` also `<`,
    /// `>`, `&`, U+2028 and U+2029 as `\uXXXX`.
    public static func appendJSON<S: Sequence>(_ s: S, htmlSafe: Bool = false, to out: inout [UInt8]) where S.Element == UInt8 {
        // most text (serials, zone ids, names) needs no escape: one scan and one copy
        let copied = s.withContiguousStorageIfAvailable { b -> Bool in
            for c in b where c == 0x22 || c == 0x5C || c < 0x20 || c == 0x7F || (htmlSafe && (c == 0x3C || c == 0x3E || c == 0x26 || c == 0xE2)) {
                return false
            }
            out.append(0x22)
            out.append(contentsOf: b)
            out.append(0x22)
            return true
        }
        if copied == true { return }
        out.append(0x22)
        var bytes = s.makeIterator()
        var pending: (UInt8?, UInt8?) = (nil, nil)
        func next() -> UInt8? {
            if let p = pending.0 {
                pending = (pending.1, nil)
                return p
            }
            return bytes.next()
        }
        while let b = next() {
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0x3C where htmlSafe, 0x3E where htmlSafe, 0x26 where htmlSafe: appendUnicodeEscape(UInt16(b), to: &out)
            case 0xE2 where htmlSafe:
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9
                let b2 = next()
                let b3 = b2 == 0x80 ? next() : nil
                if b2 == 0x80, let b3, b3 == 0xA8 || b3 == 0xA9 {
                    appendUnicodeEscape(b3 == 0xA8 ? 0x2028 : 0x2029, to: &out)
                } else {
                    out.append(b)
                    pending = b2 == 0x80 ? (b2, b3) : (b2, nil)
                }
            case 0..<0x20, 0x7F: appendUnicodeEscape(UInt16(b), to: &out)
            default: out.append(b)
            }
        }
        out.append(0x22)
    }

    private static func appendUnicodeEscape(_ v: UInt16, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(contentsOf: [0x5C, 0x75, hex[Int(v >> 12)], hex[Int((v >> 8) & 0xF)], hex[Int((v >> 4) & 0xF)], hex[Int(v & 0xF)]])
    }

    /// Escapes text for HTML element content and quoted attribute values (`&`, `<`, `>`, `"`,
    /// `'`; NUL becomes U+FFFD).
    public static func html(_ text: String) -> String {
        if !text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 || $0 == 0 }) {
            return text
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 8)
        appendHTML(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``html(_:)`` appended as bytes.
    public static func appendHTML(_ text: String, to out: inout [UInt8]) {
        // most text needs no escape: one scan and one copy
        let copied = text.utf8.withContiguousStorageIfAvailable { b -> Bool in
            for c in b where c == 0x26 || c == 0x3C || c == 0x3E || c == 0x22 || c == 0x27 || c == 0x00 { return false }
            out.append(contentsOf: b)
            return true
        }
        if copied == true { return }
        for b in text.utf8 {
            switch b {
            case 0x26: out.append(contentsOf: "&amp;".utf8)
            case 0x3C: out.append(contentsOf: "&lt;".utf8)
            case 0x3E: out.append(contentsOf: "&gt;".utf8)
            case 0x22: out.append(contentsOf: "&quot;".utf8)
            case 0x27: out.append(contentsOf: "&#39;".utf8)
            case 0x00: out.append(contentsOf: [0xEF, 0xBF, 0xBD])
            default: out.append(b)
            }
        }
    }

    /// A number of seconds (`30`, `7.5`) as a duration in whole milliseconds, or `nil` when it is
    /// not a finite number `>= 0` (`> 0` with `positive`) below 10^9: the one parser of seconds
    /// behind every `…Seconds` setting and option.
    public static func seconds(_ value: Double, positive: Bool = false) -> Duration? {
        guard value.isFinite, positive ? value > 0 : value >= 0, value < 1e9 else { return nil }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    /// ``seconds(_:positive:)`` of a text (surrounding spaces allowed).
    public static func seconds(_ text: String, positive: Bool = false) -> Duration? {
        Double(text.trimmingCharacters(in: .whitespaces)).flatMap { seconds($0, positive: positive) }
    }

    static func twoDigits(_ v: Int64) -> String { v < 10 && v >= 0 ? "0\(v)" : "\(v)" }
}
