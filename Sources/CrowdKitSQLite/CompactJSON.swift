import CrowdKitCore
import Foundation

/// The two small JSON shapes the store keeps in text columns (policy parameters, enrichment
/// notes), written and read without Foundation's coders, which cost more than the SQL itself on
/// the hot paths (insert and page listing). Anything the fast reader does not understand falls
/// back to `JSONDecoder`, so files written by other tools stay readable.
enum CompactJSON {
    static func encode(_ parameters: [String: Double]) -> String {
        var out = "{"
        var first = true
        for key in parameters.keys.sorted() {
            guard let value = parameters[key], value.isFinite else { continue }
            if !first { out += "," }
            first = false
            appendString(key, to: &out)
            out += ":"
            if value == value.rounded(), abs(value) < 1e15 { out += String(Int64(value)) } else { out += "\(value)" }
        }
        return out + "}"
    }

    static func encode(_ strings: [String]) -> String {
        var out = "["
        for (i, s) in strings.enumerated() {
            if i > 0 { out += "," }
            appendString(s, to: &out)
        }
        return out + "]"
    }

    static func decodeParameters(_ text: String) throws -> [String: Double] {
        if text == "{}" { return [:] }
        var p = Parser(text)
        if let value = p.parameters() { return value }
        return try JSONDecoder().decode([String: Double].self, from: Data(text.utf8))
    }

    static func decodeStrings(_ text: String) throws -> [String] {
        if text == "[]" { return [] }
        var p = Parser(text)
        if let value = p.strings() { return value }
        return try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }

    private static func appendString(_ s: String, to out: inout String) {
        out += JSONText.string(s)
    }

    /// A strict reader for `{"k":number,...}` and `["s",...]`; returns `nil` on anything else.
    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        init(_ text: String) { bytes = Array(text.utf8) }

        mutating func parameters() -> [String: Double]? {
            guard take(UInt8(ascii: "{")) else { return nil }
            var result: [String: Double] = [:]
            if take(UInt8(ascii: "}")) { return i == bytes.count ? result : nil }
            repeat {
                guard let key = string(), take(UInt8(ascii: ":")), let value = number() else { return nil }
                result[key] = value
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")), i == bytes.count else { return nil }
            return result
        }

        mutating func strings() -> [String]? {
            guard take(UInt8(ascii: "[")) else { return nil }
            var result: [String] = []
            if take(UInt8(ascii: "]")) { return i == bytes.count ? result : nil }
            repeat {
                guard let s = string() else { return nil }
                result.append(s)
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "]")), i == bytes.count else { return nil }
            return result
        }

        private mutating func take(_ byte: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == byte else { return false }
            i += 1
            return true
        }

        private mutating func number() -> Double? {
            let start = i
            while i < bytes.count, let c = Optional(bytes[i]),
                (c >= 48 && c <= 57) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
                    || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
            {
                i += 1
            }
            guard i > start else { return nil }
            return Double(String(decoding: bytes[start..<i], as: UTF8.self))
        }

        private mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var out: [UInt8] = []
            while i < bytes.count {
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard c == UInt8(ascii: "\\") else {
                    out.append(c)
                    continue
                }
                // Escapes other than the simple ones (\u sequences) go to the fallback decoder.
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(e)
                case UInt8(ascii: "\\"): out.append(e)
                case UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                default: return nil
                }
            }
            return nil
        }
    }
}
