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

    struct Control {
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
    let catchUpPauseMicroseconds: UInt32?
    let buffer: MessageBuffer
    let handle: MosquittoHandle
    let stopping = Atomic<Bool>(false)
    /// Messages handed over by `didReceive` (network thread only; for the read burst).
    let delivered = Atomic<Int>(0)
    /// `DispatchTime` uptime (ns) after which a stopping network thread gives up flushing.
    let stopDeadline = Atomic<UInt64>(.max)
    let wakeup = DispatchSemaphore(value: 0)
    let control: LockedBox<Control>
    /// The last error or warning libmosquitto logged (TLS details); separate lock because the
    /// log callback can run inside other libmosquitto calls.
    let lastLog = LockedBox<String?>(nil)
    /// The socket read buffer (``MQTTClient/Configuration/bufferedReads``), used by the network
    /// thread only; `nil` when reads are not buffered.
    let reads: ReadBuffer?

    init(configuration: MQTTClient.Configuration, logger: Logger) throws(MQTTError) {
        self.configuration = configuration
        self.broker = configuration.broker
        let pause = configuration.catchUpPause
        let micros = pause.components.seconds * 1_000_000 + pause.components.attoseconds / 1_000_000_000_000
        self.catchUpPauseMicroseconds = micros > 0 ? UInt32(min(micros, 100_000)) : nil
        var logger = logger
        logger[metadataKey: "mqtt.broker"] = "\(configuration.broker)"
        self.logger = logger
        self.buffer = MessageBuffer(
            capacity: configuration.bufferCapacity, fullWait: min(configuration.bufferFullWait, configuration.keepAlive / 4))
        self.control = LockedBox(Control(backoff: configuration.reconnect.initialDelay))
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

    static func makeHandle(_ c: MQTTClient.Configuration) throws(MQTTError) -> OpaquePointer {
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

    func startFirstConnection() async throws {
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

    // MARK: - Shutdown

    /// Marks the client as stopping: the network thread flushes what is queued for at most two
    /// seconds, then ends (it also ends at once when the connection is down).
    func requestStop() {
        stopDeadline.store(DispatchTime.now().uptimeNanoseconds + 2_000_000_000, ordering: .releasing)
        stopping.store(true, ordering: .releasing)
        wakeup.signal()
        buffer.stopWaiting()
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

}
