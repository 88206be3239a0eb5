import Foundation
import CrowdKitCore
import CrowdKitMQTT
import CrowdKitTesting
import Logging

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

/// Takes up to `n` elements from `sequence`, giving up after `timeout`.
func collect<S: AsyncSequence & Sendable>(_ n: Int, from sequence: S, timeout: Duration = .seconds(10)) async -> [S.Element]
where S.Element: Sendable, S.Failure == Never {
    await withTaskGroup(of: [S.Element]?.self) { group in
        group.addTask {
            var out: [S.Element] = []
            guard n > 0 else { return out }
            for await element in sequence {
                out.append(element)
                if out.count == n { break }
            }
            return out
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        var result: [S.Element] = []
        for await r in group {
            if let r {
                result = r
                break
            }
            // The timer went off first: stop the collector (it returns what it has).
            group.cancelAll()
        }
        group.cancelAll()
        return result
    }
}
