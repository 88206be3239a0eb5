import CMosquitto
import CMosquittoReads
import CrowdKitCore
import Dispatch
import Foundation
import Logging
import Synchronization

/// The network thread: connecting, the read loop, reconnecting with back-off, connection errors.
extension ClientCore {
    // MARK: - The network thread

    func runNetworkThread() {
        defer { finishNetworkThread() }
        guard let mosq = handle.unsafeRaw else { return }
        reads?.attachToCurrentThread()
        defer { reads?.detachFromCurrentThread() }
        let c = configuration
        let keepAlive = Int32(c.keepAlive.components.seconds)
        reads?.track(socket: -1)
        var rc = mosquitto_connect(mosq, c.host, Int32(c.port), keepAlive)
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            let error = connectionError(rc)
            guard c.retryFirstConnection else {
                failFirst(error)
                return
            }
            noteFirstConnectionFailed(error)
            reconnect(mosq, logFailures: true)
            if stopping.load(ordering: .acquiring) { return }
        }
        while true {
            reads?.track(socket: mosquitto_socket(mosq))
            if let reads, reads.pending > 0 {
                // Packets already read from the socket: `select` in mosquitto_loop would not see
                // them. Hand them over, then do the loop's other work (pings, writes) directly.
                rc = readBurst(mosq)
                if rc == MOSQ_ERR_SUCCESS.rawValue { rc = mosquitto_loop_misc(mosq) }
                if rc == MOSQ_ERR_SUCCESS.rawValue && mosquitto_want_write(mosq) { rc = mosquitto_loop_write(mosq, 1) }
            } else {
                rc = mosquitto_loop(mosq, 1000, 1)
                if rc == MOSQ_ERR_SUCCESS.rawValue { rc = readBurst(mosq) }
            }
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                // After shutdown() the loop keeps running until the queued packets and the
                // DISCONNECT are written (the socket then closes), bounded by the stop deadline.
                if stopping.load(ordering: .acquiring) && DispatchTime.now().uptimeNanoseconds > stopDeadline.load(ordering: .acquiring) {
                    break
                }
                continue
            }
            if stopping.load(ordering: .acquiring) { break }
            let error = connectionError(rc)
            let everConnected = control.withLock { c in
                if !c.keepLastError { c.lastError = error.description }
                c.keepLastError = false
                c.state = .disconnected
                return c.everConnected
            }
            if !everConnected {
                guard c.retryFirstConnection else {
                    failFirst(error)
                    return
                }
                noteFirstConnectionFailed(error)
                reconnect(mosq, logFailures: true)
                if stopping.load(ordering: .acquiring) { break }
                continue
            }
            logger.warning("mqtt connection lost; reconnecting", metadata: ["mqtt.reason": "\(error.reason)"])
            reconnect(mosq)
            if stopping.load(ordering: .acquiring) { break }
        }
    }

    /// Whether libmosquitto's reads of this client's socket are buffered.
    var bufferedReads: Bool { reads != nil }

    /// Socket reads made to fill the read buffer so far (0 when reads are not buffered).
    var bufferFills: UInt64 { reads?.fills ?? 0 }

    /// `mosquitto_loop` waits in `select` before every packet it reads. While messages keep
    /// coming, read on without that wait: up to 256 more packets, as long as each read delivers a
    /// message (a read that finds nothing, or reads another kind of packet, ends the burst and
    /// leaves writes, pings and waiting to `mosquitto_loop`).
    ///
    /// A burst that ran dry after some messages means this thread has caught up with the broker:
    /// it then pauses briefly (``MQTTClient/Configuration/catchUpPause``) so that the next
    /// messages pile up in the socket and are read in one go, instead of waking up, and making the
    /// kernel acknowledge, once per message while the broker needs the CPU to send them.
    func readBurst(_ mosq: OpaquePointer) -> Int32 {
        var read = 0
        for _ in 0..<256 {
            let before = delivered.load(ordering: .relaxed)
            let rc = mosquitto_loop_read(mosq, 1)
            if rc != MOSQ_ERR_SUCCESS.rawValue { return rc }
            if delivered.load(ordering: .relaxed) == before {
                if read > 0, let pause = catchUpPauseMicroseconds { usleep(pause) }
                break
            }
            read += 1
        }
        return MOSQ_ERR_SUCCESS.rawValue
    }

    /// A first connection failed and will be tried again: the status says why, the log says when.
    func noteFirstConnectionFailed(_ error: MQTTError) {
        let delay = control.withLock { c in
            c.lastError = error.description
            c.state = .connecting
            return c.backoff
        }
        logger.warning(
            "cannot connect to the broker yet; trying again", metadata: ["mqtt.broker": "\(broker)", "mqtt.reason": "\(error.reason)", "mqtt.retry.in": "\(delay)"])
    }

    /// Retries until connected (TCP and TLS; the CONNACK comes through the loop) or stopping.
    /// `logFailures`: each failed attempt is logged (one line per attempt interval) rather than
    /// only at debug level.
    func reconnect(_ mosq: OpaquePointer, logFailures: Bool = false) {
        while !stopping.load(ordering: .acquiring) {
            let delay = control.withLock { c in
                let d = c.backoff
                c.backoff = min(d * 2, configuration.reconnect.maxDelay)
                c.state = .connecting
                return d
            }
            _ = wakeup.wait(timeout: .now(plus: delay))
            if stopping.load(ordering: .acquiring) { return }
            // A new connection may get the old descriptor number: nothing buffered carries over.
            reads?.track(socket: -1)
            let rc = mosquitto_reconnect(mosq)
            if rc == MOSQ_ERR_SUCCESS.rawValue { return }
            let error = connectionError(rc)
            control.withLock { c in
                c.lastError = error.description
                c.state = .disconnected
            }
            let next = control.withLock { $0.backoff }
            if logFailures {
                logger.warning(
                    "cannot connect to the broker yet; trying again", metadata: ["mqtt.broker": "\(broker)", "mqtt.reason": "\(error.reason)", "mqtt.retry.in": "\(next)"])
            } else {
                logger.debug("mqtt reconnect failed", metadata: ["mqtt.reason": "\(error.reason)", "mqtt.retry.in": "\(next)"])
            }
        }
    }

    func finishNetworkThread() {
        // Teardown order: the caller sent DISCONNECT, the loop has stopped, now destroy.
        if let mosq = handle.take() { mosquitto_destroy(mosq) }
        buffer.finish()
        let waiters = control.withLock { c in
            c.state = .finished
            c.exited = true
            let w = c.exitWaiters
            c.exitWaiters = []
            let subs = c.subscribeWaiters.values
            c.subscribeWaiters = [:]
            return (w, Array(subs))
        }
        for w in waiters.0 { w.resume() }
        for w in waiters.1 { w.resume(throwing: MQTTError(.shutDown, broker: broker, reason: "")) }
    }

    /// The error for a failed libmosquitto call, in its own words plus the last thing it logged.
    func connectionError(_ rc: Int32) -> MQTTError {
        let savedErrno = errno
        var reason: String
        let code: MQTTError.Code
        switch rc {
        case MOSQ_ERR_ERRNO.rawValue:
            reason = String(cString: strerror(savedErrno))
            code = .connectionFailed
        case MOSQ_ERR_TLS.rawValue, MOSQ_ERR_TLS_HANDSHAKE.rawValue:
            reason = String(cString: mosquitto_strerror(rc))
            code = .tls
        case MOSQ_ERR_EAI.rawValue:
            reason = "host not found (\(String(cString: mosquitto_strerror(rc))))"
            code = .connectionFailed
        default:
            reason = String(cString: mosquitto_strerror(rc))
            code = .connectionFailed
        }
        if let logged = lastLog.withLock({ l in
            let v = l
            l = nil
            return v
        }), !logged.isEmpty {
            reason += " (\(logged))"
        }
        return MQTTError(code, broker: broker, reason: reason)
    }

}
