/// The live zone rows an instance shares with the others (``ZoneSnapshotStore``) as compact JSON,
/// written and read in one pass without Foundation's coders (which cost milliseconds a second per
/// instance for a few hundred zones, on the threads that also answer the page):
///
///     {"v":2,"zones":[["Q2GV-0001","0",4,0,1714632600000,"pending",1714632590000,0,null], ...]}
///
/// Each row: camera, zone, people, vehicles, last reading's camera time, phase (`idle`,
/// `pending`, `crowd` or `paused`), its two times (`pending`: since; `crowd`: since and fired at;
/// `paused`: until; 0 otherwise), and the open event's id or `null`.
public enum ZoneSnapshotText {
    /// The zones as one document.
    public static func encode(_ zones: [ZoneSnapshot]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(32 + zones.count * 96)
        out.append(contentsOf: #"{"v":2,"zones":["#.utf8)
        // a field after the first of a row: a comma, then the value
        func integer(_ v: Int64) {
            out.append(0x2C)
            out.append(contentsOf: String(v).utf8)  // a small string: no allocation for a camera time
        }
        func string(_ v: String) {
            out.append(0x2C)
            TextFormat.appendJSON(v.utf8, to: &out)
        }
        for (i, z) in zones.enumerated() {
            out.append(contentsOf: i > 0 ? ",[".utf8 : "[".utf8)
            TextFormat.appendJSON(z.camera.utf8, to: &out)
            string(z.zone)
            let (a, b): (Int64, Int64) =
                switch z.phase {
                case .idle: (0, 0)
                case .pending(let since): (since, 0)
                case .crowd(let since, let firedAt): (since, firedAt)
                case .paused(let until): (until, 0)
                }
            integer(Int64(z.people))
            integer(Int64(z.vehicles))
            integer(z.lastTs)
            string(z.phase.name)
            integer(a)
            integer(b)
            if let id = z.eventID { string(id.rawValue) } else { out.append(contentsOf: ",null".utf8) }
            out.append(0x5D)
        }
        out.append(contentsOf: "]}".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// Why a document could not be read.
    public struct DecodingError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Whether `text` is in this form (an older build wrote a plain JSON array of objects).
    public static func isCompact(_ text: String) -> Bool { text.utf8.starts(with: #"{"v":"#.utf8) }

    /// The zones of a document ``encode(_:)`` wrote. Throws on anything else (another version, a
    /// damaged document): the caller skips that instance's rows.
    public static func decode(_ text: String) throws(DecodingError) -> [ZoneSnapshot] {
        var text = text
        let result: Result<[ZoneSnapshot], DecodingError> = text.withUTF8 { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return .failure(DecodingError(description: "an empty document")) }
            var s = JSONScanner(base: base, count: bytes.count)
            var scratch: [UInt8] = []
            var zones: [ZoneSnapshot] = []
            func fail(_ what: String) -> Result<[ZoneSnapshot], DecodingError> {
                .failure(DecodingError(description: "zone snapshots: \(what) at byte \(s.pos)"))
            }
            func string() -> String? {
                s.skipWhitespace()
                guard let r = s.scanString() else { return nil }
                if !r.escaped { return String(decoding: UnsafeBufferPointer(start: base + r.start, count: r.end - r.start), as: UTF8.self) }
                guard let n = JSONScanner.unescape(base: base, from: r.start, to: r.end, into: &scratch) else { return nil }
                return String(decoding: scratch[..<n], as: UTF8.self)
            }
            func integer() -> Int64? {
                s.skipWhitespace()
                guard case .integer(let v)? = s.scanNumber() else { return nil }
                return v
            }
            func separator(_ byte: UInt8) -> Bool {
                s.skipWhitespace()
                return s.consume(byte)
            }
            s.skipWhitespace()
            guard s.scanLiteral(#"{"v":2,"zones":["#) else { return fail("not version 2") }
            s.skipWhitespace()
            if !s.consume(0x5D) {
                repeat {
                    guard separator(0x5B) else { return fail("a row is not an array") }
                    guard let camera = string(), separator(0x2C), let zone = string(), separator(0x2C),
                        let people = integer(), separator(0x2C), let vehicles = integer(), separator(0x2C),
                        let lastTs = integer(), separator(0x2C), let phaseName = string(), separator(0x2C),
                        let a = integer(), separator(0x2C), let b = integer(), separator(0x2C)
                    else { return fail("a malformed row") }
                    s.skipWhitespace()
                    var eventID: CrowdEventID?
                    if !s.scanLiteral("null") {
                        guard let id = string() else { return fail("a malformed event id") }
                        eventID = CrowdEventID(rawValue: id)
                    }
                    guard separator(0x5D) else { return fail("a row with more fields") }
                    let phase: ZonePhase
                    switch phaseName {
                    case "idle": phase = .idle
                    case "pending": phase = .pending(since: a)
                    case "crowd": phase = .crowd(since: a, firedAt: b)
                    case "paused": phase = .paused(until: a)
                    default: return fail("an unknown phase \(phaseName)")
                    }
                    guard let p = Int(exactly: people), let v = Int(exactly: vehicles) else { return fail("a count out of range") }
                    zones.append(ZoneSnapshot(camera: camera, zone: zone, people: p, vehicles: v, lastTs: lastTs, phase: phase, eventID: eventID))
                } while separator(0x2C)
                guard separator(0x5D) else { return fail("an unterminated list") }
            }
            guard separator(0x7D) else { return fail("an unterminated document") }
            s.skipWhitespace()
            guard s.atEnd else { return fail("text after the document") }
            return .success(zones)
        }
        return try result.get()
    }
}
