/// An open-addressing hash table from topic bytes to a small integer, so the hot path looks up a
/// zone without allocating a `String` per message. Keys live in one byte arena. The table only
/// grows with the number of distinct topics, and stops caching beyond ``maxEntries``.
@usableFromInline
struct TopicTable {
    /// 8 bytes, eight to a cache line: with many zones the probe is the lookup's one random
    /// access (a table of 100,000 topics takes 2 MB). The low 32 bits of the hash place an
    /// entry (the table never has more than 2^21 places) and screen the comparison; the key and
    /// value are in `keys`, in the order topics were first seen (which is, in a feed, about the
    /// order they come again).
    @usableFromInline struct Entry {
        @usableFromInline var hash: UInt32
        /// Index in `keys` plus one; 0: an empty place.
        @usableFromInline var key: UInt32
        @inlinable init(hash: UInt32, key: UInt32) {
            self.hash = hash
            self.key = key
        }
    }

    @usableFromInline struct Key {
        @usableFromInline var offset: UInt32
        @usableFromInline var length: UInt32
        @usableFromInline var value: Int32
        @inlinable init(offset: UInt32, length: UInt32, value: Int32) {
            self.offset = offset
            self.length = length
            self.value = value
        }
    }

    @usableFromInline static let maxEntries = 1 << 20
    @usableFromInline var arena: [UInt8] = []
    @usableFromInline var keys: [Key] = []
    @usableFromInline var entries: [Entry]
    @usableFromInline var mask: Int
    @usableFromInline var count: Int { keys.count }

    @usableFromInline init() {
        entries = Array(repeating: Entry(hash: 0, key: 0), count: 1024)
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
        index(of: key, hash: hash).map { keys[$0].value }
    }

    /// The index in `keys` after the key ``lookupFollowingOrder(_:hash:)`` found last: a feed
    /// whose zones report in a stable order (each camera's zones in turn, round after round) finds
    /// its next topic there, in `keys` and `arena` read in order, without the random access into
    /// `entries` that misses the cache when there are many topics.
    @usableFromInline var following = 0

    /// ``lookup(_:hash:)``, trying first the key after the one found last (``following``); the
    /// same answer either way. `hash` is only computed when that one is not it.
    @inlinable
    mutating func lookupFollowingOrder(_ key: UnsafeRawBufferPointer, hash: () -> UInt64) -> (value: Int32?, hash: UInt64?) {
        let i = following
        if i < keys.count {
            let k = keys[i]
            if Int(k.length) == key.count
                && arena.withUnsafeBytes({ a in memcmpEqual(a.baseAddress! + Int(k.offset), key.baseAddress, key.count) })
            {
                following = i + 1
                return (k.value, nil)
            }
        }
        let h = hash()
        guard let found = index(of: key, hash: h) else { return (nil, h) }
        following = found + 1
        return (keys[found].value, h)
    }

    /// The index in `keys` of `key`, or `nil`.
    @inlinable
    func index(of key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let h = UInt32(truncatingIfNeeded: hash)
        var i = Int(h) & mask
        while true {
            let e = entries[i]
            if e.key == 0 { return nil }
            if e.hash == h {
                let k = keys[Int(e.key) - 1]
                if Int(k.length) == key.count {
                    let equal = arena.withUnsafeBytes { a in
                        memcmpEqual(a.baseAddress! + Int(k.offset), key.baseAddress, key.count)
                    }
                    if equal { return Int(e.key) - 1 }
                }
            }
            i = (i + 1) & mask
        }
    }

    @usableFromInline
    mutating func insert(_ key: UnsafeRawBufferPointer, hash: UInt64, value: Int32) {
        guard count < TopicTable.maxEntries, arena.count + key.count <= Int(UInt32.max) else { return }
        if (count + 1) * 2 > entries.count { grow() }
        keys.append(Key(offset: UInt32(arena.count), length: UInt32(key.count), value: value))
        arena.append(contentsOf: key)
        place(Entry(hash: UInt32(truncatingIfNeeded: hash), key: UInt32(keys.count)))
    }

    @usableFromInline
    mutating func place(_ entry: Entry) {
        var i = Int(entry.hash) & mask
        while entries[i].key != 0 { i = (i + 1) & mask }
        entries[i] = entry
    }

    @usableFromInline
    mutating func grow() {
        let old = entries
        entries = Array(repeating: Entry(hash: 0, key: 0), count: old.count * 2)
        mask = entries.count - 1
        for e in old where e.key != 0 { place(e) }
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
