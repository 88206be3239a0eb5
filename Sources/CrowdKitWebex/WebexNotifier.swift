import CrowdKitCore
import CrowdKitHTTP
import Foundation
import Logging

/// The ``CrowdKitCore/Notifier`` that posts crowd notifications to Webex.
///
/// The message comes from a ``WebexMessageTemplate`` (``WebexMessageTemplate/standard`` by
/// default) or a custom formatter. When the event has a snapshot URL, the image is downloaded and
/// uploaded with the message (``Attachment/upload``); if that download fails, the URL is passed in
/// `files` instead, and the message still goes out.
///
/// With ``Threads`` (a room), each crowd is a thread: the fired notification posts a root
/// message with markdown only (editable), then the snapshot and the card (``WebexCard``) as
/// replies; reminders are replies; at the end the root is edited to say so (duration, peak) and
/// an "ended" reply is posted. The root's id is the fired notification's remote id (kept in the
/// outbox), found again through ``Threads/rootMessage``.
public struct WebexNotifier: Notifier {
    /// A thread per crowd in a room.
    public struct Threads: Sendable {
        /// The room (edits name it).
        public var roomID: String
        /// The root message of an event's thread (the fired notification's remote id); `nil`
        /// when unknown: the notification is then posted on its own.
        public var rootMessage: @Sendable (CrowdEventID) async -> String?
        /// Post the card with its buttons in the thread.
        public var card: Bool
        /// The card's JSON for an event (``WebexCard/crowd(_:)`` by default, or a
        /// ``WebexCardTemplate``'s).
        public var makeCard: @Sendable (CrowdEvent) -> Data

        public init(
            roomID: String, card: Bool = true, makeCard: @escaping @Sendable (CrowdEvent) -> Data = { WebexCard.crowd($0) },
            rootMessage: @escaping @Sendable (CrowdEventID) async -> String?
        ) {
            self.roomID = roomID
            self.card = card
            self.makeCard = makeCard
            self.rootMessage = rootMessage
        }
    }

    public enum Attachment: Sendable, Hashable {
        /// Download the snapshot and upload it (multipart); fall back to ``link``.
        case upload
        /// Pass the snapshot URL in `files` (Webex fetches it).
        case link
        /// No file.
        case none
    }

    public typealias Formatter = @Sendable (CrowdNotification) -> WebexMessage

    public let name: String
    private let client: WebexClient
    private let formatter: Formatter
    private let attachment: Attachment
    private let images: HTTPClient
    private let downloaded: SnapshotImages?
    private let logger: Logger
    private let threads: Threads?

    public init(
        name: String = "webex", client: WebexClient, template: WebexMessageTemplate = .standard,
        attachment: Attachment = .upload, transport: any HTTPTransport = URLSessionTransport.shared, images: SnapshotImages? = nil,
        threads: Threads? = nil, logger: Logger
    ) {
        self.init(
            name: name, client: client, attachment: attachment, transport: transport, images: images, threads: threads, logger: logger
        ) {
            template.render($0)
        }
    }

    /// With a custom formatter (it returns markdown and text; the file is added by the notifier).
    /// - Parameter images: snapshot images an enricher downloaded already (the same instance as
    ///   the enricher's): uploaded from there instead of downloaded again.
    public init(
        name: String = "webex", client: WebexClient, attachment: Attachment = .upload,
        transport: any HTTPTransport = URLSessionTransport.shared, images: SnapshotImages? = nil, threads: Threads? = nil,
        logger: Logger, formatter: @escaping Formatter
    ) {
        self.threads = threads
        self.downloaded = images
        self.name = name
        self.client = client
        self.formatter = formatter
        self.attachment = attachment
        var logger = logger
        logger[metadataKey: "notifier"] = "\(name)"
        self.logger = logger
        self.images = HTTPClient(
            transport: transport,
            configuration: HTTPClientConfiguration(
                timeout: .seconds(10), retry: RetryPolicy(maxAttempts: 2, maxTotalTime: .seconds(15))),
            logger: logger)
    }

    public func send(_ notification: CrowdNotification) async throws -> NotificationReceipt {
        if let threads {
            switch notification.kind {
            case .fired: return try await sendRoot(notification, threads)
            case .reminder, .ended:
                if let root = await threads.rootMessage(notification.event.id) {
                    return try await sendReply(notification, root: root, threads)
                }
            }
        }
        return try await sendAlone(notification)
    }

    /// The root (markdown only), then the snapshot and the card as replies. Only the root must
    /// go out: a failed reply is logged, not retried (a retry would post the root again).
    private func sendRoot(_ notification: CrowdNotification, _ threads: Threads) async throws -> NotificationReceipt {
        var root = formatter(notification)
        root.file = nil
        let receipt: WebexMessageReceipt
        do {
            receipt = try await client.send(root)
        } catch {
            throw error.notificationError
        }
        let event = notification.event
        let metadata: Logger.Metadata = ["crowd.event": "\(event.id)", "webex.message.id": "\(receipt.id)"]
        guard !receipt.id.isEmpty else { return NotificationReceipt() }
        if let text = event.snapshotURL, let url = URL(string: text), url.scheme != nil, attachment != .none {
            var snapshot = WebexMessage(markdown: "Snapshot", text: "Snapshot")
            snapshot.parentID = receipt.id
            snapshot.file = attachment == .link ? .url(url) : (await download(url) ?? .url(url))
            do { _ = try await client.send(snapshot) } catch {
                logger.warning("The snapshot reply was not posted", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
        }
        if threads.card {
            var card = WebexMessage(markdown: root.markdown, text: root.text)
            card.parentID = receipt.id
            card.card = threads.makeCard(event)
            do { _ = try await client.send(card) } catch {
                logger.warning("The card reply was not posted", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
        }
        logger.debug("Webex thread started", metadata: metadata)
        return NotificationReceipt(remoteID: receipt.id)
    }

    /// A reminder or the end as a reply; the end also edits the root.
    private func sendReply(_ notification: CrowdNotification, root: String, _ threads: Threads) async throws -> NotificationReceipt {
        var reply = formatter(notification)
        reply.file = nil
        reply.parentID = root
        if notification.kind == .ended {
            do {
                try await client.edit(messageID: root, roomID: threads.roomID, markdown: reply.markdown)
            } catch {
                // at most 10 edits, or the root is gone: the reply still says it
                logger.warning(
                    "The thread's root message was not edited", metadata: ["crowd.event": "\(notification.event.id)", "error": "\(error)"])
            }
        }
        do {
            let receipt = try await client.send(reply)
            return NotificationReceipt(remoteID: receipt.id.isEmpty ? nil : receipt.id)
        } catch {
            throw error.notificationError
        }
    }

    /// Edits the thread's root to show `note` (for example "Acknowledged by ...") under the
    /// event's message (the ended text once the crowd has ended). Does nothing without
    /// ``Threads`` or a known root; Webex allows 10 edits of a message.
    public func annotateThread(of event: CrowdEvent, note: String) async throws(WebexError) {
        try await annotateThread(of: event, markdown: "_\(note)_")
    }

    /// Edits the thread's root to show `markdown` (a rendered
    /// ``WebexTemplates/acknowledgement(of:by:)``, say) under the event's message.
    public func annotateThread(of event: CrowdEvent, markdown: String) async throws(WebexError) {
        guard let threads, let root = await threads.rootMessage(event.id) else { return }
        let message = formatter(CrowdNotification(kind: event.endedAt == nil ? .fired : .ended, event: event))
        try await client.edit(messageID: root, roomID: threads.roomID, markdown: message.markdown + "\n\n" + markdown)
    }

    private func sendAlone(_ notification: CrowdNotification) async throws -> NotificationReceipt {
        var message = formatter(notification)
        if message.file == nil, let text = notification.event.snapshotURL, let url = URL(string: text), url.scheme != nil {
            switch attachment {
            case .none: break
            case .link: message.file = .url(url)
            case .upload: message.file = await download(url) ?? .url(url)
            }
        }
        do {
            let receipt: WebexMessageReceipt
            do {
                receipt = try await client.send(message)
            } catch let error where error.status == 400 && message.file != nil {
                // Webex may refuse the file (cannot fetch the URL, bad image): the words matter
                // more than the picture, so send them without it.
                logger.warning(
                    "Webex refused the message with its snapshot; sending it without",
                    metadata: ["crowd.event": "\(notification.event.id)", "webex.tracking.id": "\(error.trackingID ?? "-")"])
                message.file = nil
                message.markdown += "\n\n_Snapshot could not be attached._"
                message.text += "\nSnapshot could not be attached."
                receipt = try await client.send(message)
            }
            logger.debug(
                "Webex message sent",
                metadata: ["crowd.event": "\(notification.event.id)", "webex.message.id": "\(receipt.id)"])
            return NotificationReceipt(remoteID: receipt.id.isEmpty ? nil : receipt.id)
        } catch {
            throw error.notificationError
        }
    }

    private func download(_ url: URL) async -> WebexMessage.File? {
        let image: SnapshotImages.Image
        var fresh = false
        if let kept = downloaded?.image(for: url.absoluteString) {
            image = kept
        } else {
            do {
                let response = try await images.send(HTTPRequest(url: url, headers: ["Accept": "image/*"]))
                image = SnapshotImages.Image(data: response.body, contentType: response.headers["Content-Type"] ?? "image/jpeg")
            } catch {
                logger.info("Cannot download the snapshot; sending its link", metadata: ["error": "\(error)"])
                return nil
            }
            fresh = true
        }
        // the same check for an image the enricher kept and one downloaded here
        let type = image.contentType.split(separator: ";").first.map(String.init) ?? "image/jpeg"
        guard type.hasPrefix("image/"), !image.data.isEmpty else {
            logger.info("Snapshot is not an image; sending its link", metadata: ["http.content.type": "\(type)"])
            return nil
        }
        if fresh { downloaded?.put(image, for: url.absoluteString) }  // for the event's later notifications
        return .data(image.data, filename: "snapshot.\(type == "image/png" ? "png" : "jpg")", contentType: type)
    }
}
