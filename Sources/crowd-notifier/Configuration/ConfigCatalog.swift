/// Every configuration key of `crowd-notifier`: its type, default, example, the environment
/// variables that set it (the canonical `SECTION_KEY` name and the original notifier's names) and
/// the flag. `Documentation/Configuration.md` is generated from this table (and a test checks it
/// has not drifted).
struct ConfigKeySpec: Sendable, Hashable {
    enum Kind: String, Sendable {
        case string, int, double, bool, list, secret, duration
    }

    var key: String
    var kind: Kind
    var defaultValue: String?
    var example: String
    var help: String
    /// Extra environment variable names (the original's), in priority order after the canonical one.
    var aliases: [String] = []
    /// The command-line flag, when there is one.
    var flag: String?
    /// In the file, a mapping read by ``ConfigLoader/fileMapping(_:)`` (not a scalar or a list).
    var fileMapping = false

    /// `mqtt.clientId` → `MQTT_CLIENT_ID` (swift-configuration's environment convention).
    var environmentName: String {
        key.split(separator: ".").map { component -> String in
            var out = ""
            var previousLower = false
            for ch in component {
                if ch.isUppercase && previousLower { out.append("_") }
                previousLower = ch.isLowercase
                out.append(contentsOf: ch.isLetter || ch.isNumber ? ch.uppercased() : "_")
            }
            return out
        }.joined(separator: "_")
    }

    var isSecret: Bool { kind == .secret }
}

enum ConfigCatalog {
    static let keys: [ConfigKeySpec] = [
        // MQTT
        .init(key: "mqtt.host", kind: .string, defaultValue: "127.0.0.1", example: "broker.example.com", help: "MQTT broker host name or address.", aliases: ["MQTT_SERVER"], flag: "--mqtt-host"),
        .init(key: "mqtt.port", kind: .int, defaultValue: "1883", example: "8883", help: "MQTT broker port (1-65535).", aliases: ["MQTT_PORT"], flag: "--mqtt-port"),
        .init(key: "mqtt.topics", kind: .list, defaultValue: "/merakimv/#", example: "[/merakimv/Q2GV-ABCD-1234/#]", help: "Topic filters to subscribe to. MV Sense topics begin with a slash.", aliases: ["MQTT_TOPIC"], flag: "--topic"),
        .init(key: "mqtt.username", kind: .string, defaultValue: nil, example: "crowdkit", help: "MQTT user name.", flag: "--mqtt-username"),
        .init(key: "mqtt.password", kind: .secret, defaultValue: nil, example: "(secret)", help: "MQTT password.", flag: "--mqtt-password"),
        .init(key: "mqtt.clientId", kind: .string, defaultValue: nil, example: "crowd-notifier-lobby", help: "MQTT client id (default: crowd-notifier-<random>).", flag: "--mqtt-client-id"),
        .init(key: "mqtt.tls.enabled", kind: .bool, defaultValue: "false", example: "true", help: "Connect with TLS (implied by mqtt.tls.caFile).", flag: "--mqtt-tls"),
        .init(key: "mqtt.tls.caFile", kind: .string, defaultValue: nil, example: "/etc/ssl/broker-ca.pem", help: "CA certificate file for the broker (TLS); system trust store when unset.", flag: "--mqtt-tls-ca"),
        .init(key: "mqtt.tls.certFile", kind: .string, defaultValue: nil, example: "/etc/crowdkit/client.pem", help: "Client certificate (TLS client authentication)."),
        .init(key: "mqtt.tls.keyFile", kind: .string, defaultValue: nil, example: "/etc/crowdkit/client.key", help: "Client private key (TLS client authentication)."),
        .init(key: "mqtt.bufferedReads", kind: .bool, defaultValue: "false", example: "true", help: "Opt-in: read the socket in 64 KiB blocks for libmosquitto by redirecting its read(2) import (plain TCP, Linux x86_64/aarch64; see Operations).", flag: "--mqtt-buffered-reads"),
        .init(key: "mqtt.reconnectMaxSeconds", kind: .double, defaultValue: "30", example: "10", help: "Longest wait between connection attempts (from 0.5 s, doubling), at start and after a lost connection."),
        .init(key: "mqtt.tls.verifyHostname", kind: .bool, defaultValue: "true", example: "false", help: "Check the broker certificate's host name."),
        // Filters
        .init(key: "cameras", kind: .list, defaultValue: "*", example: "[Q2GV-ABCD-1234, Q2GV-EFGH-5678]", help: "Cameras to watch: * or a list of serials.", aliases: ["COLLECT_CAMERAS_SERIAL_NUMBERS"], flag: "--cameras"),
        .init(key: "zones", kind: .list, defaultValue: "*", example: "[\"0\", \"584342051651321858\"]", help: "Zones to watch: * or a list of zone ids.", aliases: ["COLLECT_ZONE_IDS"], flag: "--zones"),
        // Detection
        .init(key: "detection.policy", kind: .string, defaultValue: "dwell", example: "messageCount", help: "dwell or messageCount. Setting only message-count values selects messageCount.", flag: "--policy"),
        .init(key: "detection.minPeople", kind: .int, defaultValue: "3", example: "5", help: "Dwell: a crowd is at least this many people.", flag: "--min-people"),
        .init(key: "detection.dwellSeconds", kind: .double, defaultValue: "60", example: "30", help: "Dwell: seconds the crowd must last.", flag: "--dwell"),
        .init(key: "detection.gapSeconds", kind: .double, defaultValue: "5", example: "2", help: "Dwell: a dip below minPeople of at most this many seconds does not end the crowd.", flag: "--gap"),
        .init(key: "detection.cooldownSeconds", kind: .double, defaultValue: "300", example: "120", help: "Dwell: seconds after a notification before the zone fires again.", flag: "--cooldown"),
        .init(key: "detection.staleSeconds", kind: .double, defaultValue: "30", example: "60", help: "Dwell: readings further apart than this mean the zone was not observed.", flag: "--stale"),
        .init(key: "detection.repeatSeconds", kind: .double, defaultValue: nil, example: "600", help: "Dwell: remind every N seconds while the crowd stays (off when unset).", flag: "--repeat"),
        .init(key: "detection.armPeople", kind: .int, defaultValue: "1", example: "2", help: "Message count: people that arm the zone.", aliases: ["MOTION_ALERT_PEOPLE_COUNT_THRESHOLD"], flag: "--arm-people"),
        .init(key: "detection.iterateCount", kind: .int, defaultValue: "50", example: "100", help: "Message count: messages counted while armed.", aliases: ["MOTION_ALERT_ITERATE_COUNT"], flag: "--iterate-count"),
        .init(key: "detection.triggerPeople", kind: .int, defaultValue: "1", example: "3", help: "Message count: minimum peak people.", aliases: ["MOTION_ALERT_TRIGGER_PEOPLE_COUNT"], flag: "--trigger-people"),
        .init(key: "detection.timeoutCount", kind: .int, defaultValue: "20", example: "30", help: "Message count: consecutive zero messages that end the activity.", aliases: ["TIMEOUT"], flag: "--timeout-count"),
        .init(key: "detection.pauseSeconds", kind: .double, defaultValue: "5", example: "10", help: "Message count: seconds the zone pauses after an alert.", aliases: ["MOTION_PAUSE_TIME", "MOTION_ALERT_PAUSE_TIME"], flag: "--pause"),
        .init(key: "detection.objectType", kind: .string, defaultValue: "person", example: "vehicle", help: "Which count of a zone message the policies see: person or vehicle (also per override; areas have their own objectType).", flag: "--object-type"),
        .init(key: "detection.notify", kind: .list, defaultValue: "fired", example: "[fired, reminder, ended]", help: "Which changes notify: fired, reminder, ended."),
        // Meraki
        .init(key: "meraki.apiKey", kind: .secret, defaultValue: nil, example: "(secret)", help: "Meraki Dashboard API key (video links, snapshots, names).", aliases: ["MERAKI_API_KEY"], flag: "--meraki-api-key"),
        .init(key: "meraki.baseURL", kind: .string, defaultValue: "https://api.meraki.com/api/v1", example: "https://api.meraki.ca/api/v1", help: "Dashboard API base URL (regional hosts).", flag: "--meraki-base-url"),
        .init(key: "meraki.networkId", kind: .string, defaultValue: nil, example: "L_646829496481105433", help: "Network of the cameras (camera names).", aliases: ["NETWORK_ID"], flag: "--meraki-network-id"),
        .init(key: "meraki.organizationId", kind: .string, defaultValue: nil, example: "549236", help: "Organization whose camera boundaries (Areas & Lines) name areas and lines; default: the network's.", flag: "--meraki-organization-id"),
        // Webex
        .init(key: "webex.token", kind: .secret, defaultValue: nil, example: "(secret)", help: "Webex bot access token.", aliases: ["BOT_ACCESS_TOKEN"], flag: "--webex-token"),
        .init(key: "webex.tokenFile", kind: .string, defaultValue: nil, example: "/run/secrets/webex-token", help: "File holding the Webex bot token (instead of webex.token).", flag: "--webex-token-file"),
        .init(key: "webex.baseURL", kind: .string, defaultValue: "https://webexapis.com/v1", example: "https://webexapis.com/v1", help: "Webex API base URL.", flag: "--webex-base-url"),
        .init(key: "webex.roomId", kind: .string, defaultValue: nil, example: "Y2lzY29zcGFyazovL3VzL1JPT00v...", help: "Send to this room (exactly one destination).", flag: "--webex-room-id"),
        .init(key: "webex.toPersonEmail", kind: .string, defaultValue: nil, example: "security@example.com", help: "Send to this person by e-mail (exactly one destination).", flag: "--webex-to-person-email"),
        .init(key: "webex.toPersonId", kind: .string, defaultValue: nil, example: "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8...", help: "Send to this person by id (exactly one destination).", flag: "--webex-to-person-id"),
        .init(key: "webex.threads", kind: .bool, defaultValue: "true", example: "false", help: "A thread per crowd (webex.roomId only): an editable root message, the snapshot and a card with buttons as replies, reminders as replies, the root edited at the end. false: every notification is a message of its own."),
        .init(key: "webex.webhookSecret", kind: .secret, defaultValue: nil, example: "(secret)", help: "Secret of the attachmentActions webhook: button presses on crowd cards arrive on POST /webhooks/webex, signed with it (X-Spark-Signature)."),
        .init(key: "webex.allowedActors", kind: .list, defaultValue: nil, example: "[boss@example.com, \"@security.example.com\"]", help: "Who may press the card buttons: e-mail addresses or @domain (default: anyone who can post in the room)."),
        .init(key: "webex.templates.fired", kind: .string, defaultValue: nil, example: "/etc/crowd-notifier/fired.md", help: "File replacing the fired message (the thread's root): markdown with {placeholders} (Operations, \"Webex templates\"), optionally a line --- and the plain text. Checked at start."),
        .init(key: "webex.templates.reminder", kind: .string, defaultValue: nil, example: "/etc/crowd-notifier/reminder.md", help: "File replacing the reminder message (a thread reply), in the form of webex.templates.fired."),
        .init(key: "webex.templates.ended", kind: .string, defaultValue: nil, example: "/etc/crowd-notifier/ended.md", help: "File replacing the ended message (the reply, and the root's edit), in the form of webex.templates.fired."),
        .init(key: "webex.templates.acknowledged", kind: .string, defaultValue: nil, example: "/etc/crowd-notifier/acknowledged.md", help: "File replacing the line an acknowledgement adds under the thread's root; {actor} is who pressed. Default: _Acknowledged by {actor}_."),
        .init(key: "webex.templates.card", kind: .string, defaultValue: nil, example: "/etc/crowd-notifier/card.json", help: "File replacing the card: Adaptive Card JSON with {placeholders} in its strings; every Action.Submit carries data {\"action\": ack, snooze or not_a_crowd, \"eventId\": \"{eventId}\"} (snooze: \"minutes\" 15, 60 or 480). Checked at start."),
        // Webhook
        .init(key: "webhook.url", kind: .string, defaultValue: nil, example: "https://hooks.example.com/crowds", help: "POST every event as JSON to this URL.", flag: "--webhook-url"),
        .init(key: "webhook.secret", kind: .secret, defaultValue: nil, example: "(secret)", help: "Shared secret for the webhook's HMAC-SHA256 signature header.", flag: "--webhook-secret"),
        // Alertmanager
        .init(key: "alertmanager.urls", kind: .list, defaultValue: nil, example: "[http://alertmanager-1:9093, http://alertmanager-2:9093]", help: "Raise each crowd as a CrowdDetected alert in these Prometheus Alertmanagers (POST URL/api/v2/alerts to every one); repeat the flag for several.", flag: "--alertmanager-url"),
        .init(key: "alertmanager.resendSeconds", kind: .double, defaultValue: "60", example: "30", help: "Post open alerts again this often; an alert not re-posted resolves after four intervals."),
        // Store
        .init(key: "store.path", kind: .string, defaultValue: "crowd-events.sqlite", example: "/var/lib/crowdkit/events.sqlite", help: "SQLite file of the events and the delivery outbox (--store also takes a postgres:// URL, as store.url).", flag: "--store"),
        .init(key: "store.url", kind: .secret, defaultValue: nil, example: "postgres://crowdkit:(secret)@db.example:5432/crowdkit", help: "PostgreSQL instead of the SQLite file, for several instances sharing one store (see Operations). Logged with the password redacted.", flag: "--store-url"),
        .init(key: "store.tls", kind: .string, defaultValue: nil, example: "require", help: "PostgreSQL TLS: disable, prefer (TLS when offered, certificate not checked) or require (TLS with the certificate and host name checked). Default: the URL's sslmode, else prefer.", flag: "--store-tls"),
        .init(key: "store.caFile", kind: .string, defaultValue: nil, example: "/etc/ssl/postgres-ca.pem", help: "CA certificate of the PostgreSQL server for store.tls require (system trust store when unset)."),
        .init(key: "store.retentionDays", kind: .int, defaultValue: "90", example: "365", help: "Days events are kept.", flag: "--retention-days"),
        .init(key: "history.retentionDays", kind: .int, defaultValue: "30", example: "90", help: "Days of occupancy history (per zone and minute: max, mean, last count) kept for the charts; 0 keeps none."),
        .init(key: "cluster.name", kind: .string, defaultValue: nil, example: "site-a-1", help: "With a PostgreSQL store: this instance's name among the instances sharing the cameras (default: host name and process id); distinct for each instance."),
        .init(key: "cluster.leaseSeconds", kind: .double, defaultValue: "5", example: "3", help: "With a PostgreSQL store: how long a heartbeat keeps this instance's cameras (0.5 to 5 s); its cameras move to the others within twice this after it dies."),
        // Delivery
        .init(key: "delivery.maxAgeSeconds", kind: .double, defaultValue: "3600", example: "7200", help: "A fired notification is retried until sent, refused (400/401/403/404) or this old, then recorded as expired."),
        .init(key: "delivery.followUpMaxAgeSeconds", kind: .double, defaultValue: "600", example: "300", help: "The same for reminders and ended notifications (at most delivery.maxAgeSeconds)."),
        .init(key: "delivery.retrySeconds", kind: .double, defaultValue: "5", example: "10", help: "First wait before a notification is tried again; doubles per attempt."),
        .init(key: "delivery.maxRetrySeconds", kind: .double, defaultValue: "300", example: "120", help: "Longest wait between two attempts of one notification."),
        .init(key: "delivery.workerName", kind: .string, defaultValue: nil, example: "site-a-1", help: "Name this process claims notifications under (default: the host name; with a PostgreSQL store, cluster.name, so that the notifications an instance that died had claimed are taken over when its heartbeat ends); the same after a restart, distinct for processes sharing one store."),
        .init(key: "delivery.leaseSeconds", kind: .double, defaultValue: "300", example: "120", help: "How long a claimed notification is this process's to send before another may take it (longer than the longest send)."),
        .init(key: "delivery.maxProbeSeconds", kind: .double, defaultValue: "60", example: "30", help: "While a notifier fails, it is tried with one notification at a time at most this far apart."),
        .init(key: "store.zoneStates", kind: .bool, defaultValue: "true", example: "false", help: "Save each zone's detection state (dwell timers, cool-downs, open crowds) so that a restart resumes it."),
        .init(key: "store.backlogCapacity", kind: .int, defaultValue: "10000", example: "50000", help: "Event changes kept in memory while the store cannot be written (then written in order)."),
        .init(key: "shutdown.timeoutSeconds", kind: .double, defaultValue: "10", example: "20", help: "SIGTERM/SIGINT end the process within this time, whatever the store or the APIs do."),
        // HTTP
        .init(key: "http.host", kind: .string, defaultValue: "127.0.0.1", example: "0.0.0.0", help: "Address the web page binds to.", flag: "--http-host"),
        .init(key: "http.port", kind: .int, defaultValue: "5001", example: "8080", help: "Port of the web page (as the original).", flag: "--http-port"),
        .init(key: "http.token", kind: .secret, defaultValue: nil, example: "(secret)", help: "Bearer token required by the page and the API (required to bind a non-loopback address).", flag: "--http-token"),
        .init(key: "http.publicURL", kind: .string, defaultValue: nil, example: "https://crowds.example.com", help: "The page's address as others reach it, for links to events (Alertmanager's generatorURL); default http://<http.host or this host's name>:<http.port>."),
        .init(key: "http.tokens", kind: .secret, defaultValue: nil, example: "{alice: (secret), bob: (secret)}", help: "Several named tokens (YAML mapping name: token, or name=token,name=token in the environment); each works like http.token and the audit names who made a change.", fileMapping: true),
        .init(key: "http.allowUnauthenticatedRemote", kind: .bool, defaultValue: "false", example: "true", help: "Allow binding a non-loopback address without http.token."),
        // Logging
        .init(key: "log.level", kind: .string, defaultValue: "info", example: "debug", help: "trace, debug, info, notice, warning, error or critical.", flag: "--log-level"),
    ]

    static let byKey: [String: ConfigKeySpec] = Dictionary(uniqueKeysWithValues: keys.map { ($0.key, $0) })

    /// The reference page, `Documentation/Configuration.md`.
    static func markdown() -> String {
        var s = """
            # Configuration reference

            `crowd-notifier` reads its configuration from, in this order of precedence:

            1. command-line flags,
            2. environment variables (the canonical name, then the original notifier's names),
            3. a YAML file (`--config FILE`; `crowd-notifier.yaml` in the working directory when present),
            4. the defaults below.

            An invalid value stops the program before anything starts, with a message naming the key,
            where the value came from and the accepted form. Secrets are never printed.

            In YAML, keys nest by their dots (`mqtt.port` is `port:` under `mqtt:`); lists are YAML
            sequences or, in environment variables and flags, comma-separated. Per-zone detection
            overrides live in the file only:

            ```yaml
            detection:
              minPeople: 3
              overrides:
                "Q2GV-ABCD-1234/0":        # camera/zone
                  minPeople: 8
                "Q2GV-EFGH-5678/*":        # every zone of a camera
                  dwellSeconds: 30
            ```

            This page is generated from the code (`crowd-notifier config-reference`); a test fails
            when they differ.

            | key | type | default | environment | flag | example | meaning |
            |---|---|---|---|---|---|---|

            """
        for k in keys {
            let env = ([k.environmentName] + k.aliases).map { "`\($0)`" }.joined(separator: ", ")
            let def = k.defaultValue.map { "`\($0)`" } ?? "–"
            let flag = k.flag.map { "`\($0)`" } ?? "–"
            s += "| `\(k.key)` | \(k.kind.rawValue) | \(def) | \(env) | \(flag) | `\(k.example)` | \(k.help) |\n"
        }
        return s
    }
}
