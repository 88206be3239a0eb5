/// Reads a ``MessageSource``'s feed a batch at a time (``MessageSource/batchReader()``).
public protocol RawBatchReader {
    /// Replaces the contents of `batch` with the next messages (at least one), waiting while none
    /// are there. `batch` should be empty (its capacity is reused). Returns `false` at the end of
    /// the feed or when the task is cancelled.
    mutating func next(into batch: inout RawMessageBatch) async throws -> Bool
}

/// The batch reader of a source that has none (``MessageSource/batchReader()`` returns `nil`).
public struct NoBatchReader: RawBatchReader {
    public mutating func next(into batch: inout RawMessageBatch) async throws -> Bool { false }
}

extension MessageSource where BatchReader == NoBatchReader {
    /// No batches: the source is read through ``messages()``.
    public func batchReader() async throws -> NoBatchReader? { nil }
}
