import CrowdKitCore
import Foundation
import PostgresNIO

/// How a ``PostgresEventStore`` connects and what it keeps.
///
/// Made from a URL (`postgres://user:password@host:port/database`) or field by field. The
/// password is never part of a description, a log line or an error: ``redactedURL`` is the form
/// to show.
public struct PostgresStoreConfiguration: Sendable {
    /// Whether the connection is encrypted, and whether the server's certificate is checked.
    public struct TLS: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Mode: String, Hashable, Sendable { case disable, prefer, require }
        fileprivate let mode: Mode

        /// Plain TCP (a server on the same host, or inside a private network you trust).
        public static let disable = TLS(mode: .disable)
        /// TLS when the server offers it, plain TCP otherwise; the certificate is not checked
        /// (like libpq's `sslmode=prefer`: it keeps passive listeners out, not an impostor).
        public static let prefer = TLS(mode: .prefer)
        /// TLS or no connection, with the certificate checked against the system's trust store
        /// (or ``PostgresStoreConfiguration/caFile``) and the host name (libpq's `verify-full`).
        public static let require = TLS(mode: .require)

        /// `disable`, `prefer` or `require`.
        public var description: String { mode.rawValue }

        /// The mode named `disable`, `prefer` or `require` (libpq's `verify-full` and `verify-ca`
        /// read as `require`, its `allow` as `prefer`).
        public init?(_ name: String) {
            switch name.lowercased() {
            case "disable": mode = .disable
            case "prefer", "allow": mode = .prefer
            case "require", "verify-full", "verify-ca": mode = .require
            default: return nil
            }
        }

        fileprivate init(mode: Mode) { self.mode = mode }
    }

    /// Host name or address of the server.
    public var host: String
    /// TCP port. Default 5432.
    public var port: Int
    /// The role to log in as.
    public var username: String
    /// Its password, if the server asks for one. Never logged.
    public var password: String?
    /// The database (it must exist; the store creates its tables in it).
    public var database: String
    /// Default ``TLS/prefer``.
    public var tls: TLS
    /// PEM file of the certificate authority that signed the server's certificate, for
    /// ``TLS/require`` (system trust store when `nil`).
    public var caFile: String?
    /// Connections the pool may open at most. Default 10.
    public var maximumConnections: Int
    /// How long one connection attempt may take. Default 10 s.
    public var connectTimeout: Duration
    /// How long a call made before the store is ready (connected and migrated) waits for it
    /// before it fails with `EventStoreError` `.unavailable`. Default 10 s.
    public var readyTimeout: Duration
    /// How long a call made once the store is ready waits for a pooled connection and the
    /// server's answer before it fails with `EventStoreError` `.unavailable` (PostgreSQL lost
    /// while running: the pool would otherwise keep a call waiting for a new connection up to a
    /// minute). The call itself is not cancelled: it may still complete later (every write is
    /// idempotent, so the caller's retry is harmless). Default 5 s.
    public var requestTimeout: Duration = .seconds(5)
    /// The first wait after a failed connection attempt at start; it doubles up to
    /// ``maximumRetryDelay``. Default 0.5 s.
    public var initialRetryDelay: Duration
    /// The longest wait between connection attempts at start. Default 30 s.
    public var maximumRetryDelay: Duration
    /// Events are kept this many days after they started; `nil` keeps them forever. Default 90.
    public var retentionDays: Int?
    /// How often the retention loop prunes. Default one hour.
    public var retentionInterval: Duration

    public init(
        host: String, port: Int = 5432, username: String, password: String? = nil, database: String, tls: TLS = .prefer,
        caFile: String? = nil, maximumConnections: Int = 10, connectTimeout: Duration = .seconds(10),
        readyTimeout: Duration = .seconds(10), initialRetryDelay: Duration = .milliseconds(500),
        maximumRetryDelay: Duration = .seconds(30), retentionDays: Int? = 90, retentionInterval: Duration = .seconds(3600)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.caFile = caFile
        self.maximumConnections = maximumConnections
        self.connectTimeout = connectTimeout
        self.readyTimeout = readyTimeout
        self.initialRetryDelay = initialRetryDelay
        self.maximumRetryDelay = maximumRetryDelay
        self.retentionDays = retentionDays
        self.retentionInterval = retentionInterval
    }

    /// Whether `text` is a PostgreSQL URL (`postgres://` or `postgresql://`), as opposed to a
    /// SQLite file path.
    public static func isURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Reads `postgres://user:password@host:port/database[?sslmode=disable|prefer|require]`
    /// (`postgresql://` too; user name and password percent-encoded where they hold `@`, `:` or
    /// `/`). The port defaults to 5432, the user to `postgres`, the database to the user's name.
    ///
    /// - Throws: `EventStoreError` `.invalid` naming what is wrong, with the URL redacted.
    public init(url text: String) throws {
        let redacted = Self.redact(text)
        guard Self.isURL(text), let components = URLComponents(string: text) else {
            throw EventStoreError(.invalid, "not a postgres:// URL: \(redacted)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw EventStoreError(.invalid, "the URL names no host: \(redacted)")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw EventStoreError(.invalid, "the URL's port is not 1-65535: \(redacted)") }
        let user = components.user.flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        var path = components.path
        if path.hasPrefix("/") { path.removeFirst() }
        guard !path.contains("/") else { throw EventStoreError(.invalid, "the URL's path must be one database name: \(redacted)") }
        var tls = TLS.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLS(value) else {
                    throw EventStoreError(.invalid, "sslmode must be disable, prefer or require: \(redacted)")
                }
                tls = mode
            default:
                throw EventStoreError(.invalid, "unknown URL parameter \(item.name) (only sslmode): \(redacted)")
            }
        }
        // host in brackets for IPv6 literals: URLComponents keeps them
        var bareHost = host
        if bareHost.hasPrefix("["), bareHost.hasSuffix("]") { bareHost = String(bareHost.dropFirst().dropLast()) }
        self.init(
            host: bareHost, port: port, username: user, password: components.password, database: path.isEmpty ? user : path,
            tls: tls)
    }

    /// The URL with the password replaced by `***` (for logs, errors and the page).
    public var redactedURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let user = username.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? username
        return "postgres://\(user)\(password == nil ? "" : ":***")@\(h):\(port)/\(database)"
    }

    /// `text` with the password of a URL in it replaced by `***` (anything between `://user:`
    /// and the last `@` of the authority). For showing what a user typed.
    public static func redact(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return text }
        let rest = text[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }

    /// The TLS settings for ``tls``, and whether TLS is required; `nil` for ``TLS/disable``.
    func tlsConfiguration() throws -> (configuration: TLSConfiguration, required: Bool)? {
        switch tls.mode {
        case .disable:
            return nil
        case .prefer:
            var c = TLSConfiguration.makeClientConfiguration()
            c.certificateVerification = .none
            return (c, false)
        case .require:
            var c = TLSConfiguration.makeClientConfiguration()
            c.certificateVerification = .fullVerification
            if let caFile {
                do {
                    c.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                } catch {
                    throw EventStoreError(.invalid, "cannot read the CA file \(caFile): \(error)")
                }
            }
            return (c, true)
        }
    }

    /// PostgresNIO's pool configuration for this one.
    func clientConfiguration() throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        if let (c, required) = try tlsConfiguration() {
            tls = required ? .require(c) : .prefer(c)
        } else {
            tls = .disable
        }
        var c = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        c.options.maximumConnections = max(1, maximumConnections)
        c.options.connectTimeout = connectTimeout
        return c
    }

    /// The configuration of the single connection ``PostgresEventStore/run()`` migrates on.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        do {
            if let (c, required) = try tlsConfiguration() {
                let context = try NIOSSLContext(configuration: c)
                tls = required ? .require(context) : .prefer(context)
            } else {
                tls = .disable
            }
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw EventStoreError(.invalid, "cannot set up TLS: \(error)")
        }
        var c = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        c.options.connectTimeout = .nanoseconds(Int64(connectTimeout.seconds * 1e9))
        return c
    }
}
