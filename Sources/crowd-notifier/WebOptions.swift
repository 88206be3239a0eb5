import ArgumentParser
import CrowdKitCore
import CrowdKitPostgres
import CrowdKitSQLite
import CrowdKitWeb
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The event store and web page options of `run` (configuration keys `store.*` and `http.*`, see
/// `crowd-notifier config-reference`; flags override the environment and the file). Prefer the
/// environment (`HTTP_TOKEN`) or the file for the token: flags show in the process list.
struct WebOptions: ParsableArguments {
    @Option(
        name: .customLong("store"),
        help: "SQLite file of the events and the notification outbox (store.path; default crowd-events.sqlite), or a postgres://user:password@host:port/database URL (store.url).")
    var storePath: String?

    @Option(name: .customLong("store-url"), help: "PostgreSQL store, postgres://user:password@host:port/database (store.url; prefer the environment STORE_URL: flags show in the process list).")
    var storeURL: String?

    @Option(name: .customLong("store-tls"), help: "PostgreSQL TLS: disable, prefer or require (store.tls; default prefer).")
    var storeTLS: String?

    @Option(name: .customLong("retention-days"), help: "Days events are kept (store.retentionDays; default 90).")
    var retentionDays: Int?

    @Option(name: .customLong("http-host"), help: "Address the web page listens on (http.host; default 127.0.0.1).")
    var httpHost: String?

    @Option(name: .customLong("http-port"), help: "Port of the web page (http.port; default 5001; 0 turns it off).")
    var httpPort: Int?

    @Option(
        name: .customLong("http-token"),
        help: "Token the page and API require (http.token): 'Authorization: Bearer <token>', or in a browser any user name with the token as password.")
    var httpToken: String?

    @Flag(name: .customLong("http-allow-unauthenticated-remote"), help: "Allow a non-loopback --http-host without a token (http.allowUnauthenticatedRemote).")
    var allowUnauthenticatedRemote = false

    func validate() throws {
        if let retentionDays, retentionDays < 1 { throw ValidationError("--retention-days must be >= 1 (got \(retentionDays))") }
        if let httpPort, !(0...65535).contains(httpPort) { throw ValidationError("--http-port must be in 0...65535 (got \(httpPort))") }
        if let storePath, storePath.isEmpty { throw ValidationError("--store must name a file or a postgres:// URL") }
    }

    /// The options given, as configuration keys.
    var configFlags: [String: String] {
        var f: [String: String] = [:]
        // a URL goes to store.url, a secret: never echoed as a path
        if let storePath { f[PostgresStoreConfiguration.isURL(storePath) ? "store.url" : "store.path"] = storePath }
        if let storeURL { f["store.url"] = storeURL }
        if let storeTLS { f["store.tls"] = storeTLS }
        if let retentionDays { f["store.retentionDays"] = String(retentionDays) }
        if let httpHost { f["http.host"] = httpHost }
        if let httpPort { f["http.port"] = String(httpPort) }
        if let httpToken { f["http.token"] = httpToken }
        if allowUnauthenticatedRemote { f["http.allowUnauthenticatedRemote"] = "true" }
        return f
    }
}
