import Foundation
// Fuzzes the capture line parser (both line forms, SEMANTICS.md §5) and the fast path for the
// form `record` writes: whenever that path reads a line, the general parser must read the same
// topic, payload and receivedAt from it.
import CFuzzDriver
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
    if let fast = CaptureParser.recordParts(line) {
        // the fast path only locates; where the general parser reads a message, they agree on
        // the topic and receivedAt (the payload is still escaped on the fast path)
        if case .message = r, let general {
            guard general.0 == Array(fast.topic), general.2 == fast.receivedAt else { fatalError("fast and general paths disagree") }
        }
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) })
