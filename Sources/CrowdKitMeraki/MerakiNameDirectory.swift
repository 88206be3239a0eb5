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
    /// `meraki.organizationId`, or the network's (looked up once; `""` when that failed).
    private var organizationID: String?
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
        self.organizationID = client.configuration.organizationID
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
                    let result = await self.fetchLabels(serial: serial, client: client)
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

    /// The name of a line (Areas & Lines boundary) of a camera, from the organization's boundaries.
    public func lineName(serial: String, line: String) async -> Lookup {
        // lines and areas of a camera are fetched together with its zone labels
        let lookup = await zoneName(serial: serial, zone: Self.lineKey(line))
        return lookup
    }

    static func lineKey(_ line: String) -> String { "crossing/\(line)" }

    /// The organization for the boundaries: configured, or the network's (asked once).
    private func organization(client: MerakiClient) async -> String? {
        if let organizationID { return organizationID.isEmpty ? nil : organizationID }
        guard let networkID else { return nil }
        do throws(MerakiError) {
            let id = try await client.organizationID(networkID: networkID)
            organizationID = id
            return id
        } catch {
            organizationID = ""
            logger.warning(
                "Cannot find the network's organization; area and line names come only from the deprecated zones endpoint",
                metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Labels of a camera's zones and lines: Areas & Lines boundaries first (areas by id, lines
    /// under ``lineKey(_:)``), then the deprecated analytics zones for ids the boundaries do not
    /// name. Fails only when every source failed.
    private func fetchLabels(serial: String, client: MerakiClient) async -> Result<[String: String], MerakiError> {
        var labels: [String: String] = [:]
        var failure: MerakiError?
        var boundariesAnswered = false
        if let org = await organization(client: client) {
            for kind in [MerakiBoundaryKind.areas, .lines] {
                do throws(MerakiError) {
                    for device in try await client.boundaries(kind, organizationID: org, serials: [serial]) where device.serial == serial {
                        for b in device.boundaries {
                            guard let name = b.name, !name.isEmpty else { continue }
                            labels[kind == .lines ? Self.lineKey(b.id) : b.id] = name
                        }
                    }
                    boundariesAnswered = true
                } catch {
                    failure = error
                }
            }
        }
        do throws(MerakiError) {
            for z in try await client.cameraZones(serial: serial) where labels[z.zoneID] == nil {
                if let label = z.label { labels[z.zoneID] = label }
            }
        } catch {
            if !boundariesAnswered { return .failure(failure ?? error) }
        }
        return .success(labels)
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

    private func finishZones(serial: String, _ result: Result<[String: String], MerakiError>) {
        var entry = zones[serial] ?? Entry()
        entry.inFlight = nil
        switch result {
        case .success(var labels):
            labels["0"] = Self.fullFrame
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
