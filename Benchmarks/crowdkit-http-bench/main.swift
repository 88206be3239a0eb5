// crowdkit-http-bench: latency and CPU cost per request of CrowdKitHTTP's URLSessionTransport.
//
//   python3 ../shared/bench/sink.py --port 0 --portfile /tmp/sinkport &
//   swift run -c release crowdkit-http-bench --url http://127.0.0.1:$(cat /tmp/sinkport)/v1/messages \
//       [--requests 2000] [--burst 5] [--interval-ms 20]
//
// Sends bursts of `burst` concurrent POSTs (a Webex-sized JSON body) every `interval-ms`, and
// reports the time from `send` to the response (p50/p90/p99/max) and this process's CPU time per
// request (user + system, from getrusage). `--plain` uses a bare completion-handler URLSession data
// task instead (no watchdog, no delegate), to see what CrowdKit's transport adds.
import CrowdKitHTTP
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#endif

func option(_ name: String, _ fallback: String) -> String {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return fallback
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
}

func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

guard let url = URL(string: option("--url", "")), url.scheme != nil else {
    FileHandle.standardError.write(Data("usage: crowdkit-http-bench --url URL [--requests N] [--burst B] [--interval-ms MS]\n".utf8))
    exit(64)
}
let total = Int(option("--requests", "2000")) ?? 2000
let burst = max(1, Int(option("--burst", "5")) ?? 5)
let interval = Duration.milliseconds(Int(option("--interval-ms", "20")) ?? 20)
let body = Data(
    #"{"markdown":"**Crowd detected**: 7 people in *Lobby* (camera *Front Desk*) for 2 min since 14:03:12 — [video](https://example.invalid/clip)","roomId":"bench-room"}"#
        .utf8)
/// For comparison (`--plain`): a bare completion-handler data task, no watchdog, no delegate.
final class PlainTransport: HTTPTransport, @unchecked Sendable {
    let session: URLSession
    init() {
        let c = URLSessionConfiguration.ephemeral
        c.httpMaximumConnectionsPerHost = 16
        session = URLSession(configuration: c)
    }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var r = URLRequest(url: request.url)
        r.httpMethod = request.method
        for f in request.headers { r.addValue(f.value, forHTTPHeaderField: f.name) }
        r.httpBody = request.body
        let s = session
        return try await withCheckedThrowingContinuation { c in
            s.dataTask(with: r) { data, response, error in
                if let error { c.resume(throwing: error); return }
                let http = response as! HTTPURLResponse
                c.resume(returning: HTTPResponse(status: http.statusCode, headers: HTTPHeaders(), body: data ?? Data(), url: request.url))
            }.resume()
        }
    }
}
let transport: any HTTPTransport = CommandLine.arguments.contains("--plain") ? PlainTransport() : URLSessionTransport()
let request = HTTPRequest(
    method: "POST", url: url, headers: HTTPHeaders([("Content-Type", "application/json"), ("Authorization", "Bearer bench")]),
    body: body)

// warm-up: open the connections
_ = try? await transport.send(request)

let cpu0 = cpuSeconds()
let clock = ContinuousClock()
let started = clock.now
var latencies: [Double] = []
var failures = 0
var sent = 0
while sent < total {
    let n = min(burst, total - sent)
    let results = await withTaskGroup(of: Double?.self) { group in
        for _ in 0..<n {
            group.addTask {
                let t = clock.now
                do {
                    _ = try await transport.send(request)
                    return milliseconds(clock.now - t)
                } catch {
                    return nil
                }
            }
        }
        var out: [Double?] = []
        for await r in group { out.append(r) }
        return out
    }
    for r in results {
        if let r { latencies.append(r) } else { failures += 1 }
    }
    sent += n
    let due = started + interval * (sent / burst)
    if clock.now < due { try? await Task.sleep(until: due, clock: clock) }
}
let cpu = cpuSeconds() - cpu0
let sorted = latencies.sorted()
func pct(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(q * Double(sorted.count - 1)))] }
print(
    String(
        format: "%d requests (bursts of %d every %@), %d failed: latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f; CPU %.0f µs per request",
        total, burst, "\(interval)", failures, pct(0.5), pct(0.9), pct(0.99), sorted.last ?? 0, cpu / Double(total) * 1e6))
