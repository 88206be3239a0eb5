import ArgumentParser
import CrowdKitMQTT
import Foundation

/// How to reach the MQTT broker; shared by `run`, `record` and `simulate`.
///
/// Precedence: flag, then environment (`MQTT_SERVER`, `MQTT_PORT`, the original notifier's names,
/// and `MQTT_USERNAME`, `MQTT_PASSWORD`), then the default. Prefer `MQTT_PASSWORD` to
/// `--mqtt-password`: flags are visible to other users in the process list.
struct BrokerOptions: ParsableArguments {
    @Option(name: .customLong("mqtt-host"), help: "Broker host name or address (env MQTT_SERVER; default 127.0.0.1).")
    var host: String?

    @Option(name: .customLong("mqtt-port"), help: "Broker port (env MQTT_PORT; default 1883, or 8883 with TLS).")
    var port: Int?

    @Option(name: .customLong("mqtt-username"), help: "Username (env MQTT_USERNAME).")
    var username: String?

    @Option(name: .customLong("mqtt-password"), help: "Password (env MQTT_PASSWORD, preferred: flags show in the process list).")
    var password: String?

    @Option(name: .customLong("mqtt-tls-ca"), help: "Use TLS, trusting the CA certificates in this PEM file.")
    var tlsCA: String?

    @Flag(name: .customLong("mqtt-tls"), help: "Use TLS, trusting the system's certificate store.")
    var tls = false

    @Option(name: .customLong("mqtt-client-id"), help: "MQTT client id (default: random).")
    var clientID: String?

    @Option(name: .customLong("mqtt-protocol"), help: "MQTT protocol version: 3.1.1 (default) or 5.")
    var protocolVersion: String = "3.1.1"

    func validate() throws {
        if let port, !(1...65535).contains(port) { throw ValidationError("--mqtt-port must be in 1...65535 (got \(port))") }
        guard ["3.1.1", "311", "5"].contains(protocolVersion) else {
            throw ValidationError("--mqtt-protocol must be 3.1.1 or 5 (got \"\(protocolVersion)\")")
        }
        if let tlsCA, !FileManager.default.isReadableFile(atPath: tlsCA) {
            throw ValidationError("--mqtt-tls-ca: cannot read \(tlsCA)")
        }
    }

    /// The client configuration from flags, then `environment`, then defaults.
    func configuration(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MQTTClient.Configuration {
        var c = MQTTClient.Configuration()
        if let h = host ?? environment["MQTT_SERVER"].flatMap({ $0.isEmpty ? nil : $0 }) { c.host = h }
        let useTLS = tls || tlsCA != nil
        if let port {
            c.port = port
        } else if let text = environment["MQTT_PORT"], !text.isEmpty {
            guard let p = Int(text), (1...65535).contains(p) else {
                throw ValidationError("environment variable MQTT_PORT must be a port number in 1...65535 (got \"\(text)\")")
            }
            c.port = p
        } else {
            c.port = useTLS ? 8883 : 1883
        }
        let user = username ?? environment["MQTT_USERNAME"].flatMap { $0.isEmpty ? nil : $0 }
        let pass = password ?? environment["MQTT_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        if let user {
            c.credentials = .init(username: user, password: pass)
        } else if pass != nil {
            throw ValidationError("a password was given (--mqtt-password or MQTT_PASSWORD) without a username")
        }
        if let tlsCA {
            c.tls = .caFile(tlsCA)
        } else if tls {
            c.tls = .systemTrustStore
        }
        c.clientID = clientID
        c.protocolVersion = protocolVersion == "5" ? .v5 : .v3_1_1
        return c
    }
}

/// Topic filters to subscribe to (repeatable `--topic`).
struct TopicOptions: ParsableArguments {
    @Option(name: .customLong("topic"), help: "Topic filter to subscribe to; repeat for several (default /merakimv/#).")
    var topics: [String] = []

    var filters: [String] { topics.isEmpty ? ["/merakimv/#"] : topics }
}

/// Writes one line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
