import CrowdKitCore

extension HTTPError {
    /// The notifier-level view of this failure: `.transient` (with the server's `Retry-After`)
    /// when retrying later may help, `.permanent` otherwise (400, 401, 403, 404, ...).
    public var notificationError: NotificationError {
        NotificationError(isTransient ? .transient : .permanent, description, retryAfter: retryAfter)
    }
}
