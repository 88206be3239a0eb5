import ArgumentParser
import CrowdKitCore
import CrowdKitWeb
import CrowdKitWebex
import Foundation
import Hummingbird
import Logging

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole notifier on a simulated MV Sense feed (no camera, broker or credentials).",
        discussion: """
            Three simulated cameras publish zone counts twice a second with crowd episodes. Detection \
            runs with demo-friendly defaults (3 people for 10 s, 60 s cooldown) unless you pass \
            detection options. Events are kept in a local SQLite file (crowd-demo.sqlite) and listed \
            on the web page (http://127.0.0.1:5001/); each notification is printed as the Webex \
            message it would send.
            """
    )

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var storeWeb: WebOptions
    @OptionGroup var logging: LoggingOptions

    @Option(name: .long, help: "Simulation speed: 1 is real time (default), 10 is ten times faster.")
    var speed: Double = 1

    @Option(name: .long, help: "Stop after this many seconds of simulated time (default: run until interrupted).")
    var duration: Double?

    @Option(name: .long, help: "Seed of the simulated episodes (default 42).")
    var seed: UInt64 = 42

    func validate() throws {
        guard speed.isFinite, speed > 0, speed <= 10_000 else { throw ValidationError("--speed must be a number in (0, 10000] (got \(speed))") }
        if let d = duration, !(d.isFinite && d > 0) { throw ValidationError("--duration must be a number of seconds > 0 (got \(d))") }
    }

    func run() async throws {
        MallocArenas.limitForLongRuns()
        var options = detection
        if options.policy == nil && options.messageCountOptionsGiven.isEmpty {
            options.dwell = options.dwell ?? 10
            options.cooldown = options.cooldown ?? 60
            options.gap = options.gap ?? 3
        }
        var flags = options.configFlags.merging(storeWeb.configFlags) { a, _ in a }
        if storeWeb.storePath == nil { flags["store.path"] = "crowd-demo.sqlite" }
        if let level = logging.logLevelFlag { flags["log.level"] = level }
        var settings = try await loadSettings(flags: flags, configFile: detection.config)
        // the demo never talks to the network: no Webex, Meraki or webhook even when configured
        settings.webex = nil
        settings.meraki = nil
        settings.webhook = nil
        settings.detection.kinds.formUnion([.fired, .ended])
        // the simulated site's two-door hall, unless the configuration brings its own areas
        if settings.detection.areas.areas.isEmpty {
            settings.detection.areas = AreaSetup(
                areas: SimulatedSource.demoAreas.map(\.definition),
                policy: settings.detection.policy as? DwellPolicy ?? DwellPolicy())
        }
        let logger = logging.makeLogger(level: settings.logLevel)
        switch settings.detection.policy {
        case let p as DwellPolicy: try await demo(p, settings, logger: logger)
        case let p as MessageCountPolicy: try await demo(p, settings, logger: logger)
        case let p: try await demo(AnyDetectionPolicy(p), settings, logger: logger)
        }
    }

    private func demo<P: DetectionPolicy>(_ policy: P, _ settings: AppSettings, logger: Logger) async throws {
        let source = SimulatedSource(
            .init(
                speed: speed, length: duration.map { .milliseconds(Int64($0 * 1000)) }, seed: seed,
                areas: settings.detection.areas.areas.isEmpty ? [] : SimulatedSource.demoAreas))
        let names = source.names
        let host = settings.http.host.contains(":") ? "[\(settings.http.host)]" : settings.http.host
        let base = "http://\(host):\(settings.http.port)"
        let enricher = StaticNamesEnricher(cameraNames: names.cameras, zoneNames: names.zones) { camera, at in
            settings.http.port == 0 ? nil : "\(base)/demo/video/\(camera)?t=\(TextFormat.iso8601(at))"
        }
        let template = WebexMessageTemplate.standard
        // prints the exact Webex message (markdown) it would send
        let notifier = LogNotifier(name: "webex-preview", logger: logger) { "Webex message: " + template.render($0).markdown }
        let setup = NotifierSetup(
            notifiers: [notifier], enricher: enricher,
            plan: NotificationPlan(notifiers: [notifier.name], kinds: settings.detection.kinds),
            summary: "demo: \(source.configuration.cameras.count) simulated cameras, \(names.zones.count - source.configuration.areas.count) zones and a two-door area; no Webex token: each message is printed here instead of sent",
            logOnly: true)
        let app = NotifierApp(
            policy: policy, source: source, settings: settings, setup: setup, logger: logger, names: names,
            extraRoutes: { router in
                router.get("/demo/video/:camera") { request, context -> Response in
                    let camera = context.parameters.get("camera") ?? "?"
                    let t = request.uri.queryParameters.get("t") ?? ""
                    return DemoVideoPage.response(camera: names.cameras[camera] ?? camera, serial: camera, at: t)
                }
            })
        let stats = try await app.run()
        logger.notice("demo finished: \(stats.messages) messages, \(stats.fired) crowd events")
    }
}

/// The demo's stand-in for the Meraki video link: a small page saying which camera and moment a
/// real deployment would open.
enum DemoVideoPage {
    static func response(camera: String, serial: String, at: String) -> Response {
        let esc = TextFormat.html
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo video: \(esc(camera))</title>
            <style>body{font:16px system-ui,sans-serif;margin:3rem auto;max-width:40rem;color:#1d2433}
            .frame{background:#1d2433;color:#e8ecf3;border-radius:12px;padding:4rem 2rem;text-align:center}</style></head>
            <body><div class="frame"><p>▶ \(esc(camera)) <small>(\(esc(serial)))</small></p><p>\(esc(at))</p></div>
            <p>This is the demo. With a Meraki API key configured, the link opens the camera's video in the
            Meraki dashboard at the moment the crowd started.</p><p><a href="/">Back to the events</a></p></body></html>
            """
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
