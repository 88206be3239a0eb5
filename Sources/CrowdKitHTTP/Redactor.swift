import Foundation

/// Removes secrets from text before it reaches a log line or an error.
///
/// Known secrets (the configured token and key) are replaced wherever they appear; in addition,
/// `Bearer <anything>`, and the values of query items and JSON keys that look like credentials
/// (`token`, `key`, `secret`, `password`, `signature`, `auth`) are masked.
public struct Redactor: Sendable, Hashable {
    /// The literal secrets to mask (empty strings are ignored).
    public var secrets: [String]

    public static let mask = "<redacted>"

    public init(secrets: [String] = []) {
        self.secrets = secrets.filter { $0.count >= 4 }
    }

    /// Masks every known secret and every credential-looking value in `text`.
    public func redact(_ text: String) -> String {
        var out = text
        for secret in secrets where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: Redactor.mask)
        }
        return Redactor.redactPatterns(out)
    }

    /// The URL without user info and with credential-looking query values masked.
    public func redact(url: URL) -> String { redact(Redactor.redact(url: url)) }

    static let sensitiveNames = ["token", "key", "secret", "password", "passwd", "signature", "auth", "sig"]

    static func isSensitive(_ name: String) -> Bool {
        let n = name.lowercased()
        return sensitiveNames.contains { n.contains($0) }
    }

    /// The URL without user info and with credential-looking query values masked.
    public static func redact(url: URL) -> String {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "<url>" }
        components.user = nil
        components.password = nil
        if let items = components.queryItems, !items.isEmpty {
            components.queryItems = items.map { item in
                isSensitive(item.name) ? URLQueryItem(name: item.name, value: "REDACTED") : item
            }
        }
        return components.string ?? "<url>"
    }

    static func redactPatterns(_ text: String) -> String {
        var out = text
        // Authorization-style values.
        for scheme in ["Bearer ", "bearer ", "Basic ", "basic "] {
            var searchStart = out.startIndex
            while let r = out.range(of: scheme, range: searchStart..<out.endIndex) {
                var end = r.upperBound
                while end < out.endIndex, !out[end].isWhitespace, out[end] != "\"", out[end] != "," { end = out.index(after: end) }
                if end > r.upperBound {
                    out.replaceSubrange(r.upperBound..<end, with: mask)
                }
                searchStart = out.index(r.upperBound, offsetBy: mask.count, limitedBy: out.endIndex) ?? out.endIndex
            }
        }
        // "someToken": "value"  and  someToken=value
        out = maskAssignments(out)
        return out
    }

    private static func maskAssignments(_ text: String) -> String {
        guard sensitiveNames.contains(where: { text.lowercased().contains($0) }) else { return text }
        // A tiny scanner: after a sensitive key followed by `":"`, `=` or `: `, mask the value.
        var result = ""
        result.reserveCapacity(text.count)
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            // Read a word.
            if chars[i].isLetter || chars[i] == "_" || chars[i] == "-" {
                var j = i
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" || chars[j] == "-" { j += 1 }
                let word = String(chars[i..<j])
                result += word
                i = j
                if isSensitive(word) {
                    // Optional closing quote, separators, optional opening quote.
                    var k = i
                    if k < chars.count, chars[k] == "\"" { k += 1 }
                    var sawSeparator = false
                    while k < chars.count, chars[k] == " " || chars[k] == ":" || chars[k] == "=" {
                        if chars[k] != " " { sawSeparator = true }
                        k += 1
                    }
                    guard sawSeparator else { continue }
                    var quoted = false
                    if k < chars.count, chars[k] == "\"" {
                        quoted = true
                        k += 1
                    }
                    var end = k
                    while end < chars.count {
                        let c = chars[end]
                        if quoted ? c == "\"" : (c.isWhitespace || c == "&" || c == "," || c == "}" || c == "\"") { break }
                        end += 1
                    }
                    let value = String(chars[k..<end])
                    if end > k && !["Bearer", "bearer", "Basic", "basic", mask].contains(value) {
                        result += String(chars[i..<k]) + mask
                        i = end
                    }
                }
            } else {
                result.append(chars[i])
                i += 1
            }
        }
        return result
    }
}
