import Foundation

/// How much slower than normal the code under test runs: `CROWDKIT_TEST_TIME_SCALE` (set by
/// `scripts/test.sh --sanitize=...`: ThreadSanitizer and AddressSanitizer slow everything down
/// several times), 1 otherwise. Time limits that only guard against hangs (request timeouts,
/// waits for a condition) are multiplied by it; nothing asserts a duration with it.
public let testTimeScale: Double = {
    guard let text = ProcessInfo.processInfo.environment["CROWDKIT_TEST_TIME_SCALE"], let v = Double(text), v >= 1 else { return 1 }
    return v
}()

/// `d` times ``testTimeScale``.
public func scaled(_ d: Duration) -> Duration { d * testTimeScale }

/// A lower bound for a measured interval whose ideal is `ideal`, allowing `jitter` of
/// scheduling noise (times ``testTimeScale``: under a sanitizer the noise grows with the
/// slowdown, and such runs look for races and memory errors, not timing).
public func atLeast(_ ideal: Duration, jitter: Duration) -> Duration { max(.zero, ideal - jitter * testTimeScale) }

/// Polls `condition` every 10 ms until it holds or `timeout` (times ``testTimeScale``) passes;
/// returns whether it held. The default is generous: the whole suite runs in parallel on two
/// cores, and a condition that holds returns at once.
public func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + scaled(timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// Runs a timing measurement up to `attempts` times; returns the problems `measure` found in its
/// last attempt, or none as soon as one attempt found none.
///
/// For checks of spacing seen from outside (request arrivals at a test server): on a loaded
/// two-core machine a process that the scheduler stalls for a moment releases work in a bunch,
/// which looks like a broken limit once. A broken implementation fails every attempt.
public func measureTiming(attempts: Int = 3, _ measure: () async throws -> [String]) async rethrows -> [String] {
    var problems: [String] = []
    for _ in 0..<max(1, attempts) {
        problems = try await measure()
        if problems.isEmpty { return [] }
    }
    return problems
}
