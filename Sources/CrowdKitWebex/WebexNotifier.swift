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
public struct WebexNotifier: Notifier {
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

    public init(
        name: String = "webex", client: WebexClient, template: WebexMessageTemplate = .standard,
        attachment: Attachment = .upload, transport: any HTTPTransport = URLSessionTransport.shared, images: SnapshotImages? = nil,
        logger: Logger
    ) {
        self.init(name: name, client: client, attachment: attachment, transport: transport, images: images, logger: logger) {
            template.render($0)
        }
    }

    /// With a custom formatter (it returns markdown and text; the file is added by the notifier).
    /// - Parameter images: snapshot images an enricher downloaded already (the same instance as
    ///   the enricher's): uploaded from there instead of downloaded again.
    public init(
        name: String = "webex", client: WebexClient, attachment: Attachment = .upload,
        transport: any HTTPTransport = URLSessionTransport.shared, images: SnapshotImages? = nil, logger: Logger,
        formatter: @escaping Formatter
    ) {
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
