import CMosquitto
import CMosquittoReads
import CrowdKitCore
import Dispatch
import Foundation
import Logging
import Synchronization

/// Subscriptions (kept and renewed after every reconnection) and publishing.
extension ClientCore {
    // MARK: - Subscriptions and publishing

    func subscribe(_ subs: [Subscription]) async throws {
        let connected = control.withLock { c in
            for s in subs where !c.subscriptions.contains(s) { c.subscriptions.append(s) }
            if c.state == .connected { c.pendingUserSubscribes += 1 }
            return c.state == .connected
        }
        guard connected, !subs.isEmpty else { return }
        var lastMid: Int32 = 0
        var failure: Int32?
        _ = handle.with { mosq in
            for s in subs {
                var mid: Int32 = 0
                let rc = mosquitto_subscribe(mosq, &mid, s.filter, s.qos)
                if rc != MOSQ_ERR_SUCCESS.rawValue { failure = rc } else { lastMid = mid }
            }
        }
        if let failure {
            control.withLock { $0.pendingUserSubscribes -= 1 }
            // Not connected right now: the subscription is kept and sent on the next connection.
            if failure == MOSQ_ERR_NO_CONN.rawValue { return }
            throw MQTTError(.subscribeFailed, broker: broker, reason: String(cString: mosquitto_strerror(failure)))
        }
        let timeout = configuration.connectTimeout
        let timer = Task { [self, lastMid] in
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled {
                let w = control.withLock { $0.subscribeWaiters.removeValue(forKey: lastMid) }
                w?.resume(throwing: MQTTError(.timeout, broker: broker, reason: "no SUBACK within \(timeout)"))
            }
        }
        defer { timer.cancel() }
        try await withCheckedThrowingContinuation { (k: CheckedContinuation<Void, any Error>) in
            let early: Bool? = control.withLock { c in
                c.pendingUserSubscribes -= 1
                if let refused = c.unclaimedAcks.removeValue(forKey: lastMid) { return refused }
                if c.exited { return true }
                c.subscribeWaiters[lastMid] = k
                return nil
            }
            switch early {
            case nil: break
            case false?: k.resume()
            case true?:
                k.resume(throwing: MQTTError(.subscribeFailed, broker: broker, reason: "the broker refused the subscription"))
            }
        }
    }

    /// Removes subscriptions: forgotten for later connections, and an UNSUBSCRIBE sent now when
    /// connected. Not waited for: the broker handles it in order with what this client sent
    /// before it (a subscription made first is in effect before the old one ends).
    func unsubscribe(_ filters: [String]) throws(MQTTError) {
        guard !filters.isEmpty else { return }
        let gone = Set(filters)
        let connected = control.withLock { c in
            c.subscriptions.removeAll { gone.contains($0.filter) }
            return c.state == .connected
        }
        guard connected else { return }
        var failure: Int32?
        _ = handle.with { mosq in
            for f in filters {
                let rc = mosquitto_unsubscribe(mosq, nil, f)
                if rc != MOSQ_ERR_SUCCESS.rawValue { failure = rc }
            }
        }
        // not connected right now: the next connection subscribes without it
        if let failure, failure != MOSQ_ERR_NO_CONN.rawValue {
            throw MQTTError(.subscribeFailed, broker: broker, reason: String(cString: mosquitto_strerror(failure)))
        }
    }

    func publish(topic: String, payload: [UInt8], qos: Int32, retain: Bool) throws(MQTTError) {
        let rc = handle.with { mosq in
            payload.withUnsafeBytes { p in
                mosquitto_publish(mosq, nil, topic, Int32(p.count), p.baseAddress, qos, retain)
            }
        }
        guard let rc else { throw MQTTError(.shutDown, broker: broker, reason: "") }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            let code: MQTTError.Code = rc == MOSQ_ERR_NO_CONN.rawValue ? .notConnected : .publishFailed
            throw MQTTError(code, broker: broker, reason: String(cString: mosquitto_strerror(rc)))
        }
    }

}
