import Foundation
import Hummingbird

/// The fields of an `application/x-www-form-urlencoded` body (the page's forms).
struct FormFields: Sendable {
    private(set) var pairs: [(String, String)] = []

    /// At most 64 KiB: the page's forms are small.
    static let maximumSize = 64 * 1024

    init(_ body: String) {
        for part in body.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            pairs.append((decode(kv[0]), kv.count > 1 ? decode(kv[1]) : ""))
        }
    }

    subscript(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }

    /// The field trimmed, `nil` when missing or empty.
    func trimmed(_ name: String) -> String? {
        guard let v = self[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
        return v
    }

    static func read(_ request: Request) async throws -> FormFields {
        var request = request
        let buffer = try await request.collectBody(upTo: maximumSize)
        return FormFields(String(decoding: buffer.readableBytesView, as: UTF8.self))
    }
}

extension CrowdWeb {
    /// A redirect target from a form's `next` field: a path on this server only.
    static func safeNext(_ next: String?, fallback: String = "/") -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"),
            !next.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { return fallback }
        return next
    }

    static func redirect(_ location: String, setCookies: [String] = []) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        for c in setCookies { headers.append(HeaderField(name: .setCookie, value: c)) }
        return Response(status: .seeOther, headers: headers)
    }

    /// An HTML response with the page CSP for `nonce`, and the CSRF cookie when it is new.
    static func html(_ bytes: [UInt8], nonce: String, status: HTTPResponse.Status = .ok, setCookie: String? = nil) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'nonce-\(nonce)'; style-src 'nonce-\(nonce)'; img-src https: http: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        if let setCookie { headers.append(HeaderField(name: .setCookie, value: setCookie)) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
