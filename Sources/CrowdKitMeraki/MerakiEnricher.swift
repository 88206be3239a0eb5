import CrowdKitCore
import Foundation
import Logging

/// The ``EventEnricher`` that adds Meraki data to a crowd event: camera name and zone label
/// (from the cached ``MerakiNameDirectory``), the video link at the episode start (`url`,
/// `visionUrl`) and a snapshot URL. Each part is fetched concurrently and independently; what
/// fails is explained in ``CrowdEvent/enrichmentNotes`` and the event goes out anyway.
/// Idempotent: what the event already has is not fetched again.
///
/// Events of one camera that start in the same second share one video-link call (the Dashboard
/// API answers the same link for them): zones of a camera often fill up together, and each call
/// counts against the organisation's rate limit. A link is reused for a minute; a failed call is
/// not remembered.
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
        /// The longest each part (names, video link, snapshot) may take, rate-limit waits
        /// included; a part still running then is reported as timed out and the event goes on
        /// without it (a names fetch keeps running and fills the cache for later events).
        public var timeout: Duration

        public init(names: Bool = true, videoLink: Bool = true, snapshot: SnapshotMode = .ready, timeout: Duration = .seconds(30)) {
            self.names = names
            self.videoLink = videoLink
            self.snapshot = snapshot
            self.timeout = timeout
        }
    }

    private let client: MerakiClient
    private let names: MerakiNameDirectory
    private let options: Options
    private let logger: Logger
    private let videoLinks = SharedAnswers<String, MerakiVideoLink, MerakiError>()
    private let images: SnapshotImages?

    /// - Parameter images: where a snapshot image downloaded to see that it is ready (snapshot
    ///   mode `.ready`) is kept for the notifier that uploads it (give it the same instance), so
    ///   it is downloaded once.
    public init(
        client: MerakiClient, names: MerakiNameDirectory? = nil, options: Options = .init(), images: SnapshotImages? = nil,
        logger: Logger
    ) {
        self.images = images
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

        let timeout = options.timeout
        let timedOut = MerakiNameDirectory.Lookup(name: nil, problem: "name unavailable (timed out)")
        async let cameraLookup: MerakiNameDirectory.Lookup? =
            wantCamera ? (await Self.bounded(timeout) { await names.cameraName(serial: serial) } ?? timedOut) : nil
        async let zoneLookup: MerakiNameDirectory.Lookup? =
            wantZone ? (await Self.bounded(timeout) { await names.zoneName(serial: serial, zone: zone) } ?? timedOut) : nil
        let videoLinks = self.videoLinks
        async let video: Result<MerakiVideoLink, MerakiError>? =
            wantVideo
            ? (await Self.bounded(timeout) {
                await videoLinks.answer(for: serial + " " + MerakiClient.iso8601(start)) {
                    await Self.result { () async throws(MerakiError) in try await client.videoLink(serial: serial, at: start) }
                }
            } ?? .failure(MerakiError(.http, "timed out"))) : nil
        let mode = options.snapshot
        let images = self.images
        async let snapshot: Result<MerakiSnapshot, MerakiError>? =
            wantSnapshot
            ? (await Self.bounded(timeout) {
                await Self.result { () async throws(MerakiError) in
                    let snap = try await client.generateSnapshot(serial: serial, at: start)
                    if mode == .ready {
                        let image = try await client.downloadSnapshot(snap)
                        images?.put(.init(data: image.data, contentType: image.contentType), for: snap.url.absoluteString)
                    }
                    return snap
                }
            } ?? .failure(MerakiError(.http, "timed out"))) : nil

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

    /// `operation`'s result, or `nil` when it takes longer than `timeout` (it is then cancelled
    /// and not waited for).
    static func bounded<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
        let once = ResumeOnce<T?>()
        return await withCheckedContinuation { continuation in
            once.set(continuation)
            let work = Task {
                let value = await operation()
                once.resume(value)
            }
            // cancelled as soon as the work is done: no sleeping timer per call left behind
            once.setTimer(
                Task {
                    try? await Task.sleep(for: timeout)
                    if once.resume(nil) { work.cancel() }
                })
        }
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

/// Resumes a continuation exactly once, whichever side comes first. The continuation is set
/// before either side starts.
///
/// `@unchecked Sendable` is safe: `continuation` is only touched under `lock`.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Never>?
    private var timer: Task<Void, Never>?

    func set(_ c: CheckedContinuation<T, Never>) {
        lock.lock()
        continuation = c
        lock.unlock()
    }

    /// Keeps `t` to cancel at ``resume(_:)``, or cancels it now if that was already called
    /// (``set(_:)`` comes first, so no continuation means resumed).
    func setTimer(_ t: Task<Void, Never>) {
        lock.lock()
        let finished = continuation == nil
        if !finished { timer = t }
        lock.unlock()
        if finished { t.cancel() }
    }

    /// Returns whether this call resumed it (and cancels the timer).
    @discardableResult
    func resume(_ value: T) -> Bool {
        lock.lock()
        let c = continuation
        continuation = nil
        let t = timer
        timer = nil
        lock.unlock()
        t?.cancel()
        c?.resume(returning: value)
        return c != nil
    }
}
