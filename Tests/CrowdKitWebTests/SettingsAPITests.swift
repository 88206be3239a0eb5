import CrowdKitCore
import CrowdKitSQLite
import CrowdKitWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// The live-control API contract (`/api/settings`, `/api/mutes`, pause, audit) on a real SQLite
/// store, with the settings put in effect through LiveSettings.
@Suite("Live control API")
struct SettingsAPITests {
    struct Harness {
        let directory: TemporaryDirectory
        let store: SQLiteEventStore
        let live: LiveSettings
        let control: SettingsControl

        static func make(seed: RuntimeSettings = RuntimeSettings(defaults: ParameterSet([.minPeople: 3, .dwellSeconds: 60]))) async throws -> Harness {
            let directory = try TemporaryDirectory()
            let store = try SQLiteEventStore(path: directory.path + "/events.sqlite", logger: quietLogger)
            let live = LiveSettings()
            let control = SettingsControl(store: store, live: live, logger: quietLogger)
            try await control.start(seed: seed)
            return Harness(directory: directory, store: store, live: live, control: control)
        }

        func app(access: CrowdWebConfiguration.Access = .open) -> some ApplicationProtocol {
            let web = CrowdWeb(store: store, configuration: CrowdWebConfiguration(access: access), logger: quietLogger, settings: control)
            return WebFixture.app(web)
        }
    }

    static func json(_ r: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [String: Any] ?? [:]
    }

    static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test("GET returns the seeded document with its version as ETag; PUT with If-Match replaces it and puts it in effect")
    func getAndPut() async throws {
        let h = try await Harness.make()
        try await h.app().test(.router) { client in
            let got = try await client.execute(uri: "/api/settings", method: .get)
            #expect(got.status == .ok)
            #expect(got.headers[.eTag] == "\"1\"")
            let doc = Self.json(got)
            #expect(doc["version"] as? Int == 1)
            #expect((doc["detection"] as? [String: Any]).flatMap { $0["defaults"] as? [String: Any] }?["minPeople"] as? Double == 3)
            let put = try await client.execute(
                uri: "/api/settings", method: .put, headers: [.ifMatch: "\"1\""],
                body: Self.body(#"{"paused": false, "detection": {"defaults": {"minPeople": 5}, "overrides": {"Q2MV-AAAA-0001/5843": {"dwellSeconds": 30}}}, "schedules": [], "quietHours": [], "recipients": {}}"#))
            #expect(put.status == .ok)
            #expect(put.headers[.eTag] == "\"2\"")
            #expect(Self.json(put)["version"] as? Int == 2)
        }
        let inEffect = h.live.snapshot.settings
        #expect(inEffect.version == 2)
        #expect(inEffect.defaults[.minPeople] == 5)
        #expect(inEffect.overrides[.zone(ZoneKey(camera: "Q2MV-AAAA-0001", zone: "5843"))]?[.dwellSeconds] == 30)
        #expect(try await h.store.audit(limit: 10).first?.by == "local")
    }

    @Test("PUT: 428 without If-Match, 412 on another version, 422 naming the field; nothing applied")
    func putRefusals() async throws {
        let h = try await Harness.make()
        try await h.app().test(.router) { client in
            let good = Self.body(#"{"detection": {"defaults": {"minPeople": 4}}}"#)
            let none = try await client.execute(uri: "/api/settings", method: .put, body: good)
            #expect(none.status == .preconditionRequired)
            let stale = try await client.execute(uri: "/api/settings", method: .put, headers: [.ifMatch: "\"7\""], body: good)
            #expect(stale.status == .preconditionFailed)
            let bad = try await client.execute(
                uri: "/api/settings", method: .put, headers: [.ifMatch: "\"1\""],
                body: Self.body(#"{"detection": {"defaults": {"minPeople": 4}, "overrides": {"Q2MV-AAAA-0001/5843": {"minPeople": -2}}}}"#))
            #expect(bad.status == .unprocessableContent)
            let errors = Self.json(bad)["errors"] as? [[String: Any]] ?? []
            #expect(errors.contains { $0["field"] as? String == "detection.overrides.Q2MV-AAAA-0001/5843.minPeople" })
            let unknown = try await client.execute(
                uri: "/api/settings", method: .put, headers: [.ifMatch: "\"1\""], body: Self.body(#"{"detection": {"defaults": {"minPeeple": 4}}}"#))
            #expect(unknown.status == .unprocessableContent)
            let huge = try await client.execute(
                uri: "/api/settings", method: .put, headers: [.ifMatch: "\"1\""],
                body: Self.body("{\"x\": \"" + String(repeating: "a", count: SettingsDocument.maximumSize) + "\"}"))
            #expect(huge.status == .contentTooLarge)
        }
        #expect(h.live.snapshot.settings.version == 1)
        #expect(h.live.snapshot.settings.defaults[.minPeople] == 3)
    }

    @Test("two concurrent PUTs with the same version: one wins, the other gets 412")
    func concurrentPuts() async throws {
        let h = try await Harness.make()
        try await h.app().test(.router) { client in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for n in [4, 5] {
                    group.addTask {
                        try await client.execute(
                            uri: "/api/settings", method: .put, headers: [.ifMatch: "\"1\""],
                            body: Self.body(#"{"detection": {"defaults": {"minPeople": \#(n)}}}"#)
                        ).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.sorted { $0.code < $1.code } == [.ok, .preconditionFailed])
        }
        #expect(h.live.snapshot.settings.version == 2)
    }

    @Test("mutes: 201 with id, selector, from, until, reason, by; listed while active; DELETE 204, then 404; bad input 4xx naming the field")
    func mutes() async throws {
        let h = try await Harness.make()
        try await h.app(access: .basic(user: "ops-anna", password: "pw")).test(.router) { client in
            let auth: HTTPFields = [.authorization: "Basic " + Data("ops-anna:pw".utf8).base64EncodedString()]
            let made = try await client.execute(
                uri: "/api/mutes", method: .post, headers: auth, body: Self.body(#"{"selector": "Q2MV-AAAA-0001/*", "minutes": 60, "reason": "maintenance"}"#))
            #expect(made.status == .created)
            let mute = Self.json(made)
            let id = try #require(mute["id"] as? String)
            #expect(mute["selector"] as? String == "Q2MV-AAAA-0001/*")
            #expect(mute["reason"] as? String == "maintenance")
            #expect(mute["by"] as? String == "ops-anna")
            #expect(mute["from"] is String && mute["until"] is String)
            let listed = try await client.execute(uri: "/api/mutes", method: .get, headers: auth)
            let list = (try? JSONSerialization.jsonObject(with: Data(listed.body.readableBytesView))) as? [[String: Any]] ?? []
            #expect(list.map { $0["id"] as? String } == [id])
            #expect(h.live.suppression(for: ZoneKey(camera: "Q2MV-AAAA-0001", zone: "5843"), at: Int64(Date().timeIntervalSince1970 * 1000)) == "mute \(id)")
            for (body, field) in [
                (#"{"selector": "Q2MV/AAAA/x", "minutes": 60}"#, "selector"),
                (#"{"selector": "*", "minutes": 0}"#, "minutes"),
                (#"{"selector": "*", "minutes": 525601}"#, "minutes"),
                (#"{"selector": "*", "minutes": true}"#, "minutes"),
                (#"{"selector": "*", "until": "yesterday"}"#, "until"),
                (#"{"selector": "*", "minutes": 5, "color": "red"}"#, "color"),
            ] {
                let r = try await client.execute(uri: "/api/mutes", method: .post, headers: auth, body: Self.body(body))
                #expect(r.status == .unprocessableContent, "\(body)")
                #expect((Self.json(r)["errors"] as? [[String: Any]] ?? []).contains { $0["field"] as? String == field }, "\(body)")
            }
            let deleted = try await client.execute(uri: "/api/mutes/\(id)", method: .delete, headers: auth)
            #expect(deleted.status == .noContent)
            let again = try await client.execute(uri: "/api/mutes/\(id)", method: .delete, headers: auth)
            #expect(again.status == .notFound)
        }
        #expect(h.live.snapshot.mutes.isEmpty)
        let audit = try await h.store.audit(limit: 10)
        #expect(audit.prefix(2).map(\.action) == ["unmute", "mute"])
        #expect(audit.prefix(2).allSatisfy { $0.by == "ops-anna" })
    }

    @Test("pause and resume answer {\"paused\"}, are in effect at once and audited; the audit lists newest first")
    func pauseResume() async throws {
        let h = try await Harness.make()
        try await h.app().test(.router) { client in
            let paused = try await client.execute(uri: "/api/detection/pause", method: .post)
            #expect(Self.json(paused)["paused"] as? Bool == true)
            #expect(h.live.snapshot.settings.paused)
            let resumed = try await client.execute(uri: "/api/detection/resume", method: .post)
            #expect(Self.json(resumed)["paused"] as? Bool == false)
            #expect(!h.live.snapshot.settings.paused)
            let audit = try await client.execute(uri: "/api/audit?limit=2", method: .get)
            let entries = (try? JSONSerialization.jsonObject(with: Data(audit.body.readableBytesView))) as? [[String: Any]] ?? []
            #expect(entries.map { $0["action"] as? String } == ["resume", "pause"])
            #expect(entries.allSatisfy { $0["by"] as? String == "local" && $0["at"] is String && $0["summary"] is String })
            let bad = try await client.execute(uri: "/api/audit?limit=zero", method: .get)
            #expect(bad.status == .badRequest)
        }
    }

    @Test("settings and mutes survive a restart: a new control on the same file puts them in effect again")
    func survivesRestart() async throws {
        let h = try await Harness.make()
        _ = try await h.control.replace(RuntimeSettings(defaults: ParameterSet([.minPeople: 9])), expectedVersion: 1, by: "test")
        let mute = try await h.control.mute(.all, until: Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000, reason: "r", by: "test")
        let reopened = try SQLiteEventStore(path: h.directory.path + "/events.sqlite", logger: quietLogger)
        let live = LiveSettings()
        // the seed is ignored: the stored version wins
        try await SettingsControl(store: reopened, live: live, logger: quietLogger).start(seed: RuntimeSettings(defaults: ParameterSet([.minPeople: 1])))
        #expect(live.snapshot.settings.defaults[.minPeople] == 9)
        #expect(live.snapshot.settings.version == 2)
        #expect(live.snapshot.mutes.map(\.id) == [mute.id])
    }
}
