import CrowdKitCore
import Foundation

/// Text helpers shared by the page, the JSON and the CSV: escaping and time formatting.
enum Format {
    /// Escapes text for HTML element content and quoted attribute values.
    static func html(_ text: String) -> String { TextFormat.html(text) }

    /// A JSON string literal, quotes included, inert inside a page (`<`, `>`, `&` escaped too).
    static func json(_ text: String) -> String { TextFormat.json(text, htmlSafe: true) }

    static func json(_ text: String?) -> String { text.map { json($0) } ?? "null" }

    static func json(_ value: Int64?) -> String { value.map { String($0) } ?? "null" }

    static func json(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
    static func query(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// `2024-05-02T07:10:00.123Z` for epoch milliseconds (UTC, proleptic Gregorian).
    static func iso(_ ms: Int64) -> String {
        var w = ByteWriter(capacity: 24)
        w.iso(ms)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// `2024-05-02 07:10:00 UTC`, the no-JavaScript text of a `<time>` element.
    static func readableUTC(_ ms: Int64) -> String {
        var w = ByteWriter(capacity: 24)
        w.readableUTC(ms)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// `2024-05-02T07:10` (UTC) for a `datetime-local` input.
    static func minuteUTC(_ ms: Int64) -> String { String(iso(ms).prefix(16)) }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(abs(v))
        let padded = s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        return v < 0 ? "-" + padded : padded
    }

    /// Parses epoch milliseconds, ISO 8601 (`Z` or `±hh:mm`, optional seconds and fraction), a
    /// `datetime-local` value (`2024-05-02T07:10`, taken as UTC) or a date (`2024-05-02`, UTC
    /// midnight). `nil` when it is none of these.
    static func parseTime(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if !t.isEmpty, t.allSatisfy(\.isASCII), t.allSatisfy(\.isNumber) || (t.first == "-" && t.dropFirst().allSatisfy(\.isNumber)) {
            return Int64(t)
        }
        let b = Array(t.utf8)
        func num(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        func at(_ i: Int, _ c: Character) -> Bool { i < b.count && b[i] == c.asciiValue! }
        guard let y = num(0, 4), at(4, "-"), let mo = num(5, 2), at(7, "-"), let d = num(8, 2),
            (1...12).contains(mo), (1...31).contains(d)
        else { return nil }
        var h: Int64 = 0
        var mi: Int64 = 0
        var s: Int64 = 0
        var frac: Int64 = 0
        var offset: Int64 = 0
        var i = 10
        if i < b.count {
            guard at(i, "T") || at(i, "t") || at(i, " "), let hh = num(i + 1, 2), at(i + 3, ":"), let mm = num(i + 4, 2)
            else { return nil }
            h = hh
            mi = mm
            i += 6
            if at(i, ":") {
                guard let ss = num(i + 1, 2) else { return nil }
                s = ss
                i += 3
                if at(i, ".") {
                    i += 1
                    var digits = 0
                    while i < b.count, b[i] >= 48, b[i] <= 57 {
                        if digits < 3 { frac = frac * 10 + Int64(b[i] - 48) }
                        digits += 1
                        i += 1
                    }
                    guard digits > 0 else { return nil }
                    if digits < 3 { for _ in digits..<3 { frac *= 10 } }
                }
            }
            if at(i, "Z") || at(i, "z") {
                i += 1
            } else if at(i, "+") || at(i, "-") {
                let sign: Int64 = at(i, "-") ? -1 : 1
                guard let oh = num(i + 1, 2) else { return nil }
                var om: Int64 = 0
                if at(i + 3, ":") {
                    guard let m = num(i + 4, 2) else { return nil }
                    om = m
                    i += 6
                } else if let m = num(i + 3, 2) {
                    om = m
                    i += 5
                } else {
                    i += 3
                }
                offset = sign * (oh * 60 + om) * 60_000
            }
            guard i == b.count, h < 24, mi < 60, s < 61 else { return nil }
        }
        let days = daysFromCivil(y, mo, d)
        return days * 86_400_000 + h * 3_600_000 + mi * 60_000 + s * 1000 + frac - offset
    }

    private static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// `45 s`, `2 min 05 s`, `1 h 03 min`, `2 d 4 h` (``TextFormat/duration(milliseconds:)``).
    static func duration(_ ms: Int64) -> String { TextFormat.duration(milliseconds: ms) }

    /// Only `http` and `https` links become `href`s: a `javascript:` URL from the network never
    /// reaches the page.
    static func safeLink(_ url: String?) -> String? {
        guard let url, !url.isEmpty else { return nil }
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else { return nil }
        guard !url.unicodeScalars.contains(where: { $0.value < 0x21 || $0 == "\u{7F}" }) else { return nil }
        return url
    }

    /// A conversation link for the page: http(s) as ``safeLink(_:)``, or the Webex app's
    /// `webexteams:` scheme.
    static func conversationLink(_ url: String?) -> String? {
        guard let url else { return nil }
        if url.lowercased().hasPrefix("webexteams://"), !url.unicodeScalars.contains(where: { $0.value < 0x21 || $0 == "\u{7F}" }) {
            return url
        }
        return safeLink(url)
    }

    /// A CSV cell: neutralises spreadsheet formulas (a leading `=`, `+`, `-`, `@`, tab or CR gets
    /// a `'` prefix) and quotes when needed (RFC 4180).
    static func csv(_ text: String) -> String {
        var t = text
        if let first = t.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first) {
            t = "'" + t
        }
        if t.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            return "\"" + t.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return t
    }

    /// Display name of a zone: its label, "Full frame" for zone 0, or the id.
    static func zoneLabel(zone: String, name: String?) -> String {
        if let name, !name.isEmpty { return name }
        return zone == "0" ? "Full frame" : "Zone \(zone)"
    }
}
