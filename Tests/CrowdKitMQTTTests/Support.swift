import Foundation
import CrowdKitCore
import CrowdKitMQTT
import CrowdKitTesting
import Logging
import Testing

/// Tests keep quiet; set CROWDKIT_TEST_LOG=1 to see the client's log.
let testLogger: Logger = {
    if ProcessInfoEnv.verbose { return Logger(label: "crowdkit.mqtt.test") }
    return Logger(label: "crowdkit.mqtt.test", factory: { _ in SwiftLogNoOpLogHandler() })
}()

enum ProcessInfoEnv {
    static let verbose: Bool = {
        guard let v = getenv("CROWDKIT_TEST_LOG") else { return false }
        return String(cString: v) == "1"
    }()
}

/// The first `n` elements of `sequence`; a timeout before `n` is an issue of the test (it cannot
/// pass by collecting nothing).
func collect<S: AsyncSequence & Sendable>(
    _ n: Int, from sequence: S, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation
) async -> [S.Element]
where S.Element: Sendable, S.Failure == Never {
    let got = await collectUntil(n, from: sequence, timeout: timeout)
    if !got.ended && got.elements.count < n {
        Issue.record("collected \(got.elements.count) of \(n) elements within \(timeout)", sourceLocation: sourceLocation)
    }
    return got.elements
}

/// Whether `sequence` ends (its iteration returns nil) within `timeout`, and what it gave first.
func ends<S: AsyncSequence & Sendable>(_ sequence: S, within timeout: Duration = .seconds(30)) async -> (ended: Bool, elements: [S.Element])
where S.Element: Sendable, S.Failure == Never {
    let got = await collectUntil(Int.max, from: sequence, timeout: timeout)
    return (got.ended, got.elements)
}

/// Up to `n` elements, and whether the sequence ended on its own before `timeout`.
private func collectUntil<S: AsyncSequence & Sendable>(_ n: Int, from sequence: S, timeout: Duration) async -> (elements: [S.Element], ended: Bool)
where S.Element: Sendable, S.Failure == Never {
    await withTaskGroup(of: ([S.Element], Bool)?.self) { group in
        group.addTask {
            var out: [S.Element] = []
            guard n > 0 else { return (out, false) }
            for await element in sequence {
                out.append(element)
                if out.count == n { return (out, false) }
            }
            return (out, !Task.isCancelled)
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        var result: ([S.Element], Bool) = ([], false)
        for await r in group {
            if let r {
                result = r
                break
            }
            // the timer went off first: stop the collector (it returns what it has, not ended)
            group.cancelAll()
        }
        group.cancelAll()
        return result
    }
}
