import CMosquitto
import CMosquittoReads
import CrowdKitCore
import Dispatch
import Foundation
import Logging
import Synchronization

/// The state libmosquitto's callbacks reach through the user-data pointer, and the network thread.
///
/// Owned by ``MQTTClient`` and retained by the network thread while it runs; the handle is given
/// `Unmanaged.passUnretained(core)` and destroyed by that thread before it lets go of the core.
final class ClientCore: Sendable {
    struct Subscription: Sendable, Hashable {
        var filter: String
        var qos: Int32
    }

    private struct Control {
        var state: SourceStatus.State = .unknown
        var started = false
        var everConnected = false
        var reconnects = 0
        var lastError: String?
        /// Set when the broker refused the connection, so the socket closing right after does
        /// not replace the refusal with "connection lost".
        var keepLastError = false
        var subscriptions: [Subscription] = []
        var subscribeWaiters: [Int32: CheckedContinuation<Void, any Error>] = [:]
        var pendingUserSubscribes = 0
        var unclaimedAcks: [Int32: Bool] = [:]
        var firstConnect: CheckedContinuation<Void, any Error>?
        var firstFailure: MQTTError?
        var firstSubscribeMid: Int32?
        var backoff: Duration
        var exited = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let configuration: MQTTClient.Configuration
    let logger: Logger
    let broker: String
    /// ``MQTTClient/Configuration/catchUpPause`` in microseconds; `nil` for none.
    private let catchUpPauseMicroseconds: UInt32?
    let buffer: MessageBuffer
    let handle: MosquittoHandle
    let stopping = Atomic<Bool>(false)
    /// Messages handed over by `didReceive` (network thread only; for the read burst).
    private let delivered = Atomic<Int>(0)
    /// `DispatchTime` uptime (ns) after which a stopping network thread gives up flushing.
    private let stopDeadline = Atomic<UInt64>(.max)
    private let wakeup = DispatchSemaphore(value: 0)
    private let control: Mutex<Control>
    /// The last error or warning libmosquitto logged (TLS details); separate lock because the
    /// log callback can run inside other libmosquitto calls.
    private let lastLog = Mutex<String?>(nil)
    /// The socket read buffer (``MQTTClient/Configuration/bufferedReads``), used by the network
    /// thread only; `nil` when reads are not buffered.
    private let reads: ReadBuffer?

    init(configuration: MQTTClient.Configuration, logger: Logger) throws(MQTTError) {
        self.configuration = configuration
        self.broker = configuration.broker
        let pause = configuration.catchUpPause
        let micros = pause.components.seconds * 1_000_000 + pause.components.attoseconds / 1_000_000_000_000
        self.catchUpPauseMicroseconds = micros > 0 ? UInt32(min(micros, 100_000)) : nil
        var logger = logger
        logger[metadataKey: "mqtt.broker"] = "\(configuration.broker)"
        self.logger = logger
        self.buffer = MessageBuffer(capacity: configuration.bufferCapacity)
        self.control = Mutex(Control(backoff: configuration.reconnect.initialDelay))
        self.handle = MosquittoHandle(try Self.makeHandle(configuration))
        self.reads = configuration.bufferedReads && configuration.tls == nil ? ReadBuffer(capacity: 64 * 1024) : nil
        // The handle exists and `self` is complete: wire the callbacks.
        _ = handle.with { mosq in
            mosquitto_user_data_set(mosq, Unmanaged.passUnretained(self).toOpaque())
            mosquitto_connect_callback_set(mosq, mqttOnConnect)
            mosquitto_disconnect_callback_set(mosq, mqttOnDisconnect)
            mosquitto_subscribe_callback_set(mosq, mqttOnSubscribe)
            mosquitto_message_callback_set(mosq, mqttOnMessage)
            mosquitto_log_callback_set(mosq, mqttOnLog)
        }
    }

    private static func makeHandle(_ c: MQTTClient.Configuration) throws(MQTTError) -> OpaquePointer {
        func invalid(_ what: String, _ rc: Int32? = nil) -> MQTTError {
            let text = rc.map { "\(what): \(String(cString: mosquitto_strerror($0)))" } ?? what
            return MQTTError(.invalidConfiguration, broker: c.broker, reason: text)
        }
        guard mosquittoLibraryInitialized else { throw invalid("mosquitto_lib_init failed") }
        guard (1...65535).contains(c.port) else { throw invalid("port \(c.port) is not in 1...65535") }
        guard c.keepAlive >= .seconds(5) else { throw invalid("keep-alive must be at least 5 seconds") }
        guard c.clientID != nil || c.cleanSession else { throw invalid("a persistent session needs a client id") }
        let id = c.clientID ?? "crowdkit-" + String(UInt64.random(in: 0..<(1 << 48)), radix: 16)
        guard let mosq = mosquitto_new(id, c.cleanSession, nil) else {
            throw invalid("mosquitto_new failed (client id \"\(id)\")")
        }
        var ok = false
        defer { if !ok { mosquitto_destroy(mosq) } }
        var rc = mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, c.protocolVersion.rawValue)
        guard rc == 0 else { throw invalid("protocol version", rc) }
        if let cred = c.credentials {
            rc = mosquitto_username_pw_set(mosq, cred.username, cred.password)
            guard rc == 0 else { throw invalid("username", rc) }
        }
        if let tls = c.tls {
            let cert = tls.clientCertificate?.certificateFile
            let key = tls.clientCertificate?.privateKeyFile
            for path in [cert, key].compactMap({ $0 }) where !FileManager.default.isReadableFile(atPath: path) {
                throw invalid("cannot read TLS file \(path)")
            }
            switch tls.trust {
            case .caFile(let path):
                guard FileManager.default.isReadableFile(atPath: path) else { throw invalid("cannot read CA file \(path)") }
                rc = mosquitto_tls_set(mosq, path, nil, cert, key, nil)
            case .caDirectory(let path):
                rc = mosquitto_tls_set(mosq, nil, path, cert, key, nil)
            case .systemTrustStore:
                rc = mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1)
                if rc == 0, let cert, let key {
                    rc = mosquitto_tls_set(mosq, nil, "/etc/ssl/certs", cert, key, nil)
                }
            }
            guard rc == 0 else { throw invalid("TLS settings", rc) }
            rc = mosquitto_tls_insecure_set(mosq, !tls.verifyHostname)
            guard rc == 0 else { throw invalid("TLS hostname verification", rc) }
        }
        // We run the network loop on our own thread (not loop_start), so publish and subscribe
        // from other threads queue their packets and wake that thread instead of writing.
        rc = mosquitto_threaded_set(mosq, true)
        guard rc == 0 else { throw invalid("threaded mode", rc) }
        ok = true
        return mosq
    }

    // MARK: - Connecting

    /// Starts the network thread and waits for the first CONNACK (and the SUBACK of the
    /// subscriptions known by then).
    func connect() async throws {
        let timeout = configuration.connectTimeout
        let retrying = configuration.retryFirstConnection
        let timer = Task { [self] in
            guard !retrying else { return }  // retried attempts wait as long as it takes
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled {
                failFirst(MQTTError(.timeout, broker: broker, reason: "no answer from the broker within \(timeout)"))
            }
        }
        defer { timer.cancel() }
        do {
            try await withTaskCancellationHandler {
                try await startFirstConnection()
            } onCancel: { [self] in
                failFirst(MQTTError(.shutDown, broker: broker, reason: "cancelled before the first connection"))
            }
        } catch {
            // a shutdown while still connecting is a normal end, not a failure
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
    }

    private func startFirstConnection() async throws {
        try await withCheckedThrowingContinuation { (k: CheckedContinuation<Void, any Error>) in
            let start: Result<Bool, MQTTError> = control.withLock { c in
                if let f = c.firstFailure { return .failure(f) }
                if c.started && c.firstConnect == nil && c.everConnected { return .success(false) }
                if c.started {
                    return .failure(MQTTError(.invalidConfiguration, broker: broker, reason: "connect() is already in progress or the client was shut down"))
                }
                c.started = true
                c.state = .connecting
                c.firstConnect = k
                return .success(true)
            }
            switch start {
            case .failure(let e):
                k.resume(throwing: e)
                return
            case .success(false):
                k.resume()  // already connected
                return
            case .success(true):
                break
            }
            let thread = Thread { [self] in runNetworkThread() }
            thread.name = "mqtt-network"
            thread.start()
        }
    }

    /// Fails a pending first connection (no-op once it succeeded) and stops the network thread.
    func failFirst(_ error: MQTTError) {
        let waiter: CheckedContinuation<Void, any Error>? = control.withLock { c in
            guard !c.everConnected || c.firstConnect != nil else { return nil }
            if c.firstFailure == nil {
                c.firstFailure = error
                c.lastError = error.description
            }
            let w = c.firstConnect
            c.firstConnect = nil
            if c.state != .finished { c.state = .disconnected }
            return w
        }
        guard let waiter else { return }
        requestStop()
        waiter.resume(throwing: error)
    }

    // MARK: - The network thread

    private func runNetworkThread() {
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
    private func readBurst(_ mosq: OpaquePointer) -> Int32 {
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
    private func noteFirstConnectionFailed(_ error: MQTTError) {
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
    private func reconnect(_ mosq: OpaquePointer, logFailures: Bool = false) {
        while !stopping.load(ordering: .acquiring) {
            let delay = control.withLock { c in
                let d = c.backoff
                c.backoff = min(d * 2, configuration.reconnect.maxDelay)
                c.state = .connecting
                return d
            }
            let nanos = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
            _ = wakeup.wait(timeout: .now() + .nanoseconds(Int(nanos)))
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

    private func finishNetworkThread() {
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
    private func connectionError(_ rc: Int32) -> MQTTError {
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

    // MARK: - Shutdown

    /// Marks the client as stopping: the network thread flushes what is queued for at most two
    /// seconds, then ends (it also ends at once when the connection is down).
    private func requestStop() {
        stopDeadline.store(DispatchTime.now().uptimeNanoseconds + 2_000_000_000, ordering: .releasing)
        stopping.store(true, ordering: .releasing)
        wakeup.signal()
    }

    /// Sends DISCONNECT, stops the network thread and waits until it has destroyed the handle.
    func shutdown() async {
        requestStop()
        _ = handle.with { mosquitto_disconnect($0) }
        let neverStarted = control.withLock { c in
            if !c.started {
                c.started = true
                c.exited = true
                c.state = .finished
                return true
            }
            return false
        }
        if neverStarted {
            if let mosq = handle.take() { mosquitto_destroy(mosq) }
            buffer.finish()
            return
        }
        await withCheckedContinuation { (k: CheckedContinuation<Void, Never>) in
            let done = control.withLock { c in
                if c.exited { return true }
                c.exitWaiters.append(k)
                return false
            }
            if done { k.resume() }
        }
    }

    /// Teardown without waiting, for `deinit`: the network thread (if any) destroys the handle.
    func shutdownWithoutWaiting() {
        requestStop()
        _ = handle.with { mosquitto_disconnect($0) }
        let neverStarted = control.withLock { c in
            defer { c.started = true }
            return !c.started
        }
        if neverStarted, let mosq = handle.take() { mosquitto_destroy(mosq) }
        buffer.finish()
    }

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

    // MARK: - Status

    var status: SourceStatus {
        let b = buffer.counters
        let scheme = configuration.tls == nil ? "mqtt" : "mqtts"
        return control.withLock { c in
            SourceStatus(
                state: c.state, description: "\(scheme)://\(broker)",
                lastMessageAt: b.lastReceivedAt > 0 ? Date(timeIntervalSince1970: Double(b.lastReceivedAt) / 1000) : nil,
                received: b.received, dropped: b.dropped, reconnects: c.reconnects, lastError: c.lastError)
        }
    }

    // MARK: - Callbacks (network thread)

    func didConnect(mosq: OpaquePointer?, rc: Int32) {
        if rc != 0 {
            let reason =
                configuration.protocolVersion == .v5
                ? String(cString: mosquitto_reason_string(rc)) : String(cString: mosquitto_connack_string(rc))
            let error = MQTTError(.connectionRefused, broker: broker, reason: reason)
            let first = control.withLock { c in
                c.lastError = error.description
                c.keepLastError = true
                c.state = .disconnected
                return c.firstConnect != nil
            }
            if first && !configuration.retryFirstConnection {
                failFirst(error)
            } else {
                logger.warning("mqtt connection refused", metadata: ["mqtt.reason": "\(reason)"])
            }
            return
        }
        guard let mosq else { return }
        // Connected: libmosquitto formats a log line per packet when a log callback is set, so
        // keep it only while connecting (where it explains TLS failures).
        mosquitto_log_callback_set(mosq, nil)
        lastLog.withLock { $0 = nil }
        let subs = control.withLock { $0.subscriptions }
        var lastMid: Int32?
        for s in subs {
            var mid: Int32 = 0
            let rc = mosquitto_subscribe(mosq, &mid, s.filter, s.qos)
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                lastMid = mid
            } else {
                logger.error("mqtt subscribe failed", metadata: ["mqtt.topic": "\(s.filter)", "mqtt.reason": "\(String(cString: mosquitto_strerror(rc)))"])
            }
        }
        let (first, reconnects): (CheckedContinuation<Void, any Error>?, Int) = control.withLock { c in
            c.state = .connected
            if c.everConnected { c.reconnects += 1 }
            c.everConnected = true
            c.keepLastError = false
            c.backoff = configuration.reconnect.initialDelay
            guard let f = c.firstConnect else { return (nil, c.reconnects) }
            if let lastMid {
                c.firstSubscribeMid = lastMid
                return (nil, c.reconnects)
            }
            c.firstConnect = nil
            return (f, c.reconnects)
        }
        logger.info("mqtt connected", metadata: ["mqtt.reconnects": "\(reconnects)", "mqtt.subscriptions": "\(subs.count)"])
        first?.resume()
    }

    func didDisconnect(mosq: OpaquePointer?, rc: Int32) {
        if let mosq { mosquitto_log_callback_set(mosq, mqttOnLog) }
        let stopping = stopping.load(ordering: .acquiring)
        control.withLock { c in
            if c.state != .finished { c.state = stopping ? .finished : .disconnected }
        }
    }

    func didSubscribe(mid: Int32, refused: Bool) {
        let (waiter, first): (CheckedContinuation<Void, any Error>?, CheckedContinuation<Void, any Error>?) =
            control.withLock { c in
                var first: CheckedContinuation<Void, any Error>?
                if c.firstSubscribeMid == mid {
                    c.firstSubscribeMid = nil
                    first = c.firstConnect
                    c.firstConnect = nil
                }
                let w = c.subscribeWaiters.removeValue(forKey: mid)
                if w == nil && first == nil && c.pendingUserSubscribes > 0 { c.unclaimedAcks[mid] = refused }
                if refused { c.lastError = "the broker refused a subscription" }
                return (w, first)
            }
        if refused {
            logger.error("mqtt subscription refused by the broker")
            let e = MQTTError(.subscribeFailed, broker: broker, reason: "the broker refused the subscription")
            waiter?.resume(throwing: e)
            if let first {
                // Put it back so failFirst can fail it and stop the thread.
                control.withLock { $0.firstConnect = first }
                failFirst(e)
            }
        } else {
            waiter?.resume()
            first?.resume()
        }
    }

    func didReceive(_ msg: UnsafePointer<mosquitto_message>) {
        let m = msg.pointee
        let topic = m.topic.map { UnsafeRawBufferPointer(start: $0, count: strlen($0)) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
        let payload = UnsafeRawBufferPointer(start: m.payload, count: m.payload == nil ? 0 : Int(max(0, m.payloadlen)))
        let now = epochMilliseconds()
        delivered.wrappingAdd(1, ordering: .relaxed)
        // copied straight from libmosquitto's buffers into the batch: no allocation per message
        buffer.push(topic: topic, payload: payload, flags: MQTTMessage.flags(qos: m.qos, retain: m.retain), receivedAt: now)
    }

    func didLog(level: Int32, text: UnsafePointer<CChar>) {
        let interesting = Int32(MOSQ_LOG_ERR) | Int32(MOSQ_LOG_WARNING)
        guard level & interesting != 0 else { return }
        let line = String(cString: text)
        lastLog.withLock { $0 = line }
        logger.debug("libmosquitto", metadata: ["mqtt.log": "\(line)"])
    }
}

@inline(__always)
func epochMilliseconds() -> Int64 {
    var ts = timespec()
    // informational (status, last message time): the coarse clock is enough and cheaper
    clock_gettime(CLOCK_REALTIME_COARSE, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// The network thread's socket read buffer (see `CMosquittoReads`).
///
/// `@unchecked Sendable` is safe: the buffer is only read and changed by the network thread that
/// attached it; `fills` is a counter read for diagnostics.
final class ReadBuffer: @unchecked Sendable {
    private let raw: OpaquePointer

    /// `nil` when libmosquitto's reads cannot be routed through a buffer here.
    init?(capacity: Int) {
        guard ck_mosquitto_reads_install() == 1, let raw = ck_read_buffer_create(capacity) else { return nil }
        self.raw = raw
    }

    deinit { ck_read_buffer_destroy(raw) }

    func attachToCurrentThread() { ck_read_buffer_attach(raw) }
    func detachFromCurrentThread() { ck_read_buffer_attach(nil) }
    /// A socket other than the one tracked (or -1) drops what was buffered.
    func track(socket: Int32) { ck_read_buffer_track(raw, socket) }
    var pending: Int { ck_read_buffer_pending(raw) }
    var fills: UInt64 { UInt64(ck_read_buffer_fills(raw)) }
}
