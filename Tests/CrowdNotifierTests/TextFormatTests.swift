import CrowdKitCore
import CrowdKitSQLite
import CrowdKitWeb
import CrowdKitWebex
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// One place for durations, times and escaping: the same event reads the same in the log, in
/// Webex and on the page.
@Suite("Text formats")
struct TextFormatTests {
    static let t0: Int64 = 1_714_632_600_123

    @Test("durations, clock times and ISO dates")
    func formats() throws {
        #expect(TextFormat.duration(milliseconds: 59_999) == "59 s")
        #expect(TextFormat.duration(milliseconds: 60_000) == "1 min")
        #expect(TextFormat.duration(milliseconds: 125_500) == "2 min 5 s")
        #expect(TextFormat.duration(milliseconds: 3_725_000) == "1 h 2 min")
        #expect(TextFormat.duration(milliseconds: 7_200_000) == "2 h")
        #expect(TextFormat.duration(milliseconds: 49 * 3_600_000) == "2 d 1 h")
        #expect(TextFormat.age(milliseconds: 845_000) == "14 min")
        #expect(TextFormat.duration(milliseconds: -5) == "0 s")
        #expect(TextFormat.iso8601(Self.t0) == "2024-05-02T06:50:00.123Z")
        #expect(TextFormat.iso8601(Self.t0, milliseconds: false) == "2024-05-02T06:50:00Z")
        #expect(TextFormat.iso8601(-1) == "1969-12-31T23:59:59.999Z")
        #expect(TextFormat.clockTime(Self.t0) == "06:50:00")
        #expect(TextFormat.clockTime(Self.t0, zone: true) == "06:50:00 UTC")
        let paris = try #require(TimeZone(identifier: "Europe/Paris"))
        #expect(TextFormat.clockTime(Self.t0, timeZone: paris) == "08:50:00")
        #expect(TextFormat.seconds("7.5") == .milliseconds(7500))
        #expect(TextFormat.seconds(" 0 ", positive: true) == nil)
        #expect(TextFormat.seconds("nan") == nil)
        #expect(TextFormat.seconds(1e9) == nil)
    }

    @Test("escaping: JSON (and its page-safe form) and HTML")
    func escaping() throws {
        let nasty = "a\"b\\c\n\u{01}<x>&\u{2028}é\u{7F}"
        #expect(TextFormat.json(nasty) == #""a\"b\\c\n\u0001<x>&\#u{2028}é\u007f""#)
        #expect(TextFormat.json(nasty, htmlSafe: true) == #""a\"b\\c\n\u0001\u003cx\u003e\u0026\u2028é\u007f""#)
        // both forms are JSON that reads back to the text
        for form in [TextFormat.json(nasty), TextFormat.json(nasty, htmlSafe: true)] {
            let back = try JSONSerialization.jsonObject(with: Data(form.utf8), options: .fragmentsAllowed) as? String
            #expect(back == nasty)
        }
        #expect(TextFormat.html(#"<a href="x">O'Neil & co</a>"#) == "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;")
        #expect(TextFormat.json("\u{E2}") == "\"\u{E2}\"")
    }

    @Test("escaping: text that needs no escape is copied as is, and the copy path never differs from the byte-by-byte one")
    func escapingFastPath() throws {
        // a non-contiguous sequence takes the byte-by-byte path; a String's UTF-8 the copy path
        // when nothing needs escaping
        func slowJSON(_ s: String, htmlSafe: Bool) -> [UInt8] {
            var out: [UInt8] = []
            TextFormat.appendJSON(s.utf8.lazy.map { $0 }, htmlSafe: htmlSafe, to: &out)
            return out
        }
        func referenceHTML(_ s: String) -> [UInt8] {
            s.utf8.flatMap { b -> [UInt8] in
                switch b {
                case 0x26: Array("&amp;".utf8)
                case 0x3C: Array("&lt;".utf8)
                case 0x3E: Array("&gt;".utf8)
                case 0x22: Array("&quot;".utf8)
                case 0x27: Array("&#39;".utf8)
                case 0x00: [0xEF, 0xBF, 0xBD]
                default: [b]
                }
            }
        }
        var samples = ["", "Q2GV-ABCD-0001", "584342051651321858", "Lobby é 🙂", "a\u{2028}b", "x<y", "O'Neil", "tab\there", "\u{7F}", "\u{0}"]
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ab<>&\"'\\\n\t\u{0}\u{7F}é\u{2028}\u{2029}🙂 -_0".unicodeScalars)
        for _ in 0..<500 {
            samples.append(String(String.UnicodeScalarView((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })))
        }
        for s in samples {
            for htmlSafe in [false, true] {
                var fast: [UInt8] = []
                TextFormat.appendJSON(s.utf8, htmlSafe: htmlSafe, to: &fast)
                #expect(fast == slowJSON(s, htmlSafe: htmlSafe), "\(s.debugDescription) htmlSafe \(htmlSafe)")
            }
            var html: [UInt8] = []
            TextFormat.appendHTML(s, to: &html)
            #expect(html == referenceHTML(s), "\(s.debugDescription)")
        }
    }

    @Test("the log, the Webex message and the page show the same duration for the same event")
    func sameDurationEverywhere() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("formats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let logger = Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        let store = try SQLiteEventStore(path: dir.appendingPathComponent("e.sqlite").path, logger: logger)
        for (i, ms) in [95_000, 125_500, 3_725_000].enumerated() {
            let e = CrowdEvent(
                camera: "Q2GV-FMT-000\(i)", zone: "0", startedAt: Self.t0, firedAt: Self.t0 + 30_000, endedAt: Self.t0 + Int64(ms),
                peak: 5, policy: PolicyDescription(name: "dwell", parameters: [:]))
            try await store.apply(EventChange(kind: .ended, event: e))
            let n = CrowdNotification(kind: .ended, event: e)
            let expected = TextFormat.duration(milliseconds: Int64(ms))
            #expect(CrowdMessageFormatter.plainText(n).contains(" for \(expected) "), "\(CrowdMessageFormatter.plainText(n))")
            #expect(WebexMessageTemplate.standard.render(n).text.contains(" for \(expected),"), "\(WebexMessageTemplate.standard.render(n).text)")
            let web = CrowdWeb(store: store, logger: logger)
            let router = Router()
            web.addRoutes(to: router)
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
            try await app.test(.router) { client in
                let page = try await client.execute(uri: "/?camera=Q2GV-FMT-000\(i)", method: .get)
                #expect(String(buffer: page.body).contains(">\(expected)<"), "the page row shows \(expected)")
            }
        }
    }
}
