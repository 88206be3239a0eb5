import CrowdKitCore

/// A bounded buffer between one producer thread (libmosquitto's) and one consuming task.
///
/// The producer copies each message's bytes into one ``RawMessageBatch`` under a lock and never
/// waits; past `capacity` messages it drops and counts. The consumer swaps the whole batch out in
/// one step (its emptied batch goes back, so steady state allocates nothing) and suspends only
/// when nothing is buffered.
///
/// Not generic on purpose: a generic class makes every access look up its metadata at run time,
/// on libmosquitto's thread, once per message.
final class MessageBuffer: Sendable {
    struct Counters: Sendable {
        var received = 0
        var dropped = 0
        /// Epoch milliseconds of the last message received; 0 before the first.
        var lastReceivedAt: Int64 = 0
    }

    private struct State {
        var items = RawMessageBatch()
        var waiter: UnsafeContinuation<Void, Never>?
        var finished = false
        var cancelled = false
        var counters = Counters()
    }

    let capacity: Int
    /// After the consumer had to wait, it lets this much time pass before taking a small batch,
    /// so a busy feed wakes it about once per interval instead of once per message.
    let coalescing: Duration
    /// What counts as a small batch.
    static var smallBatch: Int { 512 }
    private let state: LockedBox<State>

    init(capacity: Int, coalescing: Duration = .milliseconds(1)) {
        self.capacity = max(1, capacity)
        self.coalescing = coalescing
        self.state = LockedBox(State())
    }

    /// Copies one message in (producer side; never blocks beyond the lock). Returns `false` when
    /// it was dropped because the buffer is full or finished.
    @discardableResult
    func push(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, flags: UInt8, receivedAt: Int64) -> Bool {
        let (waiter, accepted): (UnsafeContinuation<Void, Never>?, Bool) = state.withLock { s in
            s.counters.received += 1
            s.counters.lastReceivedAt = receivedAt
            guard !s.finished else { return (nil, false) }
            guard s.items.count < capacity else {
                s.counters.dropped += 1
                return (nil, false)
            }
            s.items.append(topic: topic, payload: payload, receivedAt: receivedAt, flags: flags)
            let w = s.waiter
            s.waiter = nil
            return (w, true)
        }
        waiter?.resume()
        return accepted
    }

    /// Ends the feed: the consumer gets what is buffered, then the end.
    func finish() { end { $0.finished = true } }

    /// Marks the feed ended (`mark`) and wakes a waiting consumer.
    private func end(_ mark: (inout State) -> Void) {
        let waiter = state.withLock { s in
            mark(&s)
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    var counters: Counters { state.withLock { $0.counters } }

    /// Moves everything buffered into `batch` (which must be empty), waiting while nothing is.
    /// Returns `false` at the end of the feed or when the task is cancelled.
    func drain(into batch: inout RawMessageBatch, isolation actor: isolated (any Actor)? = #isolation) async -> Bool {
        var waited = false
        while true {
            if waited && coalescing > .zero {
                waited = false
                let small = state.withLock { s in s.items.count < Self.smallBatch && !s.finished && !s.cancelled }
                if small { try? await Task.sleep(for: coalescing) }
            }
            let ready: Bool? = state.withLock { s in
                if !s.items.isEmpty {
                    swap(&s.items, &batch)
                    return true
                }
                if s.finished || s.cancelled { return false }
                return nil
            }
            if let ready { return ready }
            waited = true
            await withTaskCancellationHandler {
                await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s in
                        if !s.items.isEmpty || s.finished || s.cancelled { return true }
                        s.waiter = c
                        return false
                    }
                    if resumeNow { c.resume() }
                }
            } onCancel: {
                end { $0.cancelled = true }
            }
        }
    }
}
