/// What went wrong talking to an MQTT broker.
///
/// Carries the broker (`host:port`) and libmosquitto's own words for the failure (from
/// `mosquitto_strerror`, `mosquitto_connack_string` or `mosquitto_reason_string`, plus the last
/// TLS or network error libmosquitto logged). Never carries a password.
public struct MQTTError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case connectionFailed = "cannot connect"
            case connectionRefused = "connection refused"
            case tls = "TLS failed"
            case timeout = "timed out"
            case subscribeFailed = "subscribe failed"
            case publishFailed = "publish failed"
            case invalidConfiguration = "invalid configuration"
            case notConnected = "not connected"
            case alreadyConsuming = "the message feed already has a consumer"
            case shutDown = "the client was shut down"
        }

        fileprivate let base: Base
        fileprivate init(_ base: Base) { self.base = base }

        /// The TCP connection could not be made or was lost (host not found, connection refused, ...).
        public static let connectionFailed = Code(.connectionFailed)
        /// The broker answered the CONNECT with a refusal (bad credentials, not authorised, ...).
        public static let connectionRefused = Code(.connectionRefused)
        /// The TLS handshake failed (unknown CA, hostname mismatch, bad client certificate, ...).
        public static let tls = Code(.tls)
        /// The broker did not answer in time.
        public static let timeout = Code(.timeout)
        /// The broker refused a subscription or it could not be sent.
        public static let subscribeFailed = Code(.subscribeFailed)
        /// A message could not be published.
        public static let publishFailed = Code(.publishFailed)
        /// The configuration was rejected by libmosquitto (bad TLS file, bad client id, ...).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The client is not connected (before `connect()` or during an outage).
        public static let notConnected = Code(.notConnected)
        /// A second consumer asked for a feed that supports only one.
        public static let alreadyConsuming = Code(.alreadyConsuming)
        /// The client was shut down.
        public static let shutDown = Code(.shutDown)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// The broker, `host:port`.
    public var broker: String
    /// The reason in libmosquitto's (or the broker's) words.
    public var reason: String

    public init(_ code: Code, broker: String, reason: String) {
        self.code = code
        self.broker = broker
        self.reason = reason
    }

    /// One line: `MQTT broker 127.0.0.1:1883: connection refused: Connection Refused: not authorised.`
    public var description: String {
        reason.isEmpty ? "MQTT broker \(broker): \(code)" : "MQTT broker \(broker): \(code): \(reason)"
    }
}
