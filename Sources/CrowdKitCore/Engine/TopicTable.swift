/// An open-addressing hash table from topic bytes to a small integer, so the hot path looks up a
/// zone without allocating a `String` per message. Keys live in one byte arena. The table only
/// grows with the number of distinct topics, and stops caching beyond ``maxEntries``.
@usableFromInline
struct TopicTable {
    /// 16 bytes, four to a cache line: with many zones the probe is the lookup's one likely
    /// cache miss. The low 32 bits of the hash place an entry (the table never has more than
    /// 2^21 places) and screen the comparison of keys.
    @usableFromInline struct Entry {
        @usableFromInline var hash: UInt32
        @usableFromInline var offset: UInt32
        @usableFromInline var length: Int32
        @usableFromInline var value: Int32
        @inlinable init(hash: UInt32, offset: UInt32, length: Int32, value: Int32) {
            self.hash = hash
            self.offset = offset
            self.length = length
            self.value = value
        }
    }

    @usableFromInline static let maxEntries = 1 << 20
    @usableFromInline var arena: [UInt8] = []
    @usableFromInline var entries: [Entry]
    @usableFromInline var mask: Int
    @usableFromInline var count = 0

    @usableFromInline init() {
        entries = Array(repeating: Entry(hash: 0, offset: 0, length: -1, value: 0), count: 1024)
        mask = 1023
    }

    @inlinable
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        var i = 0
        let n = key.count
        while i + 8 <= n {
            let w = key.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(key[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 29
        return h
    }

    @inlinable
    func lookup(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int32? {
        let h = UInt32(truncatingIfNeeded: hash)
        var i = Int(h) & mask
        while true {
            let e = entries[i]
            if e.length < 0 { return nil }
            if e.hash == h && Int(e.length) == key.count {
                let equal = arena.withUnsafeBytes { a in
                    memcmpEqual(a.baseAddress! + Int(e.offset), key.baseAddress, key.count)
                }
                if equal { return e.value }
            }
            i = (i + 1) & mask
        }
    }

    @usableFromInline
    mutating func insert(_ key: UnsafeRawBufferPointer, hash: UInt64, value: Int32) {
        guard count < TopicTable.maxEntries else { return }
        if (count + 1) * 2 > entries.count { grow() }
        guard arena.count + key.count <= Int(UInt32.max) else { return }
        let offset = UInt32(arena.count)
        arena.append(contentsOf: key)
        place(Entry(hash: UInt32(truncatingIfNeeded: hash), offset: offset, length: Int32(key.count), value: value))
        count += 1
    }

    @usableFromInline
    mutating func place(_ entry: Entry) {
        var i = Int(entry.hash) & mask
        while entries[i].length >= 0 { i = (i + 1) & mask }
        entries[i] = entry
    }

    @usableFromInline
    mutating func grow() {
        let old = entries
        entries = Array(repeating: Entry(hash: 0, offset: 0, length: -1, value: 0), count: old.count * 2)
        mask = entries.count - 1
        for e in old where e.length >= 0 { place(e) }
    }
}

@inlinable
func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer?, _ n: Int) -> Bool {
    guard let b else { return n == 0 }
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
