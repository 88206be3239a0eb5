import Foundation

/// When and how often ``HTTPClient`` tries a request again.
///
/// Retries happen on timeouts, connection failures, 408, 423, 425, 429 and 5xx; never on other
/// statuses (400, 401, 403, 404 are reported at once). The wait before attempt `n + 1` is the
/// server's `Retry-After` when given (seconds or an HTTP date, capped by ``maxRetryAfter``),
/// otherwise `initialBackoff * multiplier^(n-1)` capped by ``maxBackoff``, with ±``jitter``.
/// No attempt starts after ``maxTotalTime`` has elapsed since the first one, and a wait that
/// would end after it is not started: the last error is returned instead (with its
/// `retryAfter`, so a caller such as the delivery service can schedule a later try).
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included (1 = no retry).
    public var maxAttempts: Int
    /// Time from the first attempt after which no new attempt starts.
    public var maxTotalTime: Duration
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    public var multiplier: Double
    /// Random spread of each back-off, as a fraction (0.2 = ±20 %).
    public var jitter: Double
    /// The longest `Retry-After` honoured; longer requests end the retries.
    public var maxRetryAfter: Duration
    /// Wait used for 429/423 without `Retry-After`, when larger than the exponential back-off.
    public var defaultRetryAfter: Duration?

    public init(
        maxAttempts: Int = 4, maxTotalTime: Duration = .seconds(60), initialBackoff: Duration = .milliseconds(500),
        maxBackoff: Duration = .seconds(30), multiplier: Double = 2, jitter: Double = 0.2,
        maxRetryAfter: Duration = .seconds(60), defaultRetryAfter: Duration? = nil
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.maxTotalTime = maxTotalTime
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.jitter = min(max(jitter, 0), 1)
        self.maxRetryAfter = maxRetryAfter
        self.defaultRetryAfter = defaultRetryAfter
    }

    /// The default policy: 4 attempts within 60 s.
    public static let `default` = RetryPolicy()
    /// One attempt, no retry.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Statuses worth another attempt.
    public static func isRetryableStatus(_ status: Int) -> Bool {
        status == 408 || status == 423 || status == 425 || status == 429 || (500...599).contains(status)
            && status != 501 && status != 505
    }

    /// The exponential back-off after attempt `attempt` (1-based), jitter included.
    public func backoff(afterAttempt attempt: Int, random: Double = Double.random(in: -1...1)) -> Duration {
        let base = initialBackoff.seconds * pow(multiplier, Double(max(0, attempt - 1)))
        let capped = min(base, maxBackoff.seconds)
        let spread = capped * jitter * random
        return .milliseconds(Int64(max(0, capped + spread) * 1000))
    }

    /// Parses a `Retry-After` value: delay seconds, or an HTTP date relative to `now`.
    public static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value), seconds >= 0, seconds.isFinite {
            return .milliseconds(Int64(seconds * 1000))
        }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: value) {
                let delta = date.timeIntervalSince(now)
                return .milliseconds(Int64(max(0, delta) * 1000))
            }
        }
        return nil
    }
}
