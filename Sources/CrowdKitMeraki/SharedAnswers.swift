import Foundation

/// Requests for the same key share one answer: a request already in flight is joined, and a
/// successful answer is reused for ``ttl``. Failures are shared only by the requests that were
/// waiting for them; the next request asks again.
///
/// Used for video links: every zone of a camera that fills up at the same moment needs the same
/// link (same serial, same second), so they cost one Dashboard API call instead of one each.
///
/// `@unchecked Sendable` is safe: the dictionaries are only touched under `lock`.
final class SharedAnswers<Key: Hashable & Sendable, Value: Sendable, Failure: Error>: @unchecked Sendable {
    typealias Answer = Result<Value, Failure>

    private let lock = NSLock()
    private var inFlight: [Key: Task<Answer, Never>] = [:]
    private var recent: [Key: (value: Value, until: ContinuousClock.Instant)] = [:]
    private let ttl: Duration
    private let capacity: Int

    init(ttl: Duration = .seconds(60), capacity: Int = 4_096) {
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    /// The answer for `key`: reused, joined, or fetched with `fetch` (which runs to its end even
    /// when the caller stops waiting, so that the others waiting get it).
    func answer(for key: Key, _ fetch: @escaping @Sendable () async -> Answer) async -> Answer {
        switch lookup(key, fetch) {
        case .reused(let value): return .success(value)
        case .pending(let task): return await task.value
        }
    }

    private enum Lookup {
        case reused(Value)
        case pending(Task<Answer, Never>)
    }

    private func lookup(_ key: Key, _ fetch: @escaping @Sendable () async -> Answer) -> Lookup {
        let now = ContinuousClock.now
        lock.lock()
        defer { lock.unlock() }
        if let hit = recent[key], hit.until > now { return .reused(hit.value) }
        if let running = inFlight[key] { return .pending(running) }
        let task = Task {
            let answer = await fetch()
            self.finish(key, answer)
            return answer
        }
        inFlight[key] = task
        return .pending(task)
    }

    private func finish(_ key: Key, _ answer: Answer) {
        let now = ContinuousClock.now
        lock.lock()
        defer { lock.unlock() }
        inFlight[key] = nil
        guard case .success(let value) = answer else { return }
        if recent.count >= capacity {
            recent = recent.filter { $0.value.until > now }
            if recent.count >= capacity { recent.removeAll(keepingCapacity: true) }
        }
        recent[key] = (value, now + ttl)
    }
}
