import CMosquitto
import CMosquittoReads
import CrowdKitCore
import Dispatch
import Foundation
import Logging
import Synchronization

/// libmosquitto's callbacks, on the network thread.
extension ClientCore {
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

/// Host time in epoch ms, for the status and received times.
@inline(__always)
func epochMilliseconds() -> Int64 {
    var ts = timespec()
    // informational (status, last message time): the coarse clock is enough and cheaper
    clock_gettime(CLOCK_REALTIME_COARSE, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
