import Foundation

/// The answer of `GET /devices/{serial}/camera/videoLink`.
public struct MerakiVideoLink: Hashable, Sendable, Decodable {
    /// Link to the video in Dashboard.
    public var url: String
    /// Link to the video in the Meraki Vision portal, when given.
    public var visionUrl: String?
}

/// The answer of `POST /devices/{serial}/camera/generateSnapshot`.
public struct MerakiSnapshot: Hashable, Sendable {
    /// The image URL (answers 404 until the image is ready).
    public var url: URL
    /// The API's expiry sentence, e.g. "Access to the image will expire at 2024-05-02T07:12:39Z."
    public var expiry: String?
    /// Whether the requested timestamp had no video and the snapshot is of "now" instead.
    public var usedFallbackToNow: Bool
}

/// A snapshot image that is ready, with its bytes.
public struct MerakiSnapshotImage: Hashable, Sendable {
    public var snapshot: MerakiSnapshot
    public var data: Data
    /// `Content-Type` of the image (`image/jpeg` when the server does not say).
    public var contentType: String
}

/// One device of `GET /networks/{networkId}/devices`.
public struct MerakiDevice: Hashable, Sendable, Decodable {
    public var serial: String
    public var name: String?
    public var model: String?
}

/// One zone of `GET /devices/{serial}/camera/analytics/zones` (`zoneId` or `id`).
public struct MerakiCameraZone: Hashable, Sendable, Decodable {
    public var zoneID: String
    public var label: String?
    public var type: String?

    enum CodingKeys: String, CodingKey { case zoneId, id, label, type }

    public init(zoneID: String, label: String?, type: String? = nil) {
        self.zoneID = zoneID
        self.label = label
        self.type = type
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func idValue(_ key: CodingKeys) throws -> String? {
            if let s = try? c.decodeIfPresent(String.self, forKey: key) { return s }
            if let i = try? c.decodeIfPresent(Int64.self, forKey: key) { return String(i) }
            if let d = try? c.decodeIfPresent(Double.self, forKey: key) {
                // A zone id that went through a JSON number may have lost digits; keep what is there.
                return String(format: "%.0f", d)
            }
            return nil
        }
        guard let id = try idValue(.zoneId) ?? idValue(.id) else {
            throw DecodingError.keyNotFound(
                CodingKeys.zoneId, .init(codingPath: c.codingPath, debugDescription: "zone without zoneId or id"))
        }
        zoneID = id
        label = try c.decodeIfPresent(String.self, forKey: .label)
        type = try c.decodeIfPresent(String.self, forKey: .type)
    }
}

/// One boundary drawn on a camera (Areas & Lines): an area or a line, with its name.
public struct MerakiBoundary: Hashable, Sendable, Decodable {
    public var id: String
    public var type: String?
    public var name: String?

    enum CodingKeys: String, CodingKey { case id, boundaryId, type, name }

    public init(id: String, type: String? = nil, name: String?) {
        self.id = id
        self.type = type
        self.name = name
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func idValue(_ key: CodingKeys) -> String? {
            if let s = try? c.decodeIfPresent(String.self, forKey: key) { return s }
            if let i = try? c.decodeIfPresent(Int64.self, forKey: key) { return String(i) }
            return nil
        }
        guard let id = idValue(.id) ?? idValue(.boundaryId) else {
            throw DecodingError.keyNotFound(CodingKeys.id, .init(codingPath: c.codingPath, debugDescription: "boundary without id"))
        }
        self.id = id
        type = try c.decodeIfPresent(String.self, forKey: .type)
        name = try c.decodeIfPresent(String.self, forKey: .name)
    }
}

/// The boundaries of one camera, as `/organizations/{id}/camera/boundaries/{areas|lines}/byDevice` lists them.
public struct MerakiDeviceBoundaries: Hashable, Sendable, Decodable {
    public var serial: String
    public var networkID: String?
    public var boundaries: [MerakiBoundary]

    enum CodingKeys: String, CodingKey { case serial, networkId, boundaries }

    public init(serial: String, networkID: String? = nil, boundaries: [MerakiBoundary]) {
        self.serial = serial
        self.networkID = networkID
        self.boundaries = boundaries
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        serial = try c.decode(String.self, forKey: .serial)
        networkID = try c.decodeIfPresent(String.self, forKey: .networkId)
        // a list of boundaries, or a single one
        if let list = try? c.decodeIfPresent([MerakiBoundary].self, forKey: .boundaries) {
            boundaries = list
        } else if let one = try c.decodeIfPresent(MerakiBoundary.self, forKey: .boundaries) {
            boundaries = [one]
        } else {
            boundaries = []
        }
    }
}

/// Which boundaries of a camera.
public enum MerakiBoundaryKind: String, Sendable {
    case areas, lines
}
