import CrowdKitCore
import Dispatch

/// A bounded buffer between one producer thread (libmosquitto's) and one consuming task.
///
/// The producer copies each message's bytes into one ``RawMessageBatch`` under a lock. When
/// `capacity` messages wait, it blocks (up to `fullWait`) until the consumer takes them: the
/// network thread then stops reading, so the backlog waits in the socket and the broker's queue
/// instead of being lost. What still finds the buffer full after that wait (a consumer that does
/// not move) is dropped and counted, without waiting again until the consumer has taken a batch.
/// The consumer swaps the whole batch out in one step (its emptied batch goes back, so steady
/// state allocates nothing) and suspends only when nothing is buffered.
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
        /// No more waiting for room (the client is stopping).
        var noWaiting = false
        /// The producer is blocked until the consumer takes a batch.
        var producerWaiting = false
        /// A wait for room timed out: drop at once until the consumer takes a batch.
        var overflowing = false
        var counters = Counters()

        /// Counts a message that arrived (and was dropped, or not).
        mutating func count(receivedAt: Int64, dropped: Bool) {
            counters.received += 1
            counters.lastReceivedAt = receivedAt
            if dropped { counters.dropped += 1 }
        }
    }

    let capacity: Int
    /// How long the producer waits for room before dropping (`.zero`: drop at once).
    let fullWait: Duration
    /// Signalled when the consumer takes a batch (or the feed ends) while the producer waits.
    private let room = DispatchSemaphore(value: 0)
    /// After the consumer had to wait, it lets this much time pass before taking a small batch,
    /// so a busy feed wakes it about once per interval instead of once per message.
    let coalescing: Duration
    /// What counts as a small batch.
    static var smallBatch: Int { 512 }
    private let state: LockedBox<State>

    init(capacity: Int, fullWait: Duration = .zero, coalescing: Duration = .milliseconds(1)) {
        self.capacity = max(1, capacity)
        self.fullWait = max(.zero, fullWait)
        self.coalescing = coalescing
        self.state = LockedBox(State())
    }

    /// Copies one message in (producer side). While the buffer is full it waits for the consumer,
    /// at most `fullWait` in all. Returns `false` when the message was dropped (the buffer stayed
    /// full, or the feed ended).
    @discardableResult
    func push(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, flags: UInt8, receivedAt: Int64) -> Bool {
        var deadline: DispatchTime?
        while true {
            let (waiter, outcome): (UnsafeContinuation<Void, Never>?, PushOutcome) = state.withLock { s in
                guard !s.finished else {
                    // counted as received, not as dropped: the feed has ended
                    s.count(receivedAt: receivedAt, dropped: false)
                    return (nil, .dropped)
                }
                guard s.items.count < capacity else {
                    let timedOut = deadline.map { DispatchTime.now() >= $0 } ?? false
                    if fullWait == .zero || s.overflowing || s.cancelled || s.noWaiting || timedOut {
                        if timedOut { s.overflowing = true }
                        s.count(receivedAt: receivedAt, dropped: true)
                        return (nil, .dropped)
                    }
                    s.producerWaiting = true
                    return (nil, .wait)
                }
                s.count(receivedAt: receivedAt, dropped: false)
                s.items.append(topic: topic, payload: payload, receivedAt: receivedAt, flags: flags)
                let w = s.waiter
                s.waiter = nil
                return (w, .accepted)
            }
            switch outcome {
            case .accepted:
                waiter?.resume()
                return true
            case .dropped:
                return false
            case .wait:
                let until = deadline ?? .now(plus: fullWait)
                deadline = until
                // A signal left over from an earlier timed-out wait only costs one more check.
                _ = room.wait(timeout: until)
            }
        }
    }

    private enum PushOutcome { case accepted, dropped, wait }

    /// A producer waiting for room stops waiting (and drops what does not fit) from now on: the
    /// client is stopping.
    func stopWaiting() { end { $0.noWaiting = true } }

    /// Ends the feed: the consumer gets what is buffered, then the end.
    func finish() { end { $0.finished = true } }

    /// Marks the feed ended (`mark`) and wakes a waiting consumer and a waiting producer.
    private func end(_ mark: (inout State) -> Void) {
        let (waiter, producer) = state.withLock { s in
            mark(&s)
            let w = s.waiter
            s.waiter = nil
            defer { s.producerWaiting = false }
            return (w, s.producerWaiting)
        }
        waiter?.resume()
        if producer { room.signal() }
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
            let (ready, producer): (Bool?, Bool) = state.withLock { s in
                if !s.items.isEmpty {
                    swap(&s.items, &batch)
                    s.overflowing = false
                    defer { s.producerWaiting = false }
                    return (true, s.producerWaiting)
                }
                if s.finished || s.cancelled { return (false, false) }
                return (nil, false)
            }
            if producer { room.signal() }
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

extension DispatchTime {
    /// Now plus `duration` (whole nanoseconds; a duration too long for that is capped).
    static func now(plus duration: Duration) -> DispatchTime {
        let c = duration.components
        let (scaled, overflow) = c.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return .now() + .nanoseconds(overflow ? Int.max : Int(clamping: scaled.addingReportingOverflow(c.attoseconds / 1_000_000_000).partialValue))
    }
}
