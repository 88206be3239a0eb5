#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a capture file line by line in fixed-size chunks, so memory does not grow with the file.
public struct CaptureReader: Sendable {
    /// The file path; `-` reads standard input.
    public var path: String
    /// Lines longer than this are reported as `nil` (malformed) and skipped.
    public var maxLineBytes: Int

    public init(path: String, maxLineBytes: Int = 1 << 20) {
        self.path = path
        self.maxLineBytes = maxLineBytes
    }

    /// Calls `body` with each line's 1-based number and bytes (without the newline). A line over
    /// ``maxLineBytes`` is passed as `nil`. Throws ``CaptureError`` when the file cannot be read.
    public func forEachLine(_ body: (_ number: Int, _ line: UnsafeRawBufferPointer?) throws -> Void) throws {
        let lines = try LineFile(path: path, maxLineBytes: maxLineBytes)
        while try lines.next(body) != nil {}
    }
}

/// A pull-based line reader over a file descriptor with one reused buffer (raw memory: lines
/// are handed out without retaining or checking access to an array per line).
final class LineFile {
    let path: String
    private let fd: Int32
    private let maxLineBytes: Int
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var filled = 0
    private var eof = false
    private var lineNumber = 0
    private var skippingLongLine = false
    private static let chunk = 1 << 18

    init(path: String, maxLineBytes: Int) throws {
        self.path = path
        self.maxLineBytes = maxLineBytes
        let fd: Int32 = path == "-" ? 0 : open(path, O_RDONLY)
        guard fd >= 0 else { throw CaptureError(path: path, errno: errno) }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            if fd != 0 { close(fd) }
            throw CaptureError(path: path, reason: "is a directory")
        }
        self.fd = fd
        capacity = LineFile.chunk * 2
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        if fd != 0 { close(fd) }
        buffer.deallocate()
    }

    /// Calls `body` with the next line and returns its result; `nil` at the end of the file.
    func next<R>(_ body: (_ number: Int, _ line: UnsafeRawBufferPointer?) throws -> R) throws -> R? {
        while true {
            let base = buffer
            if start < filled, let p = memchr(base + start, 0x0A, filled - start) {
                let nl = UnsafeRawPointer(p) - UnsafeRawPointer(base)
                let from = start
                start = nl + 1
                if skippingLongLine {
                    skippingLongLine = false
                    continue
                }
                lineNumber += 1
                return try body(lineNumber, UnsafeRawBufferPointer(start: base + from, count: nl - from))
            }
            if eof {
                guard start < filled else { return nil }
                let from = start
                start = filled
                if skippingLongLine { return nil }
                lineNumber += 1
                return try body(lineNumber, UnsafeRawBufferPointer(start: buffer + from, count: filled - from))
            }
            // compact, then read more
            if start > 0 {
                let rest = filled - start
                if rest > 0 { memmove(buffer, buffer + start, rest) }
                filled = rest
                start = 0
            }
            if filled > maxLineBytes {
                filled = 0
                if !skippingLongLine {
                    skippingLongLine = true
                    lineNumber += 1
                    return try body(lineNumber, nil)
                }
            }
            if capacity - filled < LineFile.chunk {
                let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 16)
                grown.copyMemory(from: buffer, byteCount: filled)
                buffer.deallocate()
                buffer = grown
                capacity *= 2
            }
            let n = read(fd, buffer + filled, capacity - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw CaptureError(path: path, errno: errno)
            }
            if n == 0 { eof = true } else { filled += n }
        }
    }
}

/// A capture file could not be read or written.
public struct CaptureError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    init(path: String, errno code: Int32) {
        self.path = path
        self.reason = String(cString: strerror(code))
    }

    public var description: String { "capture \(path): \(reason)" }
}
