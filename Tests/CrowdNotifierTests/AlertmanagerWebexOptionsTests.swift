import CrowdKitCore
import CrowdKitWebex
import Foundation
import Logging
import Testing

@testable import crowd_notifier

@Suite("Alertmanager and Webex conversation settings")
struct AlertmanagerWebexOptionsTests {
    let logger = Logger(label: "test")

    func settings(_ args: [String], env: [String: String] = [:]) async throws -> AppSettings {
        let flags = try NotifierOptions.parse(args).configFlags
        return try AppSettings.load(try await ConfigLoader(flags: flags, environment: env, filePath: nil))
    }

    @Test("--alertmanager-url repeats into alertmanager.urls; an alertmanager notifier and a resend loop are set up")
    func alertmanager() async throws {
        let s = try await settings(["--alertmanager-url", "http://am-1:9093", "--alertmanager-url", "http://am-2:9093/"])
        let am = try #require(s.alertmanager)
        #expect(am.urls == ["http://am-1:9093", "http://am-2:9093/"])
        #expect(am.resendInterval == .seconds(60))
        #expect(am.pageURL == "http://127.0.0.1:5001")
        let setup = try s.notifierSetup(logger: logger)
        #expect(setup.notifiers.map(\.name) == ["alertmanager"])
        #expect(!setup.logOnly)
        #expect(setup.background.count == 1)
        #expect(setup.summary.contains("Alertmanager"))

        let env = try await settings([], env: ["ALERTMANAGER_URLS": "http://am:9093", "ALERTMANAGER_RESEND_SECONDS": "15", "HTTP_PUBLIC_URL": "https://crowds.example"])
        #expect(env.alertmanager?.resendInterval == .seconds(15))
        #expect(env.alertmanager?.pageURL == "https://crowds.example")
        await #expect(throws: (any Error).self) { _ = try await settings(["--alertmanager-url", "ftp://am"]) }
        #expect(try await settings([]).alertmanager == nil)
    }

    @Test("webex.webhookSecret, webex.allowedActors and webex.threads are read with the Webex settings")
    func webex() async throws {
        let env = [
            "BOT_ACCESS_TOKEN": "tok-abcdef-123456", "WEBEX_WEBHOOK_SECRET": "whsec-abcdef", "WEBEX_ALLOWED_ACTORS": "boss@example.com,@staff.example.com",
            "WEBEX_THREADS": "true",
        ]
        let s = try await settings(["--webex-room-id", "ROOM", "--webex-base-url", "http://127.0.0.1:9/v1"], env: env)
        #expect(s.webex?.webhookSecret == "whsec-abcdef")
        #expect(s.webex?.allowedActors == ["boss@example.com", "@staff.example.com"])
        #expect(s.webex?.threads == true)
        let setup = try s.notifierSetup(logger: logger)
        #expect(setup.webexWebhook != nil)
        #expect(!setup.summary.contains("whsec-abcdef"))
        #expect(try await settings(["--webex-room-id", "ROOM"], env: ["BOT_ACCESS_TOKEN": "t"]).notifierSetup(logger: logger).webexWebhook == nil)
    }

    @Test("webex.threads is on by default for a room (the page links the threads); false turns it off")
    func threadsByDefault() async throws {
        let room = "Y2lzY29zcGFyazovL3VzL1JPT00vYmJjZWIxYWQtNDNmMS0zYjU4LTkxNDctZjE0YmIwYzRkMTU0"
        let message = "Y2lzY29zcGFyazovL3VzL01FU1NBR0UvOTJkYjNiZTAtNDNiZC0xMWU2LThhZTktZGQ1YjNkZmM1NjVk"
        let on = try await settings(["--webex-room-id", room, "--webex-base-url", "http://127.0.0.1:9/v1"], env: ["BOT_ACCESS_TOKEN": "t"])
        #expect(on.webex?.threads == true)
        var record = EventRecord(
            event: CrowdEvent(camera: "C", zone: "0", startedAt: 1, firedAt: 2, peak: 3, policy: PolicyDescription(name: "dwell", parameters: [:])),
            deliveries: [])
        var root = Delivery(eventID: record.event.id, notifier: "webex", kind: .fired, createdAt: 2)
        root.status = .sent(remoteID: message)
        record.deliveries = [root]
        let link = try #require(try on.notifierSetup(logger: logger).conversationLink)
        #expect(link(record) == "webexteams://im?space=bbceb1ad-43f1-3b58-9147-f14bb0c4d154&message=92db3be0-43bd-11e6-8ae9-dd5b3dfc565d")
        let off = try await settings(["--webex-room-id", room], env: ["BOT_ACCESS_TOKEN": "t", "WEBEX_THREADS": "false"])
        #expect(off.webex?.threads == false)
        #expect(try off.notifierSetup(logger: logger).conversationLink == nil)
        let person = try await settings(["--webex-to-person-email", "a@example.com"], env: ["BOT_ACCESS_TOKEN": "t"])
        #expect(try person.notifierSetup(logger: logger).conversationLink == nil, "no thread without a room")
    }

    @Test("webex.templates.* files are read and checked at start; a bad one names the key, the file and the problem, exit 78")
    func templates() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func file(_ name: String, _ text: String) throws -> String {
            let url = dir.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let fired = try file("fired.md", "**Crowd** in *{zone}*\n---\nCrowd in {zone}\n")
        let ack = try file("ack.md", "On it: {actor}")
        let card = try file(
            "card.json", #"{"type":"AdaptiveCard","actions":[{"type":"Action.Submit","title":"Mine","data":{"action":"ack","eventId":"{eventId}"}}]}"#)
        let env = ["BOT_ACCESS_TOKEN": "t", "WEBEX_TEMPLATES_FIRED": fired, "WEBEX_TEMPLATES_ACKNOWLEDGED": ack, "WEBEX_TEMPLATES_CARD": card]
        let s = try await settings(["--webex-room-id", "ROOM"], env: env)
        let templates = try #require(s.webex?.templates)
        #expect(templates.messages.fired == .init(markdown: "**Crowd** in *{zone}*", text: "Crowd in {zone}"))
        #expect(templates.messages.ended == WebexMessageTemplate.standard.ended, "what no file replaces stays standard")
        #expect(templates.acknowledged.markdown == "On it: {actor}")
        #expect(templates.card != nil)

        let bad = try file("bad-card.json", #"{"type":"AdaptiveCard","actions":[{"type":"Action.Submit","title":"Delete","data":{"action":"delete","eventId":"{eventId}"}}]}"#)
        do {
            _ = try await settings(["--webex-room-id", "ROOM"], env: ["BOT_ACCESS_TOKEN": "t", "WEBEX_TEMPLATES_CARD": bad])
            Issue.record("a card with an unknown action was accepted")
        } catch let error as ConfigurationError {
            #expect(error.key == "webex.templates.card")
            #expect(error.description.contains(bad))
            #expect(error.description.contains("\"delete\""))
        }
        let typo = try file("typo.md", "Crowd in {zoen}")
        let run = try CommandLineTests.run(
            ["run", "--webex-room-id", "ROOM", "--http-port", "0"], environment: ["BOT_ACCESS_TOKEN": "secret-token-abc123", "WEBEX_TEMPLATES_REMINDER": typo])
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("webex.templates.reminder"))
        #expect(run.stderr.contains(typo))
        #expect(run.stderr.contains("unknown placeholder {zoen}"))
        #expect(!run.stderr.contains("secret-token-abc123"))
    }
}
