import CrowdKitHTTP
import Foundation
import Testing

@Suite("CrowdKitHTTP units")
struct HTTPUnitTests {
    @Test("SHA-256 matches the FIPS 180-4 vectors")
    func sha256Vectors() {
        #expect(SHA256.hash(Array("abc".utf8)).hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash([UInt8]()).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hexString
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)).hexString
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("HMAC-SHA256 matches the RFC 4231 vectors")
    func hmacVectors() {
        // Test case 1
        #expect(
            HMACSHA256.hex(for: Array("Hi There".utf8), key: [UInt8](repeating: 0x0b, count: 20))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        // Test case 2
        #expect(
            HMACSHA256.hex(for: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Test case 6: a key longer than the block size
        #expect(
            HMACSHA256.hex(
                for: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                key: [UInt8](repeating: 0xaa, count: 131))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("Retry-After: delay seconds and HTTP dates")
    func retryAfter() {
        #expect(RetryPolicy.parseRetryAfter("3") == .seconds(3))
        #expect(RetryPolicy.parseRetryAfter(" 0 ") == .zero)
        #expect(RetryPolicy.parseRetryAfter(nil) == nil)
        #expect(RetryPolicy.parseRetryAfter("soon") == nil)
        let now = Date(timeIntervalSince1970: 1_714_632_600)  // Thu, 02 May 2024 06:50:00 GMT
        #expect(RetryPolicy.parseRetryAfter("Thu, 02 May 2024 06:50:07 GMT", now: now) == .seconds(7))
        #expect(RetryPolicy.parseRetryAfter("Thu, 02 May 2024 06:49:00 GMT", now: now) == .zero)
    }

    @Test("exponential back-off grows, is capped, and the jitter stays within bounds")
    func backoff() {
        let p = RetryPolicy(initialBackoff: .seconds(1), maxBackoff: .seconds(10), multiplier: 2, jitter: 0.2)
        #expect(p.backoff(afterAttempt: 1, random: 0) == .seconds(1))
        #expect(p.backoff(afterAttempt: 3, random: 0) == .seconds(4))
        #expect(p.backoff(afterAttempt: 10, random: 0) == .seconds(10))
        #expect(p.backoff(afterAttempt: 3, random: 1) == .milliseconds(4800))
        #expect(p.backoff(afterAttempt: 3, random: -1) == .milliseconds(3200))
        for _ in 0..<100 {
            let d = p.backoff(afterAttempt: 2)
            #expect(d >= .milliseconds(1600) && d <= .milliseconds(2400))
        }
    }

    @Test("retryable statuses: 408, 423, 425, 429, 5xx; never 400, 401, 403, 404")
    func retryable() {
        for s in [408, 423, 425, 429, 500, 502, 503, 504] { #expect(RetryPolicy.isRetryableStatus(s)) }
        for s in [200, 400, 401, 403, 404, 409, 422, 501] { #expect(!RetryPolicy.isRetryableStatus(s)) }
    }

    @Test("the redactor masks known secrets, Bearer values and token-like query items")
    func redactor() {
        let r = Redactor(secrets: ["s3cr3t-key-value"])
        #expect(!r.redact("failed with key s3cr3t-key-value in body").contains("s3cr3t"))
        #expect(r.redact("Authorization: Bearer abc.def.ghi") == "Authorization: Bearer <redacted>")
        #expect(!r.redact(#"{"access_token": "zzz-top"}"#).contains("zzz-top"))
        let url = URL(string: "https://user:pw@example.com/x?access_token=abc123&zone=5")!
        let text = Redactor.redact(url: url)
        #expect(!text.contains("abc123"))
        #expect(!text.contains("pw@"))
        #expect(text.contains("zone=5"))
    }

    @Test("webhook bodies are stable JSON with the event")
    func webhookBody() throws {
        let event = CrowdKitCore.CrowdEvent(
            camera: "Q2GV-ABCD-1234", zone: "0", startedAt: 1, firedAt: 2, peak: 3,
            policy: .init(name: "dwell", parameters: [:]))
        let body = try WebhookNotifier.body(for: .init(kind: .fired, event: event, deliveryID: "d-1"))
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(object["kind"] as? String == "fired")
        #expect(object["deliveryId"] as? String == "d-1")
        #expect((object["event"] as? [String: Any])?["camera"] as? String == "Q2GV-ABCD-1234")
    }
}

import CrowdKitCore
