import Foundation
import Logging

/// Camera names (network devices) and zone labels, cached: fetched on first use, again after
/// ``MerakiConfiguration/namesRefreshInterval``, never per message. Concurrent lookups share one
/// fetch; after a failed fetch the directory waits ``MerakiConfiguration/namesRetryInterval``
/// before asking again and keeps serving what it had.
public actor MerakiNameDirectory {
    /// A name lookup: the name when known, or why it is not.
    public struct Lookup: Hashable, Sendable {
        public var name: String?
        /// Set when a fetch failed (for ``CrowdKitCore/CrowdEvent/enrichmentNotes``).
        public var problem: String?
    }

    private struct Entry<Value: Sendable> {
        var value: Value?
        var fetchedAt: ContinuousClock.Instant?
        var failedAt: ContinuousClock.Instant?
        var problem: String?
        var inFlight: Task<Void, Never>?
    }

    private let client: MerakiClient
    private let networkID: String?
    private let refresh: Duration
    private let retry: Duration
    private let logger: Logger
    private var devices = Entry<[String: MerakiDevice]>()
    private var zones: [String: Entry<[String: String]>] = [:]

    /// The zone label of zone `"0"`.
    public static let fullFrame = "Full Frame"

    public init(client: MerakiClient, logger: Logger) {
        self.client = client
        self.networkID = client.configuration.networkID
        self.refresh = client.configuration.namesRefreshInterval
        self.retry = client.configuration.namesRetryInterval
        self.logger = logger
    }

    /// The camera's name (`nil` name with no problem when no network id is configured).
    public func cameraName(serial: String) async -> Lookup {
        guard let networkID else { return Lookup(name: nil, problem: nil) }
        if needsFetch(devices) {
            if devices.inFlight == nil {
                let client = self.client
                devices.inFlight = Task {
                    let result: Result<[MerakiDevice], MerakiError>
                    do throws(MerakiError) { result = .success(try await client.networkDevices(networkID: networkID)) } catch {
                        result = .failure(error)
                    }
                    self.finishDevices(result)
                }
            }
            await devices.inFlight?.value
        }
        let name = devices.value?[serial]?.name.flatMap { $0.isEmpty ? nil : $0 }
        return Lookup(name: name, problem: name == nil ? devices.problem : nil)
    }

    /// The zone's label; zone `"0"` is always "Full Frame".
    public func zoneName(serial: String, zone: String) async -> Lookup {
        if zone == "0" { return Lookup(name: Self.fullFrame, problem: nil) }
        var entry = zones[serial] ?? Entry()
        if needsFetch(entry) {
            if entry.inFlight == nil {
                let client = self.client
                entry.inFlight = Task {
                    let result: Result<[MerakiCameraZone], MerakiError>
                    do throws(MerakiError) { result = .success(try await client.cameraZones(serial: serial)) } catch {
                        result = .failure(error)
                    }
                    self.finishZones(serial: serial, result)
                }
                zones[serial] = entry
            }
            await entry.inFlight?.value
            entry = zones[serial] ?? Entry()
        }
        let name = entry.value?[zone].flatMap { $0.isEmpty ? nil : $0 }
        return Lookup(name: name, problem: name == nil ? entry.problem : nil)
    }

    /// Forgets everything (the next lookup fetches again).
    public func invalidate() {
        devices = Entry()
        zones = [:]
    }

    private func needsFetch<V>(_ entry: Entry<V>) -> Bool {
        let now = ContinuousClock.now
        if let failedAt = entry.failedAt, now - failedAt < retry { return false }
        guard let fetchedAt = entry.fetchedAt else { return true }
        return now - fetchedAt >= refresh
    }

    private func finishDevices(_ result: Result<[MerakiDevice], MerakiError>) {
        devices.inFlight = nil
        switch result {
        case .success(let list):
            var byserial: [String: MerakiDevice] = [:]
            for d in list { byserial[d.serial] = d }
            devices.value = byserial
            devices.fetchedAt = .now
            devices.failedAt = nil
            devices.problem = nil
            logger.debug("Meraki camera names loaded", metadata: ["meraki.devices": "\(list.count)"])
        case .failure(let error):
            devices.failedAt = .now
            devices.problem = "camera name unavailable (\(error.message))"
            logger.warning("Cannot load Meraki camera names", metadata: ["error": "\(error)"])
        }
    }

    private func finishZones(serial: String, _ result: Result<[MerakiCameraZone], MerakiError>) {
        var entry = zones[serial] ?? Entry()
        entry.inFlight = nil
        switch result {
        case .success(let list):
            var labels: [String: String] = ["0": Self.fullFrame]
            for z in list { labels[z.zoneID] = z.label }
            entry.value = labels
            entry.fetchedAt = .now
            entry.failedAt = nil
            entry.problem = nil
        case .failure(let error):
            entry.failedAt = .now
            entry.problem = "zone name unavailable (\(error.message))"
            logger.warning("Cannot load Meraki zone labels", metadata: ["crowd.camera": "\(serial)", "error": "\(error)"])
        }
        zones[serial] = entry
    }
}
