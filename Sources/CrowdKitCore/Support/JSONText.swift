/// JSON text helpers shared by the capture writer, the replay output and the stores (the escaping
/// itself is ``TextFormat/appendJSON(_:htmlSafe:to:)``).
public enum JSONText {
    /// Appends `s` (UTF-8 bytes) as a JSON string literal, quotes included.
    public static func appendString<S: Sequence>(_ s: S, to out: inout [UInt8]) where S.Element == UInt8 {
        TextFormat.appendJSON(s, to: &out)
    }

    /// `s` as a JSON string literal.
    public static func string(_ s: String) -> String { TextFormat.json(s) }
}
