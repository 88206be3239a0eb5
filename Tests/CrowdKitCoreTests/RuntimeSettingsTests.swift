import CrowdKitCore
import Foundation
import Testing

/// SEMANTICS.md §7: effective parameters, schedule windows, mutes and quiet hours, and the
/// settings document's strict reading.
@Suite("Run-time settings (SEMANTICS §7)")
struct RuntimeSettingsTests {
    static let zone = ZoneKey(camera: "Q2MV-AAAA-0001", zone: "5843")
    static let utc = TimeZone(identifier: "UTC")!
    static let always = WeeklySchedule(timeZone: utc, windows: [WeeklyWindow(days: Set(Weekday.allCases), from: 0, to: 0)])
    static let never = WeeklySchedule(timeZone: utc, windows: [WeeklyWindow(days: [], from: 0, to: 60)])
    /// 2024-05-02 (a Thursday) 12:00 UTC.
    static let noon: Int64 = 1_714_651_200_000

    func schedule(_ name: String, _ selector: String, _ schedule: WeeklySchedule, _ values: [SettingsParameter: Double]) -> SettingsSchedule {
        SettingsSchedule(name: name, selector: ZoneSelector(parsing: selector)!, schedule: schedule, parameters: ParameterSet(values))
    }

    @Test("each parameter comes from the first layer that sets it: zone window, zone override, camera window, camera override, all-zones window, defaults")
    func precedence() {
        var s = RuntimeSettings()
        s.defaults = ParameterSet([.minPeople: 1, .dwellSeconds: 1, .gapSeconds: 1, .cooldownSeconds: 1, .staleSeconds: 1, .repeatSeconds: 1])
        s.schedules = [
            schedule("all", "*", Self.always, [.minPeople: 2, .dwellSeconds: 2, .gapSeconds: 2, .cooldownSeconds: 2, .staleSeconds: 2]),
            schedule("camera", "Q2MV-AAAA-0001/*", Self.always, [.minPeople: 4, .dwellSeconds: 4, .gapSeconds: 4]),
            schedule("zone", "Q2MV-AAAA-0001/5843", Self.always, [.minPeople: 6]),
        ]
        s.overrides[.camera("Q2MV-AAAA-0001")] = ParameterSet([.minPeople: 3, .dwellSeconds: 3, .gapSeconds: 3, .cooldownSeconds: 3])
        s.overrides[.zone(Self.zone)] = ParameterSet([.minPeople: 5, .dwellSeconds: 5])
        let r = s.resolved(for: Self.zone, at: Self.noon)
        #expect(r[.minPeople] == 6)  // zone window
        #expect(r[.dwellSeconds] == 5)  // zone override
        #expect(r[.gapSeconds] == 4)  // camera window
        #expect(r[.cooldownSeconds] == 3)  // camera override
        #expect(r[.staleSeconds] == 2)  // all-zones window
        #expect(r[.repeatSeconds] == 1)  // defaults
        #expect(r[.armPeople] == nil)  // nobody sets it: the configuration's value
        // another zone of the same camera: no zone layers
        let other = s.resolved(for: ZoneKey(camera: "Q2MV-AAAA-0001", zone: "1"), at: Self.noon)
        #expect(other[.minPeople] == 4 && other[.dwellSeconds] == 4 && other[.cooldownSeconds] == 3)
        // windows not active: the overrides, then the defaults
        s.schedules = s.schedules.map { var x = $0; x.schedule = Self.never; return x }
        let quiet = s.resolved(for: Self.zone, at: Self.noon)
        #expect(quiet[.minPeople] == 5 && quiet[.gapSeconds] == 3 && quiet[.staleSeconds] == 1)
    }

    @Test("two active windows with the same selector: the schedule listed first")
    func firstListedWins() {
        var s = RuntimeSettings()
        s.schedules = [schedule("a", "*", Self.always, [.minPeople: 8]), schedule("b", "*", Self.always, [.minPeople: 9, .dwellSeconds: 7])]
        #expect(s.value(of: .minPeople, for: Self.zone, at: Self.noon) == 8)
        #expect(s.value(of: .dwellSeconds, for: Self.zone, at: Self.noon) == 7)
    }

    @Test("a window is [from, to) in local time; to before from crosses midnight into the next day; other time zones")
    func windows() throws {
        let ny = try #require(TimeZone(identifier: "America/New_York"))
        // Fridays 22:00 to 06:00 in New York (EDT in May: UTC-4)
        let night = WeeklySchedule(timeZone: ny, windows: [WeeklyWindow(days: [.fri], from: 22 * 60, to: 6 * 60)])
        func at(_ iso: String) -> Int64 { Int64(ISO8601DateFormatter().date(from: iso)!.timeIntervalSince1970 * 1000) }
        #expect(!night.isActive(at: at("2024-05-04T01:59:59Z")))  // Fri 21:59:59 local
        #expect(night.isActive(at: at("2024-05-04T02:00:00Z")))  // Fri 22:00 local: from is inclusive
        #expect(night.isActive(at: at("2024-05-04T07:00:00Z")))  // Sat 03:00 local: across midnight
        #expect(night.isActive(at: at("2024-05-04T09:59:59Z")))  // Sat 05:59:59 local
        #expect(!night.isActive(at: at("2024-05-04T10:00:00Z")))  // Sat 06:00 local: to is exclusive
        #expect(!night.isActive(at: at("2024-05-05T07:00:00Z")))  // Sun 03:00 local: Saturday is not listed
        #expect(!night.isActive(at: at("2024-05-03T07:00:00Z")))  // Fri 03:00 local: Thursday is not listed
        // the same UTC instant is another weekday in Tokyo
        let tokyo = WeeklySchedule(
            timeZone: try #require(TimeZone(identifier: "Asia/Tokyo")), windows: [WeeklyWindow(days: [.sat], from: 0, to: 60)])
        #expect(tokyo.isActive(at: at("2024-05-03T15:30:00Z")))  // Sat 00:30 in Tokyo, Fri in UTC
        // winter time: New York is UTC-5
        let winter = WeeklySchedule(timeZone: ny, windows: [WeeklyWindow(days: [.mon], from: 9 * 60, to: 10 * 60)])
        #expect(winter.isActive(at: at("2024-01-08T14:30:00Z")) && !winter.isActive(at: at("2024-01-08T13:30:00Z")))
    }

    @Test("mutes and quiet hours suppress with their reason; a mute's until is exclusive; other zones are not covered")
    func suppression() {
        var s = RuntimeSettings()
        s.quietHours = [QuietHours(name: "night", selector: .camera("Q2MV-BBBB-0002"), schedule: Self.always)]
        let mute = Mute(id: "m1", selector: .zone(Self.zone), from: Self.noon, until: Self.noon + 3_600_000, reason: "cleaning", by: "local")
        #expect(s.suppression(for: Self.zone, at: Self.noon, mutes: [mute]) == "mute m1")
        #expect(s.suppression(for: Self.zone, at: Self.noon + 3_599_999, mutes: [mute]) == "mute m1")
        #expect(s.suppression(for: Self.zone, at: Self.noon + 3_600_000, mutes: [mute]) == nil)
        #expect(s.suppression(for: Self.zone, at: Self.noon - 1, mutes: [mute]) == nil)
        let b = ZoneKey(camera: "Q2MV-BBBB-0002", zone: "0")
        #expect(s.suppression(for: b, at: Self.noon, mutes: [mute]) == "quiet hours night")
        #expect(s.suppression(for: ZoneKey(camera: "Q2MV-CCCC-0003", zone: "0"), at: Self.noon, mutes: [mute]) == nil)
        let everything = Mute(id: "m2", selector: .all, from: 0, until: .max, reason: "", by: "ops")
        #expect(s.suppression(for: b, at: Self.noon, mutes: [everything]) == "mute m2")
    }

    @Test("selectors: *, <camera>/*, <camera>/<zone>; anything else is malformed")
    func selectors() {
        #expect(ZoneSelector(parsing: "*") == .all)
        #expect(ZoneSelector(parsing: "Q2MV-AAAA-0001/*") == .camera("Q2MV-AAAA-0001"))
        #expect(ZoneSelector(parsing: "area/garage") == .zone(ZoneKey(camera: "area", zone: "garage")))
        for bad in ["", "/", "a/", "/b", "a/b/c", "*/b", "a b/c", "a/b\n", "**"] {
            #expect(ZoneSelector(parsing: bad) == nil, "\(bad.debugDescription)")
        }
    }

    static let document = """
        {"version": 7, "paused": false,
         "detection": {"defaults": {"minPeople": 3, "dwellSeconds": 60},
                       "overrides": {"Q2MV-AAAA-0001/5843": {"minPeople": 8}, "Q2MV-AAAA-0001/*": {"gapSeconds": 2.5}}},
         "schedules": [{"name": "lunch", "selector": "Q2MV-AAAA-0001/*", "timeZone": "Europe/Paris",
                        "windows": [{"days": ["mon", "tue"], "from": "11:30", "to": "14:00"}], "parameters": {"minPeople": 12}}],
         "quietHours": [{"name": "night", "selector": "*", "timeZone": "UTC",
                         "windows": [{"days": ["sun"], "from": "22:00", "to": "06:00"}]}],
         "recipients": {"webex": {"roomId": "ROOM-1"}, "webhooks": ["https://hooks.example/crowd"]}}
        """

    @Test("the settings document reads and writes back the contract's names")
    func documentRoundTrip() throws {
        let s = try SettingsDocument.decode(Data(Self.document.utf8))
        #expect(s.version == 7)
        #expect(s.defaults[.minPeople] == 3)
        #expect(s.overrides[.zone(Self.zone)]?[.minPeople] == 8)
        #expect(s.overrides[.camera("Q2MV-AAAA-0001")]?[.gapSeconds] == 2.5)
        #expect(s.schedules.first?.schedule.windows.first == WeeklyWindow(days: [.mon, .tue], from: 690, to: 840))
        #expect(s.quietHours.first?.name == "night")
        #expect(s.recipients.webex == .roomId("ROOM-1"))
        let again = try SettingsDocument.decode(SettingsDocument.encode(s))
        #expect(again == s)
        let object = try #require(try JSONSerialization.jsonObject(with: SettingsDocument.encode(s)) as? [String: Any])
        #expect(Set(object.keys) == ["version", "paused", "detection", "schedules", "quietHours", "recipients"])
    }

    @Test("bad documents: every problem named by its field, nothing half-read", arguments: [
        (#"{"detection": {"defaults": {"minPeople": 0}}}"#, "detection.defaults.minPeople"),
        (#"{"detection": {"overrides": {"Q2MV-AAAA-0001/5843": {"minPeople": "eight"}}}}"#, "detection.overrides.Q2MV-AAAA-0001/5843.minPeople"),
        (#"{"detection": {"overrides": {"Q2MV/AAAA/0001": {"minPeople": 3}}}}"#, "detection.overrides.Q2MV/AAAA/0001"),
        (#"{"detection": {"defaults": {"minPeeple": 3}}}"#, "detection.defaults.minPeeple"),
        (#"{"colour": "blue"}"#, "colour"),
        (#"{"paused": "yes"}"#, "paused"),
        (#"{"schedules": [{"name": "x", "selector": "*", "timeZone": "Mars/Olympus", "windows": [{"days": ["mon"], "from": "10:00", "to": "11:00"}], "parameters": {}}]}"#, "schedules[0].timeZone"),
        (#"{"schedules": [{"name": "x", "selector": "*", "timeZone": "UTC", "windows": [{"days": ["mon"], "from": "10:00", "to": "10:00"}], "parameters": {}}]}"#, "schedules[0].windows[0].to"),
        (#"{"schedules": [{"name": "x", "selector": "*", "timeZone": "UTC", "windows": [{"days": ["funday"], "from": "10:00", "to": "11:00"}], "parameters": {}}]}"#, "schedules[0].windows[0].days[0]"),
        (#"{"schedules": [{"name": "x", "selector": "*", "timeZone": "UTC", "windows": [{"days": ["mon"], "from": "25:00", "to": "11:00"}], "parameters": {}}]}"#, "schedules[0].windows[0].from"),
        (#"{"schedules": [{"name": "x", "selector": "a/b/c", "timeZone": "UTC", "windows": [{"days": ["mon"], "from": "10:00", "to": "11:00"}]}]}"#, "schedules[0].selector"),
        (#"{"quietHours": [{"name": "q", "selector": "*", "timeZone": "UTC", "windows": [{"days": ["mon"], "from": "10:00", "to": "11:00"}], "parameters": {"minPeople": 2}}]}"#, "quietHours[0].parameters"),
        (#"{"recipients": {"webex": {"roomId": "a", "toPersonEmail": "b@c"}}}"#, "recipients.webex"),
        (#"{"recipients": {"webhooks": ["ftp://x"]}}"#, "recipients.webhooks[0]"),
        (#"{"version": 1.5}"#, "version"),
        (#"[1, 2]"#, ""),
        (#"{"detection": "#, ""),
    ])
    func badDocuments(_ text: String, _ field: String) {
        do {
            _ = try SettingsDocument.decode(Data(text.utf8))
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.problems.contains { $0.field == field }, "\(error.problems)")
            #expect(error.problems.allSatisfy { !$0.message.isEmpty })
        }
    }

    @Test("a document over 1 MiB is refused before it is parsed")
    func tooLarge() {
        let big = Data(("{\"schedules\": [" + String(repeating: " ", count: SettingsDocument.maximumSize) + "]}").utf8)
        #expect(throws: SettingsValidationError.self) { try SettingsDocument.decode(big) }
    }
}
