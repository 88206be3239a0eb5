#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes messages as a capture (SEMANTICS.md §5, JSON Lines) that replay reads back:
/// `{"receivedAt":ms,"topic":"...","payload":"<raw payload>"}`. Buffered; call ``flush()`` or
/// ``close()``. Not thread-safe: own it from one task.
///
/// Payload bytes that are not valid UTF-8 are written with U+FFFD replacement characters (JSON
/// text is Unicode); MV Sense payloads are JSON and thus UTF-8.
public final class CaptureWriter {
    public let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    /// Messages written so far.
    public private(set) var count = 0

    /// Creates (or truncates, or appends to) the file at `path`.
    public init(path: String, append: Bool = false) throws {
        self.path = path
        let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        fd = open(path, flags, 0o644)
        guard fd >= 0 else {
            throw CaptureError(path: path, reason: String(cString: strerror(errno)))
        }
        buffer.reserveCapacity(1 << 16)
    }

    deinit { try? close() }

    /// Appends one message.
    public func write(_ message: RawMessage) throws {
        buffer.append(contentsOf: #"{"receivedAt":"#.utf8)
        buffer.append(contentsOf: String(message.receivedAt ?? 0).utf8)
        buffer.append(contentsOf: #","topic":"#.utf8)
        JSONText.appendString(message.topic.utf8, to: &buffer)
        buffer.append(contentsOf: #","payload":"#.utf8)
        JSONText.appendString(String(decoding: message.payload, as: UTF8.self).utf8, to: &buffer)
        buffer.append(contentsOf: "}\n".utf8)
        count += 1
        if buffer.count >= 1 << 16 { try flush() }
    }

    /// Writes buffered lines to the file.
    public func flush() throws {
        guard fd >= 0, !buffer.isEmpty else { return }
        var off = 0
        while off < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc_write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CaptureError(path: path, reason: String(cString: strerror(errno)))
            }
            off += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes the file. Further writes throw.
    public func close() throws {
        guard fd >= 0 else { return }
        defer {
            _ = closeFD(fd)
            fd = -1
        }
        try flush()
    }

}

private func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    write(fd, p, n)
}

private func closeFD(_ fd: Int32) -> Int32 {
    close(fd)
}
