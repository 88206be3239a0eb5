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
        withUnsafeBytes(of: UInt64(bitPattern: v).littleEndian) { storage.append(contentsOf: $0) }
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
