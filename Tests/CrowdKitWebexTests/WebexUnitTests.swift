import CrowdKitCore
import CrowdKitWebex
import Foundation
import Testing

let utc = TimeZone(identifier: "UTC")!

func sampleEvent(cameraName: String? = "Front Desk", zoneName: String? = "Lobby", video: String? = "https://video.example/clip")
    -> CrowdEvent
{
    var e = CrowdEvent(
        camera: "Q2GV-ABCD-1234", zone: "584342051651321858", startedAt: 1_714_658_592_000,  // 14:03:12 UTC
        firedAt: 1_714_658_712_000, peak: 9, lastCount: 7, policy: .init(name: "dwell", parameters: [:]),
        cameraName: cameraName, zoneName: zoneName)
    e.videoURL = video
    return e
}

@Suite("Webex messages and configuration")
struct WebexUnitTests {
    @Test("exactly one destination, otherwise a configuration error")
    func destination() throws {
        #expect(try WebexDestination(roomID: "Y2lz", toPersonID: nil, toPersonEmail: nil) == .room(id: "Y2lz"))
        #expect(try WebexDestination(roomID: " ", toPersonID: nil, toPersonEmail: "a@b.c") == .personEmail("a@b.c"))
        #expect(throws: ConfigurationError.self) { try WebexDestination(roomID: nil, toPersonID: nil, toPersonEmail: nil) }
        #expect(throws: ConfigurationError.self) { try WebexDestination(roomID: "r", toPersonID: "p", toPersonEmail: nil) }
        #expect(throws: ConfigurationError.self) { try WebexDestination(roomID: "r", toPersonID: "p", toPersonEmail: "e@x.y") }
    }

    @Test("defect 'video link missing': the default message has the video link, and reads as specified")
    func defaultMessage() {
        var template = WebexMessageTemplate.standard
        template.timeZone = utc
        let m = template.render(CrowdNotification(kind: .fired, event: sampleEvent()))
        #expect(
            m.markdown
                == "**Crowd detected**: 7 people in *Lobby* (camera *Front Desk*) for 2 min since 14:03:12 — [video](https://video.example/clip)")
        #expect(m.text.contains("https://video.example/clip"))
        #expect(m.text.contains("Q2GV-ABCD-1234"))
    }

    @Test("without names the message shows the camera serial and zone id; zone 0 is Full Frame")
    func withoutNames() {
        var template = WebexMessageTemplate.standard
        template.timeZone = utc
        let m = template.render(CrowdNotification(kind: .fired, event: sampleEvent(cameraName: nil, zoneName: nil, video: nil)))
        #expect(m.markdown.contains("(camera *Q2GV-ABCD-1234*)"))
        #expect(m.markdown.contains("*584342051651321858*"))
        #expect(!m.markdown.contains("[video]"))
        var full = sampleEvent(cameraName: nil, zoneName: nil)
        full.zone = "0"
        #expect(template.render(CrowdNotification(kind: .fired, event: full)).markdown.contains("*Full Frame*"))
    }

    @Test("reminder and ended messages, notes, custom templates")
    func otherKinds() {
        var template = WebexMessageTemplate.standard
        template.timeZone = utc
        var e = sampleEvent()
        e.enrichmentNotes = ["snapshot unavailable (HTTP 500)"]
        let reminder = template.render(CrowdNotification(kind: .reminder, event: e, sequence: 2))
        #expect(reminder.markdown.hasPrefix("**Crowd still there** (reminder 2): 7 people in *Lobby*"))
        #expect(reminder.markdown.contains("_Not available: snapshot unavailable (HTTP 500)_"))
        e.endedAt = e.startedAt + 5 * 60_000
        let ended = template.render(CrowdNotification(kind: .ended, event: e))
        #expect(ended.markdown.hasPrefix("**Crowd ended**: *Lobby* (camera *Front Desk*) had up to 9 people for 5 min, 14:03:12–14:08:12 — [video](https://video.example/clip)"))

        let custom = WebexMessageTemplate(
            fired: .init(markdown: "{serial}/{zoneId}: {count} ({peak}) {videoURL} {unknown}", text: "{camera}"),
            reminder: .init(markdown: "", text: ""), ended: .init(markdown: "", text: ""), timeZone: utc)
        let m = custom.render(CrowdNotification(kind: .fired, event: sampleEvent()))
        #expect(m.markdown == "Q2GV-ABCD-1234/584342051651321858: 7 (9) https://video.example/clip {unknown}")
        #expect(m.text == "Front Desk")
    }

    @Test("a fired notification sent after the crowd ended still describes the firing")
    func lateFired() {
        var template = WebexMessageTemplate.standard
        template.timeZone = utc
        var e = sampleEvent()
        e.endedAt = e.startedAt + 10 * 60_000
        e.lastCount = 0
        let m = template.render(CrowdNotification(kind: .fired, event: e))
        // the count when it fired (firedCount 7), not the latest (0) nor the final peak (9)
        #expect(e.firedCount == 7)
        #expect(m.markdown.hasPrefix("**Crowd detected**: 7 people in *Lobby* (camera *Front Desk*) for 2 min since 14:03:12"))
    }

    @Test("names with markdown characters are escaped")
    func escaping() {
        let m = WebexMessageTemplate.standard.render(
            CrowdNotification(kind: .fired, event: sampleEvent(cameraName: "Cam_*1*", zoneName: "[Hall]")))
        #expect(m.markdown.contains(#"*\[Hall\]*"#))
        #expect(m.markdown.contains(#"*Cam\_\*1\**"#))
    }

    @Test("7439-byte limit: cut on a character boundary")
    func truncation() {
        let long = String(repeating: "👩‍👩‍👧 é ", count: 2000)
        let cut = WebexMessage.truncated(long)
        #expect(cut.utf8.count <= 7439)
        #expect(cut.utf8.count > 7400)
        #expect(cut.hasSuffix("…"))
        #expect(long.hasPrefix(String(cut.dropLast())))
        let exact = String(repeating: "a", count: 7439)
        #expect(WebexMessage.truncated(exact) == exact)
    }
}
