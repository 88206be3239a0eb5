import Foundation
// Fuzzes the MV Sense decoder (zone counts and line crossings, SEMANTICS.md §1 and §8) through
// the engine: the first line of the input is the topic, the rest the payload. Checks that the
// in-place decoder of JSON Lines payloads never disagrees with the plain one.
import FuzzSupport
@testable import CrowdKitCore

nonisolated(unsafe) var engine = DetectionEngine(
    policy: DwellPolicy(DwellParameters(minPeople: 1, dwell: .zero)),
    areas: AreaSetup(areas: [AreaDefinition(name: "a", lines: [AreaLine(parsing: "C/1")!, AreaLine(parsing: "C/2:reverse")!])]))

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let split = bytes.firstIndex(of: 0x0A) ?? size
    let topic = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[..<split])
    let payload = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[min(split + 1, size)...])
    _ = engine.process(topic: topic, payload: payload) { _ in }
    _ = MVSenseDecoder.decodeCrossing(payload)
    // in place: whatever it accepts, the plain decoder accepts identically once unescaped
    if case .success(let a) = MVSenseDecoder.decodeCountsInPlace(payload), let base = payload.baseAddress {
        var plain: [UInt8] = []
        guard let n = JSONScanner.unescape(base: base.assumingMemoryBound(to: UInt8.self), from: 0, to: payload.count, into: &plain) else {
            fatalError("read in place, but its escapes are invalid")
        }
        let b = plain.withUnsafeBytes { MVSenseDecoder.decodeCounts(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        guard case .success(let c) = b, c.ts == a.ts, c.people == a.people, c.vehicles == a.vehicles else {
            fatalError("in-place and plain decoding disagree")
        }
    }
    return 0
}

runFuzzer(fuzz)
