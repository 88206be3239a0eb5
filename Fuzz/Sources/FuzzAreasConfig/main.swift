// Fuzzes what an area's configuration is made of (SEMANTICS.md §8): line specs
// (`<serial>/<boundaryId>[:reverse]`) and daily reset times in any time zone; a reset is
// always found at or before and after any instant.
import FuzzSupport
import CrowdKitCore
import Foundation

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let parts = text.split(separator: "\n", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
    if let line = AreaLine(parsing: parts[0]) {
        guard !line.key.camera.isEmpty, !line.key.line.isEmpty, AreaLine(parsing: line.description) == line else {
            fatalError("a parsed line does not read back")
        }
    }
    guard parts.count > 2, let zone = TimeZone(identifier: parts[2]), let reset = DailyReset(parsing: parts[1], timeZone: zone) else { return 0 }
    let ms = Int64(truncatingIfNeeded: parts.count > 3 ? (Int64(parts[3]) ?? 0) : 0) % 4_000_000_000_000
    let before = reset.latest(atOrBefore: ms)
    let after = reset.first(after: ms)
    guard before <= ms, after > ms, after - before <= 2 * 86_400_000 else { fatalError("reset instants around \(ms) are wrong") }
    return 0
}

runFuzzer(fuzz)
