import CrowdKitCore
import Foundation
import Logging

/// The ``EventEnricher`` that adds Meraki data to a crowd event: camera name and zone label
/// (from the cached ``MerakiNameDirectory``), the video link at the episode start (`url`,
/// `visionUrl`) and a snapshot URL. Each part is fetched concurrently and independently; what
/// fails is explained in ``CrowdEvent/enrichmentNotes`` and the event goes out anyway.
/// Idempotent: what the event already has is not fetched again.
public struct MerakiEnricher: EventEnricher {
    public enum SnapshotMode: Sendable, Hashable {
        /// No snapshot.
        case off
        /// Generate a snapshot and use its URL at once (it may not be ready yet).
        case link
        /// Generate a snapshot and wait until its image is ready (up to the configured polls).
        case ready
    }

    public struct Options: Sendable, Hashable {
        public var names: Bool
        public var videoLink: Bool
        public var snapshot: SnapshotMode

        public init(names: Bool = true, videoLink: Bool = true, snapshot: SnapshotMode = .ready) {
            self.names = names
            self.videoLink = videoLink
            self.snapshot = snapshot
        }
    }

    private let client: MerakiClient
    private let names: MerakiNameDirectory
    private let options: Options
    private let logger: Logger

    public init(client: MerakiClient, names: MerakiNameDirectory? = nil, options: Options = .init(), logger: Logger) {
        self.client = client
        self.names = names ?? MerakiNameDirectory(client: client, logger: logger)
        self.options = options
        self.logger = logger
    }

    public func enrich(_ event: CrowdEvent) async -> CrowdEvent {
        var event = event
        let serial = event.camera
        let start = Date(timeIntervalSince1970: Double(event.startedAt) / 1000)
        let client = self.client
        let names = self.names
        let zone = event.zone
        let wantCamera = options.names && event.cameraName == nil
        let wantZone = options.names && event.zoneName == nil
        let wantVideo = options.videoLink && event.videoURL == nil
        let wantSnapshot = options.snapshot != .off && event.snapshotURL == nil

        async let cameraLookup: MerakiNameDirectory.Lookup? =
            wantCamera ? names.cameraName(serial: serial) : nil
        async let zoneLookup: MerakiNameDirectory.Lookup? =
            wantZone ? names.zoneName(serial: serial, zone: zone) : nil
        async let video: Result<MerakiVideoLink, MerakiError>? =
            wantVideo ? Self.result { () async throws(MerakiError) in
                try await client.videoLink(serial: serial, at: start)
            } : nil
        let mode = options.snapshot
        async let snapshot: Result<MerakiSnapshot, MerakiError>? =
            wantSnapshot ? Self.result { () async throws(MerakiError) in
                let snap = try await client.generateSnapshot(serial: serial, at: start)
                if mode == .ready { _ = try await client.downloadSnapshot(snap) }
                return snap
            } : nil

        var notes = event.enrichmentNotes
        if let lookup = await cameraLookup {
            event.cameraName = lookup.name
            if let problem = lookup.problem { notes.append(problem) }
        }
        if let lookup = await zoneLookup {
            event.zoneName = lookup.name
            if let problem = lookup.problem { notes.append(problem) }
        }
        switch await video {
        case .success(let link)?:
            event.videoURL = link.url
            event.visionURL = link.visionUrl
        case .failure(let error)?:
            notes.append("video link unavailable (\(Self.reason(error)))")
            logger.warning("Cannot get the Meraki video link", metadata: ["crowd.camera": "\(serial)", "error": "\(error)"])
        case nil:
            break
        }
        switch await snapshot {
        case .success(let snap)?:
            event.snapshotURL = snap.url.absoluteString
            if snap.usedFallbackToNow { notes.append("snapshot taken at notification time (no video at the crowd's start)") }
        case .failure(let error)?:
            notes.append("snapshot unavailable (\(Self.reason(error)))")
            logger.warning("Cannot get a Meraki snapshot", metadata: ["crowd.camera": "\(serial)", "error": "\(error)"])
        case nil:
            break
        }
        var seen = Set<String>()
        event.enrichmentNotes = notes.filter { seen.insert($0).inserted }
        return event
    }

    private static func result<T: Sendable>(_ body: () async throws(MerakiError) -> T) async -> Result<T, MerakiError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    private static func reason(_ error: MerakiError) -> String {
        if let status = error.status { return "HTTP \(status)" }
        if let http = error.http { return "\(http.code)" }
        return error.message
    }
}
