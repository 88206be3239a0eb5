/// The zones whose state a ``ZoneStateBatch`` holds, by number: each (zone, policy) pair is
/// numbered once, in the order it is first seen, and never renumbered.
///
/// A ``DetectionEngine`` numbers its zones once and then hands over only numbers and state bytes,
/// so that saving 100,000 changed zones a second costs no string hashing and no allocation per
/// zone. A ``ZoneStateStore`` that keeps zones by key resolves each number once (``subscript(_:)``)
/// and remembers the result for as long as the batches it gets come from the same directory.
/// Safe to share between tasks; numbering takes a lock, reading an entry too.
public final class ZoneDirectory: Sendable {
    /// One numbered zone: its key and the policy whose state it saves.
    public struct Entry: Hashable, Sendable {
        public let zone: ZoneKey
        /// The ``DetectionPolicy/name`` of the policy that writes the state.
        public let policy: String

        public init(zone: ZoneKey, policy: String) {
            self.zone = zone
            self.policy = policy
        }
    }

    private let box = LockedBox<(entries: [Entry], ids: [Entry: Int32])>(([], [:]))

    public init() {}

    /// The number of `zone` saved by `policy`: the known one, or the next.
    public func id(for zone: ZoneKey, policy: String) -> Int32 {
        let entry = Entry(zone: zone, policy: policy)
        return box.withLock { b in
            if let id = b.ids[entry] { return id }
            let id = Int32(b.entries.count)
            b.entries.append(entry)
            b.ids[entry] = id
            return id
        }
    }

    /// The zone and policy numbered `id` (which this directory gave out).
    public subscript(id: Int32) -> Entry { box.withLock { $0.entries[Int(id)] } }

    /// How many zones are numbered.
    public var count: Int { box.withLock { $0.entries.count } }
}

/// Zone states back to back in one buffer, each with its zone's number in a ``ZoneDirectory``:
/// what a ``DetectionEngine`` hands to a ``ZoneStateStore`` for the zones that changed.
///
/// A batch from ``merged(_:)`` holds each zone at most once. One from
/// ``DetectionEngine/takeChangedStates()`` (which encodes a zone each time it changes, while its
/// state is in the cache) or built by ``append(_:_:)`` may hold one twice, and then the later one
/// is the newer (stores keep the last, as ``ZoneStateStore`` requires).
public struct ZoneStateBatch: Sendable {
    /// Names the zone numbers of this batch.
    public let directory: ZoneDirectory
    @usableFromInline var ids: [Int32] = []
    /// End offset of each state in `writer`'s bytes.
    @usableFromInline var ends: [Int] = []
    /// The states' bytes; the engine encodes into it directly, then ``commit(_:)``.
    @usableFromInline var writer = StateBytesWriter(capacity: 0)
    @usableFromInline var bytes: [UInt8] { writer.storage }

    /// An empty batch of zones numbered by `directory`.
    public init(directory: ZoneDirectory) {
        self.directory = directory
    }

    /// These states, numbered by a directory of their own (in order: a zone saved twice is
    /// numbered once and appears twice, the later one last).
    public init(_ states: [SavedZoneState]) {
        self.init(directory: ZoneDirectory())
        reserve(states.count, bytes: states.reduce(0) { $0 + $1.data.count })
        for s in states { append(directory.id(for: s.zone, policy: s.policy), s.data) }
    }

    /// How many states the batch holds.
    public var count: Int { ids.count }
    public var isEmpty: Bool { ids.isEmpty }
    /// The bytes of all states together.
    public var byteCount: Int { bytes.count }

    /// Makes room for `count` more states of `bytes` bytes in all.
    public mutating func reserve(_ count: Int, bytes byteCount: Int) {
        ids.reserveCapacity(ids.count + count)
        ends.reserveCapacity(ends.count + count)
        writer.storage.reserveCapacity(writer.storage.count + byteCount)
    }

    /// Appends the state `data` of zone number `id`.
    public mutating func append(_ id: Int32, _ data: some Collection<UInt8>) {
        writer.storage.append(contentsOf: data)
        commit(id)
    }

    /// Appends the state of zone number `id` as `encode` writes it; when `encode` returns false
    /// (the state cannot be saved) nothing is appended and false is returned.
    public mutating func append(_ id: Int32, encoding encode: (inout StateBytesWriter) -> Bool) -> Bool {
        let start = writer.storage.count
        guard encode(&writer) else {
            writer.storage.removeSubrange(start...)
            return false
        }
        commit(id)
        return true
    }

    /// Ends the state written into `writer` since the last one, as zone number `id`'s.
    @inlinable
    mutating func commit(_ id: Int32) {
        ids.append(id)
        ends.append(writer.storage.count)
    }

    /// Drops what was written into `writer` since the last state.
    mutating func dropUncommitted() {
        writer.storage.removeSubrange((ends.last ?? 0)...)
    }

    /// The zone number of the `i`th state.
    @inlinable
    public func zoneID(at i: Int) -> Int32 { ids[i] }

    /// The bytes of the `i`th state.
    @inlinable
    public func data(at i: Int) -> ArraySlice<UInt8> { bytes[(i == 0 ? 0 : ends[i - 1])..<ends[i]] }

    /// Calls `body` with the bytes of the `i`th state (no copy).
    @inlinable
    public func withData<R>(at i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try writer.storage.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[(i == 0 ? 0 : ends[i - 1])..<ends[i]])) }
    }

    /// Calls `body` with each state's zone number and bytes, in order (no copy): the fast way
    /// for a store to take a whole batch.
    @inlinable
    public func forEachState(_ body: (Int32, UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        try writer.storage.withUnsafeBufferPointer { all in
            var start = 0
            for i in 0..<ids.count {
                let end = ends[i]
                try body(ids[i], UnsafeBufferPointer(rebasing: all[start..<end]))
                start = end
            }
        }
    }

    /// The `i`th state with its zone and policy (resolved through the directory).
    public func state(at i: Int) -> SavedZoneState {
        let entry = directory[ids[i]]
        return SavedZoneState(zone: entry.zone, policy: entry.policy, data: Array(data(at: i)))
    }

    /// Every state with its zone and policy, in order: the form for stores that keep zones by key.
    public var states: [SavedZoneState] { (0..<count).map(state(at:)) }

    /// One batch per directory (in the order the directories first appear) holding, for each
    /// zone, its state from the latest batch that has it (later batches are newer).
    public static func merged(_ batches: [ZoneStateBatch]) -> [ZoneStateBatch] {
        guard batches.count > 1 else { return batches }
        var groups: [[ZoneStateBatch]] = []
        for b in batches where !b.isEmpty {
            if let g = groups.firstIndex(where: { $0[0].directory === b.directory }) {
                groups[g].append(b)
            } else {
                groups.append([b])
            }
        }
        return groups.map { group in
            guard group.count > 1 else { return group[0] }
            var seen = [Bool](repeating: false, count: group[0].directory.count)
            var out = ZoneStateBatch(directory: group[0].directory)
            out.reserve(group.reduce(0) { $0 + $1.count }, bytes: group.reduce(0) { $0 + $1.byteCount })
            // newest first: the first state met of a zone is its latest
            for b in group.reversed() {
                b.writer.storage.withUnsafeBufferPointer { bytes in
                    for i in (0..<b.count).reversed() {
                        let id = Int(b.ids[i])
                        if id >= seen.count { seen += [Bool](repeating: false, count: id + 1 - seen.count) }
                        guard !seen[id] else { continue }
                        seen[id] = true
                        let start = i == 0 ? 0 : b.ends[i - 1]
                        out.writer.storage.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<b.ends[i]]))
                        out.commit(b.ids[i])
                    }
                }
            }
            return out
        }
    }
}
