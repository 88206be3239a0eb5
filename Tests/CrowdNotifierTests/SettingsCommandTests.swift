import Foundation
import Testing

/// `crowd-notifier settings export` and `settings import FILE [--dry-run]` on a real SQLite file.
@Suite("crowd-notifier settings export and import")
struct SettingsCommandTests {
    @Test("export prints the settings as YAML; import --dry-run prints the difference and applies nothing; import applies it, audited")
    func exportImport() throws {
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = dir.appendingPathComponent("events.sqlite").path
        let first = try CommandLineTests.run(["settings", "export", "--store", store, "--min-people", "4"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("minPeople: 4"), "before the first start: the configuration's settings\n\(first.stdout)")
        let file = dir.appendingPathComponent("new.yaml")
        try """
            detection:
              defaults: {minPeople: 7, dwellSeconds: 30}
            schedules:
              - {name: lunch, selector: "Q2MV-AAAA-0001/*", timeZone: Europe/Paris,
                 windows: [{days: [mon], from: "11:30", to: "14:00"}], parameters: {minPeople: 12}}
            """.write(to: file, atomically: true, encoding: .utf8)
        let dry = try CommandLineTests.run(["settings", "import", file.path, "--dry-run", "--store", store])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("+     minPeople: 7") && dry.stdout.contains("-     minPeople: 3"), "\(dry.stdout)")
        #expect(dry.stdout.contains("dry run: nothing applied"))
        #expect(try CommandLineTests.run(["settings", "export", "--store", store]).stdout.contains("minPeople: 3"))
        let applied = try CommandLineTests.run(["settings", "import", file.path, "--store", store, "--by", "anna"])
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.contains("applied as version 2 by anna"), "\(applied.stdout)")
        let after = try CommandLineTests.run(["settings", "export", "--store", store]).stdout
        #expect(after.contains("minPeople: 7") && after.contains("name: lunch") && after.contains("version: 2"), "\(after)")
        let again = try CommandLineTests.run(["settings", "import", file.path, "--store", store])
        #expect(again.stdout.contains("no difference"), "\(again.stdout)")
    }

    @Test("a bad settings file: exit 65, every problem named by its field, nothing applied")
    func badFile() throws {
        let dir = try LiveCommandTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = dir.appendingPathComponent("events.sqlite").path
        let file = dir.appendingPathComponent("bad.yaml")
        try """
            detection:
              defaults: {minPeople: -1, minPeeple: 3}
            quietHours: [{name: q, selector: "a/b/c", timeZone: Mars/Base, windows: [{days: [mon], from: "10:00", to: "10:00"}]}]
            """.write(to: file, atomically: true, encoding: .utf8)
        let r = try CommandLineTests.run(["settings", "import", file.path, "--store", store])
        #expect(r.status == 65)
        for field in ["detection.defaults.minPeople", "detection.defaults.minPeeple", "quietHours[0].selector", "quietHours[0].timeZone"] {
            #expect(r.stderr.contains(field), "\(field) in \(r.stderr)")
        }
        #expect(try CommandLineTests.run(["settings", "export", "--store", store]).stdout.contains("minPeople: 3"))
    }
}
