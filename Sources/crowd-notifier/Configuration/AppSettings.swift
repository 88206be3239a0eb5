import CrowdKitCore
import CrowdKitPostgres
import CrowdKitWebex
import Foundation
import Logging

/// The whole configuration of `crowd-notifier`, validated. Built by ``AppSettings/load(_:)`` from
/// a ``ConfigLoader``; every error names the key, its source and the accepted form.
struct AppSettings: Sendable {
    struct MQTT: Sendable, Hashable {
        var host: String
        var port: Int
        var topics: [String]
        var username: String?
        var password: String?
        var clientID: String?
        var tls: Bool
        var caFile: String?
        var certFile: String?
        var keyFile: String?
        var verifyHostname: Bool
        /// `mqtt.bufferedReads` (opt-in).
        var bufferedReads = false
        /// `mqtt.reconnectMaxSeconds`.
        var reconnectMax: Duration = .seconds(30)
    }

    struct Detection: Sendable {
        var policy: any DetectionPolicy
        var kinds: Set<NotificationKind>
        var areas = AreaSetup.none
        var objectTypes = ObjectTypeSelection.person
    }

    struct Meraki: Sendable, Hashable {
        var apiKey: String
        var baseURL: String
        var networkID: String?
        var organizationID: String?
    }

    struct Webex: Sendable, Hashable {
        enum Destination: Hashable, Sendable {
            case room(String)
            case personEmail(String)
            case personID(String)
        }
        var token: String
        var baseURL: String
        var destination: Destination
        /// `webex.webhookSecret`: receive button presses on `POST /webhooks/webex`.
        var webhookSecret: String? = nil
        /// `webex.allowedActors`: e-mail addresses or `@domain`; empty admits anyone.
        var allowedActors: [String] = []
        /// `webex.threads`: a thread per crowd (room destinations); on by default.
        var threads = true
        /// `webex.templates.*`: the texts and the card, from files when configured.
        var templates = WebexTemplates()
    }

    struct Webhook: Sendable, Hashable {
        var url: String
        var secret: String?
    }

    struct HTTP: Sendable, Hashable {
        var host: String
        var port: Int
        var token: String?
        var allowUnauthenticatedRemote: Bool
        /// `http.tokens`: name → token (the single `http.token` is named `token`).
        var tokens: [String: String] = [:]
    }

    /// This instance in a cluster of instances sharing one PostgreSQL store.
    struct Cluster: Sendable, Hashable {
        /// `cluster.name`: unique among the instances (default: host name and process id).
        var name: String
        /// `cluster.leaseSeconds`: how long a heartbeat keeps the instance live (0.5 to 5 s).
        var lease: Duration

        /// The host name and the process id: unique on one machine, new at every start.
        static var defaultName: String {
            "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        }
    }

    /// Delivery retries, the store's memory queue and the shutdown limit.
    struct Reliability: Sendable, Hashable {
        var delivery = DeliveryConfiguration()
        var storeWrites = StoreWriteConfiguration()
        var shutdownTimeout: Duration = .seconds(10)
        /// Zone states saved in the store (SEMANTICS §7).
        var saveZoneStates = true
    }

    var mqtt: MQTT
    var filter: ZoneFilter
    var detection: Detection
    var meraki: Meraki?
    var webex: Webex?
    var webhook: Webhook?
    var storePath: String
    /// PostgreSQL instead of the SQLite file (`store.url`, or a `postgres://` `store.path`), with
    /// `store.tls` and `store.caFile` applied; `nil` for SQLite.
    var postgres: PostgresStoreConfiguration?
    var retentionDays: Int
    /// Days of occupancy history kept (`history.retentionDays`); 0 keeps none.
    var historyDays = 30
    /// Cameras shared out among the instances on one PostgreSQL store (`cluster.*`); `nil` for
    /// SQLite (a single instance).
    var cluster: Cluster? = nil
    var http: HTTP
    var logLevel: Logger.Level
    var reliability = Reliability()
    /// Alertmanager instances to raise crowds in (`alertmanager.urls`); `nil` when none.
    var alertmanager: Alertmanager? = nil

    static let dwellKeys = ["detection.minPeople", "detection.dwellSeconds", "detection.gapSeconds", "detection.cooldownSeconds", "detection.staleSeconds", "detection.repeatSeconds"]
    static let messageCountKeys = ["detection.armPeople", "detection.iterateCount", "detection.triggerPeople", "detection.timeoutCount", "detection.pauseSeconds"]

    static func load(_ c: ConfigLoader) throws(ConfigurationError) -> AppSettings {
        // MQTT
        let caFile = try c.string("mqtt.tls.caFile")
        let mqtt = MQTT(
            host: try c.string("mqtt.host") ?? "127.0.0.1",
            port: try c.int("mqtt.port", in: 1...65535, expected: "a port number 1-65535") ?? 1883,
            topics: try c.list("mqtt.topics") ?? ["/merakimv/#"],
            username: try c.string("mqtt.username"),
            password: try c.secret("mqtt.password"),
            clientID: try c.string("mqtt.clientId"),
            tls: try c.bool("mqtt.tls.enabled") ?? false || caFile != nil,
            caFile: caFile,
            certFile: try c.string("mqtt.tls.certFile"),
            keyFile: try c.string("mqtt.tls.keyFile"),
            verifyHostname: try c.bool("mqtt.tls.verifyHostname") ?? true,
            bufferedReads: try c.bool("mqtt.bufferedReads") ?? false,
            reconnectMax: try c.seconds("mqtt.reconnectMaxSeconds", positive: true) ?? .seconds(30))
        if let ca = caFile, !FileManager.default.isReadableFile(atPath: ca) {
            throw ConfigurationError(key: "mqtt.tls.caFile", source: try c.value("mqtt.tls.caFile")?.source.description, expected: "a readable PEM file", got: ca)
        }
        if mqtt.topics.isEmpty {
            throw ConfigurationError(key: "mqtt.topics", source: try c.value("mqtt.topics")?.source.description, expected: "at least one topic filter", got: "")
        }
        let filter = ZoneFilter(
            cameras: .init(parsing: (try c.list("cameras") ?? ["*"]).joined(separator: ",")),
            zones: .init(parsing: (try c.list("zones") ?? ["*"]).joined(separator: ",")))

        // Detection
        let policy = try loadPolicy(c)
        var kinds = Set<NotificationKind>()
        for k in try c.list("detection.notify") ?? ["fired"] {
            guard let kind = NotificationKind(rawValue: k.lowercased()) else {
                throw ConfigurationError(key: "detection.notify", source: try c.value("detection.notify")?.source.description, expected: "a list of fired, reminder, ended", got: k)
            }
            kinds.insert(kind)
        }

        // Meraki
        var meraki: Meraki?
        if let key = try c.secret("meraki.apiKey"), !key.isEmpty {
            meraki = Meraki(apiKey: key, baseURL: try url(c, "meraki.baseURL") ?? "https://api.meraki.com/api/v1", networkID: try c.string("meraki.networkId"),
                organizationID: try c.string("meraki.organizationId"))
        }

        // Webex
        var token = try c.secret("webex.token")
        if token == nil, let file = try c.string("webex.tokenFile") {
            guard let t = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError(key: "webex.tokenFile", source: try c.value("webex.tokenFile")?.source.description, expected: "a readable file holding the token", got: file)
            }
            token = t.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var destinations: [Webex.Destination] = []
        if let v = try c.string("webex.roomId"), !v.isEmpty { destinations.append(.room(v)) }
        if let v = try c.string("webex.toPersonEmail"), !v.isEmpty { destinations.append(.personEmail(v)) }
        if let v = try c.string("webex.toPersonId"), !v.isEmpty { destinations.append(.personID(v)) }
        var webex: Webex?
        if let token, !token.isEmpty {
            guard destinations.count == 1 else {
                throw ConfigurationError(
                    key: "webex.roomId", source: nil,
                    expected: "exactly one of webex.roomId, webex.toPersonEmail, webex.toPersonId when webex.token is set (found \(destinations.count))", got: nil)
            }
            webex = Webex(token: token, baseURL: try url(c, "webex.baseURL") ?? "https://webexapis.com/v1", destination: destinations[0])
        } else if !destinations.isEmpty {
            throw ConfigurationError(key: "webex.token", source: nil, expected: "a bot token (webex.token, webex.tokenFile or BOT_ACCESS_TOKEN) when a Webex destination is set", got: nil)
        }

        var webhook: Webhook?
        if let u = try url(c, "webhook.url") { webhook = Webhook(url: u, secret: try c.secret("webhook.secret")) }

        let level = try c.string("log.level") ?? "info"
        guard let logLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError(key: "log.level", source: try c.value("log.level")?.source.description, expected: "one of trace, debug, info, notice, warning, error, critical", got: level)
        }
        let reliability = try loadReliability(c)
        let historyDays = try c.int("history.retentionDays", in: 0...36500, expected: "a number of days 0-36500 (0: no history)") ?? 30
        let postgres = try loadPostgres(c)
        var settings = AppSettings(
            mqtt: mqtt, filter: filter,
            detection: Detection(
                policy: policy, kinds: kinds, areas: try loadAreas(c, zonePolicy: policy), objectTypes: try loadObjectTypes(c)),
            meraki: meraki, webex: webex,
            webhook: webhook, storePath: try c.string("store.path") ?? "crowd-events.sqlite", postgres: postgres,
            retentionDays: try c.int("store.retentionDays", in: 1...36500, expected: "a number of days 1-36500") ?? 90,
            cluster: postgres == nil ? nil : try loadCluster(c),
            http: HTTP(
                host: try c.string("http.host") ?? "127.0.0.1",
                port: try c.int("http.port", in: 0...65535, expected: "a port number 0-65535") ?? 5001,
                token: try c.secret("http.token"),
                allowUnauthenticatedRemote: try c.bool("http.allowUnauthenticatedRemote") ?? false),
            logLevel: logLevel, reliability: reliability)
        settings.historyDays = historyDays
        // several instances: each claims notifications under its cluster name, so that the
        // leases of an instance that died are free as soon as its heartbeat ends
        if let cluster = settings.cluster, try c.string("delivery.workerName") == nil {
            settings.reliability.delivery.workerName = cluster.name
        }
        settings.http.tokens = try loadTokens(c)
        settings.alertmanager = try loadAlertmanager(c, http: settings.http)
        if settings.webex != nil {
            settings.webex?.webhookSecret = try c.secret("webex.webhookSecret").flatMap { $0.isEmpty ? nil : $0 }
            settings.webex?.allowedActors = try c.list("webex.allowedActors") ?? []
            settings.webex?.threads = try c.bool("webex.threads") ?? true
            settings.webex?.templates = try loadWebexTemplates(c)
        }
        return settings
    }

    /// `http.tokens`: a YAML mapping `name: token` in the file, or `name=token,name=token` from
    /// the environment (`HTTP_TOKENS`). Names are letters, digits and `._@-`; tokens at least 8
    /// characters without spaces, each used once. Never echoes a token in an error.
    static func loadTokens(_ c: ConfigLoader) throws(ConfigurationError) -> [String: String] {
        let expected = "a mapping of names to tokens (name: token in YAML, name=token,name=token in the environment); names of letters, digits and ._@-, tokens of at least 8 characters without spaces, each used once"
        var pairs: [(String, String)] = []
        var source: String?
        if let v = try c.value("http.tokens"), v.source != .defaultValue {
            source = v.source.description
            guard case .scalar(let text) = v.raw else { throw ConfigurationError(key: "http.tokens", source: source, expected: expected, got: nil) }
            for part in text.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { throw ConfigurationError(key: "http.tokens", source: source, expected: expected, got: nil) }
                pairs.append((kv[0].trimmingCharacters(in: .whitespaces), kv[1].trimmingCharacters(in: .whitespaces)))
            }
        } else if let path = c.filePath, let mapping = c.fileMapping(["http", "tokens"]) {
            source = "file \(path)"
            switch mapping {
            case .success(let m): pairs = m
            case .failure: throw ConfigurationError(key: "http.tokens", source: source, expected: expected, got: nil)
            }
        }
        var tokens: [String: String] = [:]
        let nameCharacters = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._@-"))
        for (name, token) in pairs {
            guard !name.isEmpty, name.unicodeScalars.allSatisfy(nameCharacters.contains) else {
                throw ConfigurationError(key: "http.tokens", source: source, expected: expected, got: name)
            }
            guard token.count >= 8, !token.contains(where: \.isWhitespace), tokens[name] == nil, !tokens.values.contains(token) else {
                throw ConfigurationError(key: "http.tokens.\(name)", source: source, expected: expected, got: nil)
            }
            tokens[name] = token
        }
        return tokens
    }

    /// The PostgreSQL store of `store.url` (or of a `postgres://` `store.path`), `nil` for the
    /// SQLite file. The URL never appears in an error (only its redacted form).
    static func loadPostgres(_ c: ConfigLoader) throws(ConfigurationError) -> PostgresStoreConfiguration? {
        var key = "store.url"
        var text = try c.secret("store.url")
        if text == nil, let path = try c.string("store.path"), PostgresStoreConfiguration.isURL(path) {
            key = "store.path"
            text = path
        }
        guard let text else { return nil }
        var configuration: PostgresStoreConfiguration
        do {
            configuration = try PostgresStoreConfiguration(url: text)
        } catch {
            throw ConfigurationError(
                key: key, source: try c.value(key)?.source.description,
                expected: "postgres://user:password@host:port/database[?sslmode=disable|prefer|require] (\((error as? EventStoreError)?.message ?? "unreadable"))",
                got: PostgresStoreConfiguration.redact(text))
        }
        if let mode = try c.string("store.tls") {
            guard let tls = PostgresStoreConfiguration.TLS(mode) else {
                throw ConfigurationError(
                    key: "store.tls", source: try c.value("store.tls")?.source.description, expected: "disable, prefer or require", got: mode)
            }
            configuration.tls = tls
        }
        configuration.caFile = try c.string("store.caFile")
        configuration.retentionDays = try c.int("store.retentionDays", in: 1...36500, expected: "a number of days 1-36500") ?? 90
        return configuration
    }

    /// `cluster.name` and `cluster.leaseSeconds` (used with a PostgreSQL store).
    static func loadCluster(_ c: ConfigLoader) throws(ConfigurationError) -> Cluster {
        let lease = try c.seconds("cluster.leaseSeconds", positive: true) ?? .seconds(5)
        guard lease >= .milliseconds(500) && lease <= .seconds(5) else {
            throw ConfigurationError(
                key: "cluster.leaseSeconds", source: try c.value("cluster.leaseSeconds")?.source.description,
                expected: "a number of seconds from 0.5 to 5", got: "\(lease.secondsValue)")
        }
        let name = try c.string("cluster.name")?.trimmingCharacters(in: .whitespaces)
        return Cluster(name: name.flatMap { $0.isEmpty ? nil : $0 } ?? Cluster.defaultName, lease: lease)
    }

    static func loadReliability(_ c: ConfigLoader) throws(ConfigurationError) -> Reliability {
        var r = Reliability()
        let maxAge = try c.seconds("delivery.maxAgeSeconds", positive: true) ?? .seconds(3600)
        let followUp = try c.seconds("delivery.followUpMaxAgeSeconds", positive: true) ?? min(.seconds(600), maxAge)
        if followUp > maxAge {
            throw ConfigurationError(
                key: "delivery.followUpMaxAgeSeconds", source: try c.value("delivery.followUpMaxAgeSeconds")?.source.description,
                expected: "a number of seconds > 0, at most delivery.maxAgeSeconds (\(maxAge.milliseconds / 1000))",
                got: "\(followUp.milliseconds / 1000)")
        }
        let retry = try c.seconds("delivery.retrySeconds", positive: true) ?? .seconds(5)
        let maxRetry = try c.seconds("delivery.maxRetrySeconds", positive: true) ?? max(.seconds(300), retry)
        let maxProbe = try c.seconds("delivery.maxProbeSeconds", positive: true) ?? max(.seconds(60), retry)
        for (key, value) in [("delivery.maxRetrySeconds", maxRetry), ("delivery.maxProbeSeconds", maxProbe)] where value < retry {
            throw ConfigurationError(
                key: key, source: try c.value(key)?.source.description,
                expected: "a number of seconds >= delivery.retrySeconds (\(Double(retry.milliseconds) / 1000))",
                got: "\(Double(value.milliseconds) / 1000)")
        }
        let lease = try c.seconds("delivery.leaseSeconds", positive: true) ?? .seconds(300)
        r.delivery = DeliveryConfiguration(
            maxAge: maxAge, followUpMaxAge: followUp, initialBackoff: retry, maxBackoff: maxRetry, maxProbeInterval: maxProbe,
            workerName: try c.string("delivery.workerName") ?? DeliveryConfiguration.defaultWorkerName, lease: lease)
        let capacity = try c.int("store.backlogCapacity", in: 1...10_000_000, expected: "a number of changes 1-10000000") ?? 10_000
        r.shutdownTimeout = try c.seconds("shutdown.timeoutSeconds", positive: true) ?? .seconds(10)
        r.saveZoneStates = try c.bool("store.zoneStates") ?? true
        // the monitor's last writes get 40 % of the limit, delivery's drain most of the rest
        r.storeWrites = StoreWriteConfiguration(capacity: capacity, shutdownTimeout: r.shutdownTimeout * 0.4)
        return r
    }

    /// Only what detection needs (replay, backtest): the policy, the camera/zone filter, the
    /// areas and object types.
    static func loadDetection(_ c: ConfigLoader) throws(ConfigurationError) -> DetectionSetup {
        let filter = ZoneFilter(
            cameras: .init(parsing: (try c.list("cameras") ?? ["*"]).joined(separator: ",")),
            zones: .init(parsing: (try c.list("zones") ?? ["*"]).joined(separator: ",")))
        let policy = try loadPolicy(c)
        return DetectionSetup(
            policy: policy, filter: filter, areas: try loadAreas(c, zonePolicy: policy), objectTypes: try loadObjectTypes(c))
    }

    static func url(_ c: ConfigLoader, _ key: String) throws(ConfigurationError) -> String? {
        guard let s = try c.string(key), !s.isEmpty else { return nil }
        guard let u = URL(string: s), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https", u.host != nil else {
            throw ConfigurationError(key: key, source: try c.value(key)?.source.description, expected: "an http(s) URL", got: s)
        }
        return s.hasSuffix("/") ? String(s.dropLast()) : s
    }

    /// The policy: `detection.policy`, or message count when only message-count values are set.
    static func loadPolicy(_ c: ConfigLoader) throws(ConfigurationError) -> any DetectionPolicy {
        let explicit = try c.value("detection.policy")
        var kind = "dwell"
        if let explicit, explicit.source != .defaultValue, case .scalar(let p) = explicit.raw {
            switch p.lowercased().replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "") {
            case "dwell": kind = "dwell"
            case "messagecount": kind = "messageCount"
            default: throw ConfigurationError(key: "detection.policy", source: explicit.source.description, expected: "dwell or messageCount", got: p)
            }
        } else if dwellKeys.contains(where: { c.flags[$0] != nil }) {
            kind = "dwell"  // flags speak louder than a message-count variable left in the environment
        } else if messageCountKeys.contains(where: { c.flags[$0] != nil }) {
            kind = "messageCount"
        } else if messageCountKeys.contains(where: c.isSet) && !dwellKeys.contains(where: c.isSet) {
            kind = "messageCount"
        }
        if kind == "dwell" {
            let defaults = try dwellParameters(c, .defaults, nil)
            return DwellPolicy(defaults, overrides: try layeredOverrides(c, c.overrideNames, defaults: defaults, dwellParameters))
        }
        let defaults = try messageCountParameters(c, .defaults, nil)
        return MessageCountPolicy(defaults, overrides: try layeredOverrides(c, c.overrideNames, defaults: defaults, messageCountParameters))
    }

    /// Per-zone overrides, each parameter from the first that sets it (SEMANTICS.md §7, §8):
    /// `<camera>/<zone>`, then `<camera>/*`, then the defaults.
    static func layeredOverrides<P>(
        _ c: ConfigLoader, _ names: [String], defaults: P,
        _ read: (ConfigLoader, P, String?) throws(ConfigurationError) -> P
    ) throws(ConfigurationError) -> [ZoneKey: P] {
        var overrides: [ZoneKey: P] = [:]
        for name in names where name.hasSuffix("/*") {
            overrides[try zoneKey(name, c)] = try read(c, defaults, name)
        }
        for name in names where !name.hasSuffix("/*") {
            let key = try zoneKey(name, c)
            overrides[key] = try read(c, overrides[ZoneKey(camera: key.camera, zone: "*")] ?? defaults, name)
        }
        return overrides
    }

    static func zoneKey(_ name: String, _ c: ConfigLoader) throws(ConfigurationError) -> ZoneKey {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ConfigurationError(key: "detection.overrides.\(name)", source: c.filePath.map { "file \($0)" }, expected: "an override named \"<camera serial>/<zone id>\" or \"<camera serial>/*\"", got: name)
        }
        return ZoneKey(camera: String(parts[0]), zone: String(parts[1]))
    }

    static func dwellParameters(_ c: ConfigLoader, _ base: DwellParameters, _ prefix: String?) throws(ConfigurationError) -> DwellParameters {
        let r = ScopedReader(loader: c, override: prefix)
        var p = base
        if let v = try r.int("minPeople", in: 1...1_000_000, expected: "an integer >= 1") { p.minPeople = v }
        if let v = try r.seconds("dwellSeconds") { p.dwell = v }
        if let v = try r.seconds("gapSeconds") { p.gap = v }
        if let v = try r.seconds("cooldownSeconds") { p.cooldown = v }
        if let v = try r.seconds("staleSeconds") { p.stale = v }
        if let v = try r.seconds("repeatSeconds", positive: true) { p.repeatEvery = v }
        return p
    }

    static func messageCountParameters(_ c: ConfigLoader, _ base: MessageCountParameters, _ prefix: String?) throws(ConfigurationError) -> MessageCountParameters {
        let r = ScopedReader(loader: c, override: prefix)
        var p = base
        if let v = try r.int("armPeople", in: 1...1_000_000, expected: "an integer >= 1") { p.armPeople = v }
        if let v = try r.int("iterateCount", in: 0...100_000_000, expected: "an integer >= 0") { p.iterateCount = v }
        if let v = try r.int("triggerPeople", in: 0...1_000_000, expected: "an integer >= 0") { p.triggerPeople = v }
        if let v = try r.int("timeoutCount", in: 1...100_000_000, expected: "an integer >= 1") { p.timeoutCount = v }
        if let v = try r.seconds("pauseSeconds") { p.pause = v }
        return p
    }
}

/// Reads `detection.<name>` through the loader, or `detection.overrides.<zone>.<name>` from the file.
struct ScopedReader {
    let loader: ConfigLoader
    let override: String?

    private func raw(_ name: String) throws(ConfigurationError) -> (String, String)? {
        if let override {
            let key = "detection.overrides.\(override).\(name)"
            guard let v = try loader.fileValue(components: ["detection", "overrides", override, name], key: key, list: false),
                case .scalar(let s) = v.raw
            else { return nil }
            return (s, "\(v.source) (\(key))")
        }
        let key = "detection.\(name)"
        guard let v = try loader.value(key), case .scalar(let s) = v.raw else { return nil }
        return (s, v.source.description)
    }

    private func key(_ name: String) -> String {
        override.map { "detection.overrides.\($0).\(name)" } ?? "detection.\(name)"
    }

    func int(_ name: String, in range: ClosedRange<Int>, expected: String) throws(ConfigurationError) -> Int? {
        guard let (s, source) = try raw(name) else { return nil }
        guard let n = Int(s.trimmingCharacters(in: .whitespaces)), range.contains(n) else {
            throw ConfigurationError(key: key(name), source: source, expected: expected, got: s)
        }
        return n
    }

    func seconds(_ name: String, positive: Bool = false) throws(ConfigurationError) -> Duration? {
        guard let (s, source) = try raw(name) else { return nil }
        guard let d = TextFormat.seconds(s, positive: positive) else {
            throw ConfigurationError(key: key(name), source: source, expected: positive ? "a number of seconds > 0" : "a number of seconds >= 0", got: s)
        }
        return d
    }
}
