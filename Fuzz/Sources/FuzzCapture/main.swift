import Foundation
// Fuzzes the capture line parser (both line forms, SEMANTICS.md §5) and the fast path for the
// form `record` writes: whenever replay would take that path (the parts are found and the
// payload reads in place), the general parser must read the same topic, payload and receivedAt.
import FuzzSupport
@testable import CrowdKitCore

nonisolated(unsafe) var parser = CaptureParser()

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let line = UnsafeRawBufferPointer(start: data, count: size)
    var general: ([UInt8], [UInt8], Int64?)?
    let r = parser.parse(line: line) { topic, payload, receivedAt in
        general = (Array(topic), Array(payload), receivedAt)
        return 0
    }
    // replay takes the fast path only when the payload also reads in place: then the general
    // parser must read the very same message (topic, receivedAt, unescaped payload)
    if let fast = CaptureParser.recordParts(line), case .success = MVSenseDecoder.decodeCountsInPlace(fast.escapedPayload) {
        guard case .message = r, let general, general.0 == Array(fast.topic), general.2 == fast.receivedAt else {
            fatalError("fast and general paths disagree")
        }
        var plain: [UInt8] = []
        let n = JSONScanner.unescape(
            base: fast.escapedPayload.baseAddress!.assumingMemoryBound(to: UInt8.self), from: 0, to: fast.escapedPayload.count, into: &plain)
        guard let n, Array(plain[..<n]) == general.1 else { fatalError("fast and general paths read different payloads") }
    }
    return 0
}

runFuzzer(fuzz)
