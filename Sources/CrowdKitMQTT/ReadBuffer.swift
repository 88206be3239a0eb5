import CMosquitto
import CMosquittoReads
import CrowdKitCore
import Dispatch
import Foundation
import Logging
import Synchronization


/// The network thread's socket read buffer (see `CMosquittoReads`).
///
/// `@unchecked Sendable` is safe: the buffer is only read and changed by the network thread that
/// attached it; `fills` is a counter read for diagnostics.
final class ReadBuffer: @unchecked Sendable {
    let raw: OpaquePointer

    /// `nil` when libmosquitto's reads cannot be routed through a buffer here.
    init?(capacity: Int) {
        guard ck_mosquitto_reads_install() == 1, let raw = ck_read_buffer_create(capacity) else { return nil }
        self.raw = raw
    }

    deinit { ck_read_buffer_destroy(raw) }

    func attachToCurrentThread() { ck_read_buffer_attach(raw) }
    func detachFromCurrentThread() { ck_read_buffer_attach(nil) }
    /// A socket other than the one tracked (or -1) drops what was buffered.
    func track(socket: Int32) { ck_read_buffer_track(raw, socket) }
    var pending: Int { ck_read_buffer_pending(raw) }
    var fills: UInt64 { UInt64(ck_read_buffer_fills(raw)) }
}
