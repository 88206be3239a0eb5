extension MQTTClient {
    /// How to reach and talk to a broker. Every field has a default: an anonymous plain-TCP
    /// connection to `127.0.0.1:1883` with MQTT 3.1.1.
    public struct Configuration: Sendable {
        /// Host name or address of the broker.
        public var host: String
        /// TCP port (1883 for plain MQTT, usually 8883 for TLS).
        public var port: Int
        /// The client id; `nil` makes a random one (`crowdkit-` and 12 hex digits).
        public var clientID: String?
        /// MQTT keep-alive interval (whole seconds, at least 5).
        public var keepAlive: Duration
        /// Ask the broker to forget this client's session (subscriptions, queued messages) on
        /// disconnect. Must be `true` when `clientID` is `nil`.
        public var cleanSession: Bool
        /// Username and password, when the broker wants them.
        public var credentials: Credentials?
        /// TLS settings; `nil` for plain TCP.
        public var tls: TLSConfiguration?
        /// MQTT protocol version.
        public var protocolVersion: ProtocolVersion
        /// Back-off between reconnection attempts after the first connection.
        public var reconnect: ReconnectPolicy
        /// How long ``MQTTClient/connect()`` waits for the broker's answer (and the first
        /// subscriptions' acknowledgement).
        public var connectTimeout: Duration
        /// `true`: a first connection that fails (broker down, refused, TLS) is tried again with
        /// the ``reconnect`` back-off, logging each failed attempt, and ``MQTTClient/connect()``
        /// waits until it succeeds or its task is cancelled (for boot orders where the broker
        /// comes up second). `false` (the default): ``MQTTClient/connect()`` throws the first
        /// failure.
        public var retryFirstConnection = false
        /// Messages held for the consumer. While it is full the network thread waits for the
        /// consumer (``bufferFullWait``), so the backlog stays in the broker's queue; what still
        /// does not fit after that is dropped and counted.
        public var bufferCapacity: Int
        /// How long the network thread stops reading while the buffer is full, waiting for the
        /// consumer to catch up, before it drops (and counts) what does not fit. Until the
        /// consumer takes messages again, later ones are dropped without waiting. Capped at a
        /// quarter of ``keepAlive`` (nothing is sent to the broker, pings included, while it
        /// waits). `.zero`: drop at once when full. Default 5 s.
        public var bufferFullWait: Duration = .seconds(5)
        /// When the network thread has read every message the broker had sent, it waits this long
        /// before reading again, so that a busy feed is read in bulk (fewer wake-ups and less
        /// kernel work per message, more CPU left for a broker on the same machine). At most this
        /// much latency is added; `.zero` reads each message as soon as it arrives.
        public var catchUpPause: Duration = .microseconds(500)
        /// Opt-in (default off; `mqtt.bufferedReads`): read the socket in blocks of up to 64 KiB
        /// and hand libmosquitto its packets from that buffer (plain TCP on Linux x86_64/aarch64).
        /// libmosquitto 2.0 makes three `read` calls per packet, which for a feed of small
        /// messages is most of the client's CPU; buffered, a busy feed costs one call per few
        /// hundred messages.
        ///
        /// How: libmosquitto's own import of `read(2)` (its GOT slot, once per process) is pointed
        /// at a function that serves this client's socket, on its network thread, from the
        /// buffer; every other read in the process is unchanged. It is installed only when
        /// libmosquitto imports `read` and none of `__read_chk`, `recv`, `recvfrom`, `readv`,
        /// `recvmsg` (a FORTIFY_SOURCE or LTO build could read through those, and buffered and
        /// unbuffered reads would then mix on one stream). Where it cannot be set up, reads stay as
        /// libmosquitto makes them (``MQTTClient/bufferedReads`` tells).
        public var bufferedReads: Bool = false

        public init(
            host: String = "127.0.0.1", port: Int = 1883, clientID: String? = nil, keepAlive: Duration = .seconds(30),
            cleanSession: Bool = true, credentials: Credentials? = nil, tls: TLSConfiguration? = nil,
            protocolVersion: ProtocolVersion = .v3_1_1, reconnect: ReconnectPolicy = .init(),
            connectTimeout: Duration = .seconds(10), bufferCapacity: Int = 100_000
        ) {
            self.host = host
            self.port = port
            self.clientID = clientID
            self.keepAlive = keepAlive
            self.cleanSession = cleanSession
            self.credentials = credentials
            self.tls = tls
            self.protocolVersion = protocolVersion
            self.reconnect = reconnect
            self.connectTimeout = connectTimeout
            self.bufferCapacity = bufferCapacity
        }

        /// `host:port`, for logs and errors.
        public var broker: String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    /// MQTT protocol versions libmosquitto speaks.
    public enum ProtocolVersion: Int32, Sendable, Hashable {
        case v3_1_1 = 4
        case v5 = 5
    }

    /// Quality of service of a subscription or publication.
    public enum QoS: Int32, Sendable, Hashable, Comparable {
        case atMostOnce = 0
        case atLeastOnce = 1
        case exactlyOnce = 2

        public static func < (a: QoS, b: QoS) -> Bool { a.rawValue < b.rawValue }
    }

    /// Username and password. Printing one never shows the password.
    public struct Credentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
        CustomReflectable
    {
        public var username: String
        public var password: String?

        public init(username: String, password: String? = nil) {
            self.username = username
            self.password = password
        }

        public var description: String { "Credentials(username: \(username), password: \(password == nil ? "none" : "<redacted>"))" }
        public var debugDescription: String { description }
        public var customMirror: Mirror {
            Mirror(self, children: ["username": username, "password": password == nil ? "none" : "<redacted>"])
        }
    }

    /// TLS settings. Hostname verification is on unless you turn it off.
    public struct TLSConfiguration: Sendable, Hashable {
        /// Where the certificates that may sign the broker's certificate come from.
        public enum Trust: Sendable, Hashable {
            /// The operating system's trust store (OpenSSL's default paths).
            case systemTrustStore
            /// One PEM file with one or more CA certificates.
            case caFile(String)
            /// A directory of hashed PEM CA certificates (`openssl rehash`).
            case caDirectory(String)
        }

        /// A client certificate for brokers that require one.
        public struct ClientCertificate: Sendable, Hashable {
            /// PEM certificate file.
            public var certificateFile: String
            /// PEM private key file (unencrypted).
            public var privateKeyFile: String

            public init(certificateFile: String, privateKeyFile: String) {
                self.certificateFile = certificateFile
                self.privateKeyFile = privateKeyFile
            }
        }

        public var trust: Trust
        public var clientCertificate: ClientCertificate?
        /// Check that the broker's certificate names the host connected to. Turning this off
        /// makes TLS open to man-in-the-middle attacks: only for tests.
        public var verifyHostname: Bool

        public init(trust: Trust = .systemTrustStore, clientCertificate: ClientCertificate? = nil, verifyHostname: Bool = true) {
            self.trust = trust
            self.clientCertificate = clientCertificate
            self.verifyHostname = verifyHostname
        }

        /// TLS trusting the CAs in one PEM file.
        public static func caFile(_ path: String) -> TLSConfiguration { TLSConfiguration(trust: .caFile(path)) }
        /// TLS trusting the operating system's trust store.
        public static var systemTrustStore: TLSConfiguration { TLSConfiguration(trust: .systemTrustStore) }
    }

    /// Reconnection back-off: the first retry waits `initialDelay`, each failure doubles it up to
    /// `maxDelay`; a successful connection resets it. The client retries forever.
    public struct ReconnectPolicy: Sendable, Hashable {
        public var initialDelay: Duration
        public var maxDelay: Duration

        public init(initialDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(30)) {
            self.initialDelay = initialDelay
            self.maxDelay = maxDelay
        }
    }
}
