import ArgumentParser
import CrowdKitCore
import CrowdKitMQTT
import Foundation

/// How to reach the MQTT broker; shared by `run`, `record` and `simulate`.
///
/// The flags are configuration keys (`mqtt.*`, see `crowd-notifier config-reference`): they
/// override the environment (`MQTT_SERVER`, `MQTT_PORT`, `MQTT_TOPIC`, the original notifier's
/// names, and `MQTT_HOST`, `MQTT_PASSWORD`, ...) and the configuration file. Prefer the
/// environment or the file for the password: flags are visible in the process list.
struct BrokerOptions: ParsableArguments {
    @Option(name: .customLong("mqtt-host"), help: "Broker host name or address (mqtt.host, env MQTT_SERVER; default 127.0.0.1).")
    var host: String?

    @Option(name: .customLong("mqtt-port"), help: "Broker port (mqtt.port, env MQTT_PORT; default 1883).")
    var port: Int?

    @Option(name: .customLong("mqtt-username"), help: "Username (mqtt.username).")
    var username: String?

    @Option(name: .customLong("mqtt-password"), help: "Password (mqtt.password; prefer env MQTT_PASSWORD: flags show in the process list).")
    var password: String?

    @Option(name: .customLong("mqtt-tls-ca"), help: "Use TLS, trusting the CA certificates in this PEM file (mqtt.tls.caFile).")
    var tlsCA: String?

    @Flag(name: .customLong("mqtt-tls"), help: "Use TLS (mqtt.tls.enabled); the system trust store unless --mqtt-tls-ca.")
    var tls = false

    @Option(name: .customLong("mqtt-client-id"), help: "MQTT client id (mqtt.clientId; default: random).")
    var clientID: String?

    @Option(name: .customLong("mqtt-protocol"), help: "MQTT protocol version: 3.1.1 (default) or 5.")
    var protocolVersion: String = "3.1.1"

    @Flag(
        name: .customLong("mqtt-buffered-reads"),
        help: "Opt-in: read the broker socket in 64 KiB blocks for libmosquitto (mqtt.bufferedReads; see Operations).")
    var bufferedReads = false

    func validate() throws {
        if let port, !(1...65535).contains(port) { throw ValidationError("--mqtt-port must be in 1...65535 (got \(port))") }
        guard ["3.1.1", "311", "5"].contains(protocolVersion) else {
            throw ValidationError("--mqtt-protocol must be 3.1.1 or 5 (got \"\(protocolVersion)\")")
        }
    }

    /// The options given, as configuration keys.
    var configFlags: [String: String] {
        var f: [String: String] = [:]
        if let host { f["mqtt.host"] = host }
        if let port { f["mqtt.port"] = String(port) }
        if let username { f["mqtt.username"] = username }
        if let password { f["mqtt.password"] = password }
        if let tlsCA { f["mqtt.tls.caFile"] = tlsCA }
        if tls { f["mqtt.tls.enabled"] = "true" }
        if let clientID { f["mqtt.clientId"] = clientID }
        if bufferedReads { f["mqtt.bufferedReads"] = "true" }
        return f
    }

    /// The client configuration for the resolved `mqtt.*` settings.
    func clientConfiguration(_ m: AppSettings.MQTT) -> MQTTClient.Configuration {
        var c = MQTTClient.Configuration(host: m.host, port: m.port, clientID: m.clientID)
        if let user = m.username { c.credentials = .init(username: user, password: m.password) }
        if m.tls {
            var tls = MQTTClient.TLSConfiguration(trust: m.caFile.map { .caFile($0) } ?? .systemTrustStore, verifyHostname: m.verifyHostname)
            if let cert = m.certFile, let key = m.keyFile {
                tls.clientCertificate = .init(certificateFile: cert, privateKeyFile: key)
            }
            c.tls = tls
        }
        c.protocolVersion = protocolVersion == "5" ? .v5 : .v3_1_1
        c.bufferedReads = m.bufferedReads
        c.reconnect = .init(initialDelay: min(.milliseconds(500), m.reconnectMax), maxDelay: m.reconnectMax)
        return c
    }
}

/// Loads the configuration (file, environment, then these flags on top); a bad value is one line
/// naming the key and its source, exit status 78.
func loadSettings(flags: [String: String], configFile: String?) async throws -> AppSettings {
    do {
        let loader = try await ConfigLoader(flags: flags, filePath: configFile)
        return try AppSettings.load(loader)
    } catch let e as ConfigurationError {
        printError("error: \(e)")
        throw ExitCode(78)
    }
}

/// Topic filters to subscribe to (repeatable `--topic`).
struct TopicOptions: ParsableArguments {
    @Option(name: .customLong("topic"), help: "Topic filter to subscribe to; repeat for several (mqtt.topics, env MQTT_TOPIC; default /merakimv/#).")
    var topics: [String] = []

    var configFlags: [String: String] { topics.isEmpty ? [:] : ["mqtt.topics": topics.joined(separator: ",")] }
}

/// `--config` for commands without detection options.
struct ConfigFileOption: ParsableArguments {
    @Option(name: .long, help: "Configuration file (YAML; default crowd-notifier.yaml when present). Flags override it.")
    var config: String?
}

/// Writes one line to standard error.
func printError(_ line: String) {
    writeStandardError(line + "\n")
}

/// Writes to standard output, ignoring a failure (a full disk under a redirected output, a
/// closed pipe): the notifier keeps running whatever happens to its output. Foundation's
/// non-throwing `FileHandle.write(_:)` would stop the process instead.
func writeStandardOutput(_ text: String) {
    try? FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
}

/// Writes to standard error, ignoring a failure (see ``writeStandardOutput(_:)``).
func writeStandardError(_ text: String) {
    try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
}
