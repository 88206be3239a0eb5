/// A configuration value that is not acceptable. Names the key, where it came from and the
/// accepted form; never carries the value of a secret.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The config key, e.g. `detection.minPeople`.
    public var key: String
    /// Where the value came from (`file crowd-notifier.yaml`, `env MQTT_PORT`, `flag --mqtt-port`), when known.
    public var source: String?
    /// The accepted form, e.g. `an integer >= 1`.
    public var expected: String
    /// The rejected value, or `nil` when it must not be shown (secrets).
    public var got: String?

    public init(key: String, source: String? = nil, expected: String, got: String?) {
        self.key = key
        self.source = source
        self.expected = expected
        self.got = got
    }

    public static func invalid(key: String, expected: String, got: String?) -> ConfigurationError {
        ConfigurationError(key: key, expected: expected, got: got)
    }

    /// The same error, attributed to a source.
    public func from(_ source: String) -> ConfigurationError {
        var e = self
        e.source = source
        return e
    }

    public var description: String {
        var s = "invalid value for \(key)"
        if let source { s += " (from \(source))" }
        if let got { s += ": got \"\(got)\"" }
        return s + "; expected \(expected)"
    }
}
