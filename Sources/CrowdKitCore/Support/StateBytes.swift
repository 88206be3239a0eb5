/// Appends values to a compact little-endian byte string: how zone states are saved
/// (``DetectionPolicy/encodeState(_:into:)``). Cheap enough to run for every zone that changed,
/// every second.
public struct StateBytesWriter: Sendable {
    @usableFromInline var storage: [UInt8]

    /// What was written.
    public var bytes: [UInt8] { storage }

    public init(capacity: Int = 96) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    /// Writes into `buffer`'s storage from its start (its capacity is reused).
    public init(reusing buffer: [UInt8]) {
        storage = buffer
        storage.removeAll(keepingCapacity: true)
    }

    @inlinable
    public mutating func removeAll() { storage.removeAll(keepingCapacity: true) }

    @inlinable
    public mutating func write(_ v: Int64) {
        // byte by byte: inlined appends, no generic buffer copy (this runs for every saved zone)
        let x = UInt64(bitPattern: v)
        storage.append(UInt8(truncatingIfNeeded: x))
        storage.append(UInt8(truncatingIfNeeded: x >> 8))
        storage.append(UInt8(truncatingIfNeeded: x >> 16))
        storage.append(UInt8(truncatingIfNeeded: x >> 24))
        storage.append(UInt8(truncatingIfNeeded: x >> 32))
        storage.append(UInt8(truncatingIfNeeded: x >> 40))
        storage.append(UInt8(truncatingIfNeeded: x >> 48))
        storage.append(UInt8(truncatingIfNeeded: x >> 56))
    }

    /// An unsigned LEB128 variable-length integer (1 byte below 128, at most 10).
    @inlinable
    public mutating func write(varint v: UInt64) {
        write(reserving: 10) { $0.write(varint: v) }
    }

    /// A signed integer as a zigzag varint: small magnitudes, either sign, take one byte.
    @inlinable
    public mutating func write(zigzag v: Int64) {
        write(varint: UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    /// A time as its (wrapping) difference from `base`, zigzag-encoded: times near `base` take one
    /// to three bytes. Read back with ``StateBytesReader/readTime(relativeTo:)``.
    @inlinable
    public mutating func write(time t: Int64, relativeTo base: Int64) {
        write(zigzag: t &- base)
    }

    @inlinable
    public mutating func write(_ v: Int) { write(Int64(v)) }

    @inlinable
    public mutating func write(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { storage.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func write(_ v: Bool) { storage.append(v ? 1 : 0) }

    @inlinable
    public mutating func write(_ v: UInt8) { storage.append(v) }

    @inlinable
    public mutating func write(_ v: Double) { write(Int64(bitPattern: v.bitPattern)) }

    /// A length-prefixed UTF-8 string.
    public mutating func write(_ s: String) {
        write(UInt32(s.utf8.count))
        storage.append(contentsOf: s.utf8)
    }

    /// Writes fields through a pointer, with no check or call per byte: `body` may write at most
    /// `maxBytes` bytes (checked) into the ``RawStateWriter`` it gets, which is valid only during
    /// the call. The fast way to encode a state that is saved for every zone that changed.
    @inlinable @inline(__always)
    public mutating func write(reserving maxBytes: Int, _ body: (inout RawStateWriter) -> Void) {
        storage.append(addingCapacity: maxBytes) { span in
            span.withUnsafeMutableBufferPointer { buffer, initialized in
                var w = RawStateWriter(buffer.baseAddress! + initialized, capacity: buffer.count - initialized)
                body(&w)
                initialized += w.count
            }
        }
    }

    /// Bytes as they are (no length), from memory.
    @inlinable
    public mutating func write(raw other: UnsafeRawBufferPointer) { storage.append(contentsOf: other) }

    /// Bytes as they are (no length): for what another writer wrote.
    @inlinable
    public mutating func write(raw other: [UInt8]) { storage.append(contentsOf: other) }

    /// Length-prefixed bytes.
    public mutating func write(bytes other: [UInt8]) {
        write(UInt32(other.count))
        storage.append(contentsOf: other)
    }

    /// Length-prefixed bytes.
    public mutating func write(bytes other: some Collection<UInt8>) {
        write(UInt32(other.count))
        storage.append(contentsOf: other)
    }
}

/// Writes a state's fields into memory that ``StateBytesWriter/write(reserving:_:)`` reserved:
/// the same encodings as ``StateBytesWriter``'s methods. Writing past the reserved bytes stops
/// the process (a programming error, never input).
public struct RawStateWriter {
    @usableFromInline let base: UnsafeMutablePointer<UInt8>
    @usableFromInline let capacity: Int
    /// Bytes written so far.
    @usableFromInline var written = 0
    public var count: Int { written }

    @inlinable
    init(_ base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inlinable @inline(__always)
    public mutating func write(_ v: UInt8) {
        precondition(written < capacity, "RawStateWriter: more bytes than reserved")
        base[written] = v
        written += 1
    }

    @inlinable @inline(__always)
    public mutating func write(_ v: Bool) { write(UInt8(v ? 1 : 0)) }

    /// 8 bytes, little-endian (as ``StateBytesWriter/write(_:)-(Int64)``).
    @inlinable @inline(__always)
    public mutating func write(_ v: Int64) {
        precondition(capacity - written >= 8, "RawStateWriter: more bytes than reserved")
        UnsafeMutableRawPointer(base + written).storeBytes(of: UInt64(bitPattern: v).littleEndian, as: UInt64.self)
        written += 8
    }

    @inlinable @inline(__always)
    public mutating func write(varint v: UInt64) {
        var x = v
        while x >= 0x80 {
            write(UInt8(truncatingIfNeeded: x) | 0x80)
            x >>= 7
        }
        write(UInt8(truncatingIfNeeded: x))
    }

    @inlinable @inline(__always)
    public mutating func write(zigzag v: Int64) {
        write(varint: UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    @inlinable @inline(__always)
    public mutating func write(time t: Int64, relativeTo base: Int64) {
        write(zigzag: t &- base)
    }
}

/// Reads what a ``StateBytesWriter`` wrote, in the same order. Every read checks the bounds and
/// throws ``StateBytesError`` on short or malformed input (a hand-edited or foreign row).
public struct StateBytesReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Whether everything was read.
    public var isAtEnd: Bool { offset >= bytes.count }

    /// The bytes not read yet.
    public var rest: ArraySlice<UInt8> { bytes[min(offset, bytes.count)...] }

    private mutating func take(_ n: Int) throws(StateBytesError) -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count - offset >= n else { throw StateBytesError("truncated at byte \(offset)") }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    public mutating func readVarint() throws(StateBytesError) -> UInt64 {
        var x: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw StateBytesError("truncated at byte \(offset)") }
            let b = bytes[offset]
            offset += 1
            guard shift < 64, shift < 63 || b <= 1 else { throw StateBytesError("varint too long at byte \(offset - 1)") }
            x |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return x }
            shift += 7
        }
    }

    public mutating func readZigzag() throws(StateBytesError) -> Int64 {
        let u = try readVarint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    /// A zigzag varint that must fit an `Int`.
    public mutating func readZigzagInt() throws(StateBytesError) -> Int {
        let v = try readZigzag()
        guard let i = Int(exactly: v) else { throw StateBytesError("integer out of range at byte \(offset)") }
        return i
    }

    /// What ``StateBytesWriter/write(time:relativeTo:)`` wrote.
    public mutating func readTime(relativeTo base: Int64) throws(StateBytesError) -> Int64 {
        base &+ (try readZigzag())
    }

    public mutating func readInt64() throws(StateBytesError) -> Int64 {
        var x: UInt64 = 0
        for (i, b) in try take(8).enumerated() { x |= UInt64(b) << (8 * UInt64(i)) }
        return Int64(bitPattern: x)
    }

    public mutating func readInt() throws(StateBytesError) -> Int {
        let v = try readInt64()
        guard let i = Int(exactly: v) else { throw StateBytesError("integer out of range at byte \(offset)") }
        return i
    }

    public mutating func readUInt32() throws(StateBytesError) -> UInt32 {
        var x: UInt32 = 0
        for (i, b) in try take(4).enumerated() { x |= UInt32(b) << (8 * UInt32(i)) }
        return x
    }

    public mutating func readUInt8() throws(StateBytesError) -> UInt8 { try take(1).first! }

    public mutating func readBool() throws(StateBytesError) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let b: throw StateBytesError("not a boolean (\(b)) at byte \(offset - 1)")
        }
    }

    public mutating func readDouble() throws(StateBytesError) -> Double { Double(bitPattern: UInt64(bitPattern: try readInt64())) }

    public mutating func readString() throws(StateBytesError) -> String {
        let n = Int(try readUInt32())
        let slice = try take(n)
        guard let s = String(validating: slice, as: UTF8.self) else { throw StateBytesError("invalid UTF-8 at byte \(offset - n)") }
        return s
    }

    /// `count` bytes as they are (no length prefix).
    public mutating func readBytes(count: Int) throws(StateBytesError) -> ArraySlice<UInt8> {
        try take(count)
    }

    public mutating func readBytes() throws(StateBytesError) -> ArraySlice<UInt8> {
        let n = Int(try readUInt32())
        return try take(n)
    }
}

/// Saved state that cannot be read (truncated, corrupted, or written by another version).
public struct StateBytesError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "unreadable saved state: \(message)" }
}
