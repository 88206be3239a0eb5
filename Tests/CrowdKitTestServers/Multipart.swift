import Foundation

/// One part of a `multipart/form-data` body.
public struct MultipartPart: Sendable {
    public var name: String?
    public var filename: String?
    public var contentType: String?
    public var data: Data
    public var text: String { String(decoding: data, as: UTF8.self) }
}

/// Parses a `multipart/form-data` body (RFC 7578); `nil` when it is not well formed.
public func parseMultipart(_ body: Data, contentType: String) -> [MultipartPart]? {
    guard let range = contentType.range(of: "boundary=") else { return nil }
    var boundary = String(contentType[range.upperBound...])
    if let semi = boundary.firstIndex(of: ";") { boundary = String(boundary[..<semi]) }
    boundary = boundary.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
    let delimiter = Data("--\(boundary)".utf8)
    let bytes = body
    var parts: [MultipartPart] = []
    guard var cursor = bytes.range(of: delimiter)?.upperBound else { return nil }
    var sawClosing = false
    while cursor < bytes.endIndex {
        // After a delimiter: "--" closes, CRLF starts a part.
        if bytes[cursor...].starts(with: Data("--".utf8)) {
            sawClosing = true
            break
        }
        guard bytes[cursor...].starts(with: Data("\r\n".utf8)) else { return nil }
        let partStart = cursor + 2
        guard let next = bytes.range(of: Data("\r\n".utf8) + delimiter, in: partStart..<bytes.endIndex) else { return nil }
        let part = bytes[partStart..<next.lowerBound]
        guard let split = part.range(of: Data("\r\n\r\n".utf8)) else { return nil }
        let headerText = String(decoding: part[part.startIndex..<split.lowerBound], as: UTF8.self)
        var result = MultipartPart(name: nil, filename: nil, contentType: nil, data: Data(part[split.upperBound...]))
        for line in headerText.components(separatedBy: "\r\n") {
            let lower = line.lowercased()
            if lower.hasPrefix("content-disposition:") {
                result.name = attribute("name", in: line)
                result.filename = attribute("filename", in: line)
            } else if lower.hasPrefix("content-type:") {
                result.contentType = line.dropFirst("content-type:".count).trimmingCharacters(in: .whitespaces)
            }
        }
        parts.append(result)
        cursor = next.upperBound
    }
    return sawClosing ? parts : nil
}

private func attribute(_ name: String, in line: String) -> String? {
    for piece in line.split(separator: ";") {
        let t = piece.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("\(name)=\"") && t.hasSuffix("\"") {
            return String(t.dropFirst(name.count + 2).dropLast())
        }
    }
    return nil
}
