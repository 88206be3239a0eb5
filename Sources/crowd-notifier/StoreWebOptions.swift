import ArgumentParser

/// `--store`, `--retention-days`, `--http-host`, `--http-port`, `--http-token` (config keys
/// `store.*` and `http.*`).
struct StoreWebOptions: ParsableArguments {
    @Option(name: .customLong("store"), help: "SQLite file of events and the notification outbox (store.path; default crowd-events.sqlite).")
    var storePath: String?
    @Option(name: .customLong("retention-days"), help: "Days events are kept (store.retentionDays; default 90).")
    var retentionDays: Int?
    @Option(name: .customLong("http-host"), help: "Address of the web page (http.host; default 127.0.0.1).")
    var httpHost: String?
    @Option(name: .customLong("http-port"), help: "Port of the web page (http.port; default 5001; 0: no web page).")
    var httpPort: Int?
    @Option(name: .customLong("http-token"), help: "Bearer token for the page and API (http.token; prefer the environment: HTTP_TOKEN).")
    var httpToken: String?

    var configFlags: [String: String] {
        var f: [String: String] = [:]
        func put(_ key: String, _ v: (some CustomStringConvertible)?) { if let v { f[key] = v.description } }
        put("store.path", storePath)
        put("store.retentionDays", retentionDays)
        put("http.host", httpHost)
        put("http.port", httpPort)
        put("http.token", httpToken)
        return f
    }
}
