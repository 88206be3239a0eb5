/// JSON text helpers shared by the capture writer, the replay output and the stores.
public enum JSONText {
    /// Appends `s` (UTF-8 bytes) as a JSON string literal, quotes included: `"` and `\\` escaped,
    /// control characters as `\\n`, `\\r`, `\\t` or `\\u00XX`, everything else as is.
    public static func appendString<S: Sequence>(_ s: S, to out: inout [UInt8]) where S.Element == UInt8 {
        out.append(0x22)
        for b in s {
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20, 0x7F:
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hexDigit(b >> 4), hexDigit(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }

    /// `s` as a JSON string literal.
    public static func string(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 2)
        appendString(s.utf8, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x61 + v - 10 }
}
