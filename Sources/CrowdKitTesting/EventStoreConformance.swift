import CrowdKitCore

/// The ``EventStore`` contract as executable checks: run it against your own store.
///
/// ```swift
/// @Test func conforms() async throws {
///     try await EventStoreConformance.run { try MyStore(path: temporaryFile()) }
/// }
/// // or one test per clause:
/// @Test(arguments: EventStoreConformance.Check.allCases)
/// func clause(_ check: EventStoreConformance.Check) async throws {
///     try await EventStoreConformance.run(check) { try MyStore(path: temporaryFile()) }
/// }
/// ```
///
/// Every check gets a fresh, empty store from `makeStore` and uses nothing but the protocol.
/// A failed check throws ``EventStoreConformanceFailure`` naming the check and what differed.
public enum EventStoreConformance {
    /// One clause of the contract.
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case applyStoresEventAndDeliveries
        case recordOfUnknownIDIsNil
        case applyIsIdempotent
        case applyReplacesEventAndKeepsDeliveryStatus
        case applyAddsNewDeliveriesOfLaterChanges
        case listsNewestFirstWithIDTieBreak
        case filtersByCameraZoneAndTime
        case paginatesEveryEventExactlyOnce
        case cursorOnlyWhenMoreFollow
        case paginationIsStableWhileEventsAreAdded
        case clampsLimit
        case pendingDeliveriesOldestFirst
        case updateDeliveryStoresStatus
        case updateUnknownDeliveryThrowsNotFound
        case enrichFillsOnlyMissingEnrichment
        case pruneDeletesOlderEventsAndTheirDeliveries
        case concurrentAppliesAndReads
        case claimsLeaseDueDeliveriesInOrder
        case claimsAreExclusive
        case expiredLeaseCanBeClaimedAgain
        case claimRespectsLimitsBackOffAndSeriesOrder

        public var description: String { rawValue }
    }

    /// Runs every check, each on a fresh store, and throws one failure listing all that failed.
    public static func run(makeStore: () async throws -> any EventStore) async throws {
        var failures: [EventStoreConformanceFailure] = []
        for check in Check.allCases {
            do {
                try await run(check, makeStore: makeStore)
            } catch let failure as EventStoreConformanceFailure {
                failures.append(failure)
            } catch {
                failures.append(EventStoreConformanceFailure(check: check, message: "threw \(error)"))
            }
        }
        if failures.count == 1 { throw failures[0] }
        if !failures.isEmpty {
            throw EventStoreConformanceFailure(
                check: failures[0].check,
                message: "\(failures.count) checks failed:\n" + failures.map { "- \($0)" }.joined(separator: "\n"))
        }
    }

    /// Runs one check on a fresh store.
    public static func run(_ check: Check, makeStore: () async throws -> any EventStore) async throws {
        let store = try await makeStore()
        let t = Tester(check: check)
        do {
            try await body(of: check)(store, t)
        } catch let failure as EventStoreConformanceFailure {
            throw failure
        } catch {
            throw EventStoreConformanceFailure(check: check, message: "unexpected error: \(error)")
        }
    }

    // MARK: - Fixtures

    /// A fired event with every optional field set, so a store that drops a column is caught.
    public static func sampleEvent(
        camera: String = "Q2GV-AAAA-0001", zone: String = "584342051651321858", startedAt: Int64 = 1_714_632_600_123,
        peak: Int = 5
    ) -> CrowdEvent {
        var e = CrowdEvent(
            camera: camera, zone: zone, startedAt: startedAt, firedAt: startedAt + 60_077, peak: peak,
            lastCount: peak - 1,
            policy: PolicyDescription(name: "dwell", parameters: ["minPeople": 3, "dwellSeconds": 60, "gapSeconds": 5.5]),
            cameraName: "Lobby \"north\", <b>", zoneName: "Door ✓ zone")
        e.videoURL = "https://example.invalid/video?t=\(startedAt)"
        e.visionURL = "https://example.invalid/vision"
        e.snapshotURL = "https://example.invalid/snap.jpg"
        e.enrichmentNotes = ["note one", "note, two"]
        return e
    }

    /// A `.fired` change for `event` with one pending delivery per notifier.
    public static func fired(_ event: CrowdEvent, notifiers: [String] = ["log", "webex"], createdAt: Int64 = 1_000)
        -> EventChange
    {
        EventChange(
            kind: .fired, event: event,
            deliveries: notifiers.map { Delivery(eventID: event.id, notifier: $0, kind: .fired, createdAt: createdAt) })
    }

    // MARK: - Checks

    typealias Body = (any EventStore, Tester) async throws -> Void

    static func body(of check: Check) -> Body {
        switch check {
        case .applyStoresEventAndDeliveries: applyStoresEventAndDeliveries
        case .recordOfUnknownIDIsNil: recordOfUnknownIDIsNil
        case .applyIsIdempotent: applyIsIdempotent
        case .applyReplacesEventAndKeepsDeliveryStatus: applyReplacesEventAndKeepsDeliveryStatus
        case .applyAddsNewDeliveriesOfLaterChanges: applyAddsNewDeliveriesOfLaterChanges
        case .listsNewestFirstWithIDTieBreak: listsNewestFirstWithIDTieBreak
        case .filtersByCameraZoneAndTime: filtersByCameraZoneAndTime
        case .paginatesEveryEventExactlyOnce: paginatesEveryEventExactlyOnce
        case .cursorOnlyWhenMoreFollow: cursorOnlyWhenMoreFollow
        case .paginationIsStableWhileEventsAreAdded: paginationIsStableWhileEventsAreAdded
        case .clampsLimit: clampsLimit
        case .pendingDeliveriesOldestFirst: pendingDeliveriesOldestFirst
        case .updateDeliveryStoresStatus: updateDeliveryStoresStatus
        case .updateUnknownDeliveryThrowsNotFound: updateUnknownDeliveryThrowsNotFound
        case .enrichFillsOnlyMissingEnrichment: enrichFillsOnlyMissingEnrichment
        case .pruneDeletesOlderEventsAndTheirDeliveries: pruneDeletesOlderEventsAndTheirDeliveries
        case .concurrentAppliesAndReads: concurrentAppliesAndReads
        case .claimsLeaseDueDeliveriesInOrder: claimsLeaseDueDeliveriesInOrder
        case .claimsAreExclusive: claimsAreExclusive
        case .expiredLeaseCanBeClaimedAgain: expiredLeaseCanBeClaimedAgain
        case .claimRespectsLimitsBackOffAndSeriesOrder: claimRespectsLimitsBackOffAndSeriesOrder
        }
    }

    static func applyStoresEventAndDeliveries(_ store: any EventStore, _ t: Tester) async throws {
        let event = sampleEvent()
        let change = fired(event)
        try await store.apply(change)
        let record = try await t.require(store.record(id: event.id), "record(id:) after apply")
        try t.equal(record.event, event, "stored event (every field must round-trip)")
        try t.equal(Set(record.deliveries), Set(change.deliveries), "stored deliveries")
        let page = try await store.events(EventQuery())
        try t.equal(page.records.map(\.event), [event], "events(EventQuery()) after one apply")
        try t.equal(Set(page.records.first?.deliveries ?? []), Set(change.deliveries), "deliveries in the listing")
    }

    static func recordOfUnknownIDIsNil(_ store: any EventStore, _ t: Tester) async throws {
        try await store.apply(fired(sampleEvent()))
        let other = CrowdEventID(camera: "nope", zone: "0", startedAt: 1)
        try t.check(try await store.record(id: other) == nil, "record(id:) of an unknown id must be nil")
    }

    static func applyIsIdempotent(_ store: any EventStore, _ t: Tester) async throws {
        let change = fired(sampleEvent())
        try await store.apply(change)
        try await store.apply(change)
        let page = try await store.events(EventQuery())
        try t.equal(page.records.count, 1, "events after applying the same change twice")
        try t.equal(page.records.first?.deliveries.count, 2, "deliveries after applying the same change twice")
        try t.equal(try await store.pendingDeliveries(limit: 100).count, 2, "pending deliveries after a double apply")
    }

    static func applyReplacesEventAndKeepsDeliveryStatus(_ store: any EventStore, _ t: Tester) async throws {
        let first = fired(sampleEvent())
        try await store.apply(first)
        var sent = first.deliveries[0]
        sent.status = .sent(remoteID: "remote-1")
        sent.attempts = 1
        sent.updatedAt = 2_000
        try await store.updateDelivery(sent)
        var ended = first.event
        ended.endedAt = ended.firedAt + 30_000
        ended.peak = 9
        ended.lastCount = 1
        ended.videoURL = nil
        ended.enrichmentNotes = []
        // The same change again (a re-processed feed) must not reset the delivery.
        try await store.apply(EventChange(kind: .ended, event: ended, deliveries: first.deliveries))
        let record = try await t.require(store.record(id: ended.id), "record after update")
        // detection rewrites events without their enrichment: the stored video link stays
        try t.equal(record.event.videoURL, first.event.videoURL, "apply must keep stored enrichment the change does not carry")
        try t.equal(record.event, ended.keepingEnrichment(of: first.event), "apply must replace the stored event with the same id")
        try t.equal(record.event.endedAt, ended.endedAt, "endedAt replaced")
        try t.equal(record.event.peak, 9, "peak replaced")
        let stored = record.deliveries.first { $0.id == sent.id }
        try t.equal(stored, sent, "a delivery that exists keeps its status when a change lists it again")
        try t.equal(record.deliveries.count, 2, "delivery count")
        try t.equal(try await store.events(EventQuery()).records.count, 1, "replacing must not add an event")
    }

    static func applyAddsNewDeliveriesOfLaterChanges(_ store: any EventStore, _ t: Tester) async throws {
        let first = fired(sampleEvent(), notifiers: ["log"])
        try await store.apply(first)
        var reminded = first.event
        reminded.reminders = 1
        let reminder = Delivery(eventID: reminded.id, notifier: "log", kind: .reminder, sequence: 1, createdAt: 5_000)
        try await store.apply(EventChange(kind: .reminder, event: reminded, deliveries: [reminder]))
        let record = try await t.require(store.record(id: reminded.id), "record after a reminder")
        try t.equal(Set(record.deliveries.map(\.id)), Set([first.deliveries[0].id, reminder.id]), "delivery ids")
        try t.equal(record.event.reminders, 1, "reminders after the reminder change")
    }

    static func listsNewestFirstWithIDTieBreak(_ store: any EventStore, _ t: Tester) async throws {
        var events: [CrowdEvent] = []
        for (i, ts) in [Int64(5_000), 1_000, 9_000, 5_000, 5_000, 7_000].enumerated() {
            events.append(sampleEvent(camera: "CAM-\(i)", zone: "0", startedAt: ts))
        }
        for e in events.shuffled() { try await store.apply(fired(e, notifiers: [])) }
        let expected = events.sorted { ($0.startedAt, $0.id.rawValue) > ($1.startedAt, $1.id.rawValue) }.map(\.id)
        let page = try await store.events(EventQuery(limit: 100))
        try t.equal(page.records.map(\.event.id), expected, "order must be (startedAt, id) descending")
        try t.check(page.nextCursor == nil, "no cursor when everything fits in one page")
    }

    static func filtersByCameraZoneAndTime(_ store: any EventStore, _ t: Tester) async throws {
        var all: [CrowdEvent] = []
        for cam in ["CAM-A", "CAM-B", "CAM-C"] {
            for zone in ["0", "11", "22"] {
                for k in 0..<3 {
                    all.append(sampleEvent(camera: cam, zone: zone, startedAt: 10_000 + Int64(k) * 1_000))
                }
            }
        }
        for e in all { try await store.apply(fired(e, notifiers: [])) }
        let queries: [(String, EventQuery)] = [
            ("camera CAM-A", EventQuery(cameras: ["CAM-A"])),
            ("cameras CAM-A, CAM-C", EventQuery(cameras: ["CAM-A", "CAM-C"])),
            ("zone 11", EventQuery(zones: ["11"])),
            ("camera CAM-B zone 22", EventQuery(cameras: ["CAM-B"], zones: ["22"])),
            ("startedFrom 11000 (inclusive)", EventQuery(startedFrom: 11_000)),
            ("startedBefore 11000 (exclusive)", EventQuery(startedBefore: 11_000)),
            ("range [11000, 12000)", EventQuery(startedFrom: 11_000, startedBefore: 12_000)),
            ("camera CAM-C from 12000", EventQuery(cameras: ["CAM-C"], startedFrom: 12_000)),
            ("unknown camera", EventQuery(cameras: ["nope"])),
            ("empty range", EventQuery(startedFrom: 12_000, startedBefore: 12_000)),
        ]
        for (name, var query) in queries {
            query.limit = 1000
            let got = try await store.events(query).records.map(\.event.id)
            let expected = all.filter(query.matches)
                .sorted { ($0.startedAt, $0.id.rawValue) > ($1.startedAt, $1.id.rawValue) }.map(\.id)
            try t.equal(got, expected, "filter \(name)")
        }
    }

    static func paginatesEveryEventExactlyOnce(_ store: any EventStore, _ t: Tester) async throws {
        var all: [CrowdEvent] = []
        for i in 0..<23 {
            // Several events share a start time so the id tie-break matters at page edges.
            all.append(sampleEvent(camera: "CAM-\(i % 4)", zone: "\(i % 3)", startedAt: 50_000 + Int64(i / 3) * 100))
        }
        for e in all { try await store.apply(fired(e, notifiers: [])) }
        for (name, filter) in [("all", EventQuery()), ("zone 1", EventQuery(zones: ["1"]))] {
            let expected = all.filter(filter.matches)
                .sorted { ($0.startedAt, $0.id.rawValue) > ($1.startedAt, $1.id.rawValue) }.map(\.id)
            for pageSize in [1, 2, 3, 5, 7] {
                var query = filter
                query.limit = pageSize
                var seen: [CrowdEventID] = []
                var pages = 0
                while true {
                    let page = try await store.events(query)
                    pages += 1
                    try t.check(page.records.count <= pageSize, "\(name): page larger than the limit \(pageSize)")
                    seen += page.records.map(\.event.id)
                    guard let next = page.nextCursor else { break }
                    try t.check(!page.records.isEmpty, "\(name): a cursor after an empty page")
                    try t.equal(next.id, page.records.last?.event.id, "\(name): cursor is the last event of the page")
                    query.cursor = next
                    try t.check(pages <= expected.count + 1, "\(name): pagination does not end")
                }
                try t.equal(seen, expected, "\(name): paging by \(pageSize) must visit every event once, in order")
            }
        }
    }

    static func cursorOnlyWhenMoreFollow(_ store: any EventStore, _ t: Tester) async throws {
        let events = (0..<6).map { sampleEvent(camera: "CAM", zone: "0", startedAt: 1_000 + Int64($0)) }
        for e in events { try await store.apply(fired(e, notifiers: [])) }
        let first = try await store.events(EventQuery(limit: 3))
        try t.equal(first.records.count, 3, "first page of an exact multiple")
        let cursor = try t.require(first.nextCursor, "a cursor when more events follow")
        let second = try await store.events(EventQuery(limit: 3, cursor: cursor))
        try t.equal(second.records.count, 3, "second page of an exact multiple")
        try t.check(second.nextCursor == nil, "no cursor on a last page that is exactly full")
        let all = try await store.events(EventQuery(limit: 6))
        try t.check(all.nextCursor == nil, "no cursor when the limit equals the number of events")
        // A cursor past the oldest event gives an empty last page.
        let past = EventCursor(startedAt: 0, id: CrowdEventID(rawValue: "0"))
        let empty = try await store.events(EventQuery(limit: 3, cursor: past))
        try t.check(empty.records.isEmpty && empty.nextCursor == nil, "a cursor past the end gives an empty last page")
        // A cursor that is not a stored event still positions by (startedAt, id).
        let between = EventCursor(startedAt: 1_003, id: CrowdEventID(rawValue: String(repeating: "f", count: 32)))
        let fromBetween = try await store.events(EventQuery(limit: 10, cursor: between))
        try t.equal(
            fromBetween.records.map(\.event.startedAt), [1_003, 1_002, 1_001, 1_000],
            "a cursor is a position, not necessarily a stored event")
    }

    static func paginationIsStableWhileEventsAreAdded(_ store: any EventStore, _ t: Tester) async throws {
        let initial = (0..<12).map { sampleEvent(camera: "CAM-\($0 % 2)", zone: "0", startedAt: 100_000 + Int64($0) * 10) }
        for e in initial { try await store.apply(fired(e, notifiers: [])) }
        var query = EventQuery(limit: 4)
        var seen: [CrowdEventID] = []
        var round = 0
        while true {
            let page = try await store.events(query)
            seen += page.records.map(\.event.id)
            round += 1
            // Newer events, and events between pages, arrive while the listing is paged.
            try await store.apply(fired(sampleEvent(camera: "NEW-\(round)", zone: "0", startedAt: 900_000 + Int64(round)), notifiers: []))
            try await store.apply(fired(sampleEvent(camera: "MID-\(round)", zone: "0", startedAt: 100_005 + Int64(round) * 10), notifiers: []))
            guard let next = page.nextCursor, round < 50 else { break }
            query.cursor = next
        }
        try t.equal(Set(seen).count, seen.count, "no event may be listed twice while paging")
        let missing = Set(initial.map(\.id)).subtracting(seen)
        try t.check(missing.isEmpty, "every event present when paging started must be listed (\(missing.count) missing)")
    }

    static func clampsLimit(_ store: any EventStore, _ t: Tester) async throws {
        for i in 0..<3 { try await store.apply(fired(sampleEvent(camera: "C\(i)"), notifiers: [])) }
        let zero = try await store.events(EventQuery(limit: 0))
        try t.equal(zero.records.count, 1, "limit 0 is clamped to 1")
        try t.check(zero.nextCursor != nil, "cursor after a clamped page")
        let negative = try await store.events(EventQuery(limit: -5))
        try t.equal(negative.records.count, 1, "a negative limit is clamped to 1")
        let big = try await store.events(EventQuery(limit: 1_000_000))
        try t.equal(big.records.count, 3, "a huge limit lists everything (up to 1000)")
    }

    static func pendingDeliveriesOldestFirst(_ store: any EventStore, _ t: Tester) async throws {
        // Written in the order they were created (as a monitor does); the events' start times
        // (which lead their ids) are mixed, so an order by id or by event would differ.
        var byAge: [String] = []
        for (i, start) in [Int64(10_000), 9_000, 11_000, 8_000, 12_000, 9_500].enumerated() {
            let e = sampleEvent(camera: "CAM-\(i)", zone: "0", startedAt: start)
            let change = fired(e, notifiers: ["n"], createdAt: 1_000 + Int64(i) * 10)
            try await store.apply(change)
            byAge.append(change.deliveries[0].id)
        }
        try t.check(byAge != byAge.sorted() && byAge != byAge.sorted().reversed(), "fixture ids must not be ordered")
        try t.equal(try await store.pendingDeliveries(limit: 100).map(\.id), byAge, "pending deliveries oldest first")
        try t.equal(try await store.pendingDeliveries(limit: 2).map(\.id), Array(byAge.prefix(2)), "limit on pending")
        try t.equal(try await store.pendingDeliveries(limit: 0).count, 0, "limit 0 gives no deliveries")
        var done = try await store.pendingDeliveries(limit: 1)[0]
        done.status = .sent(remoteID: nil)
        try await store.updateDelivery(done)
        var failed = try await store.pendingDeliveries(limit: 1)[0]
        failed.status = .failed(reason: "rejected")
        try await store.updateDelivery(failed)
        try t.equal(
            try await store.pendingDeliveries(limit: 100).map(\.id), Array(byAge.dropFirst(2)),
            "sent and failed deliveries are no longer pending")
    }

    static func updateDeliveryStoresStatus(_ store: any EventStore, _ t: Tester) async throws {
        let change = fired(sampleEvent(), notifiers: ["a", "b", "c", "d"])
        try await store.apply(change)
        var a = change.deliveries[0]
        a.status = .sent(remoteID: "Y2lzY29zcGFyazovL3VzL01FU1NBR0U")
        a.attempts = 2
        a.updatedAt = 9_000
        var b = change.deliveries[1]
        b.status = .failed(reason: "HTTP 404: room not found")
        b.attempts = 5
        b.updatedAt = 9_001
        var c = change.deliveries[2]
        c.attempts = 1
        c.updatedAt = 9_002
        c.lastError = "HTTP 503: Service Unavailable"
        var d = change.deliveries[3]
        d.status = .expired(reason: "not sent within 1 h (raised 1 h ago, 40 attempts); last error: HTTP 503")
        d.attempts = 40
        d.updatedAt = 9_003
        d.lastError = "HTTP 503: Service Unavailable"
        for x in [a, b, c, d] { try await store.updateDelivery(x) }
        let record = try await t.require(store.record(id: change.event.id), "record")
        try t.equal(
            Set(record.deliveries), Set([a, b, c, d]), "updated deliveries read back (expired status and the last error included)")
        try t.equal(try await store.pendingDeliveries(limit: 10), [c], "a pending delivery with attempts stays pending")
    }

    // MARK: Claims (one outbox for every worker)

    static func claim(_ owner: String, now: Int64 = 5_000, lease: Int64 = 60_000, limit: Int = 100, notifiers: [String] = ["n"])
        -> DeliveryClaim
    {
        DeliveryClaim(
            owner: owner, now: now, leaseUntil: now + lease, limit: limit,
            perNotifier: Dictionary(uniqueKeysWithValues: notifiers.map { ($0, limit) }))
    }

    /// Six events' deliveries (notifier "n"), created in an order their ids do not follow.
    static func storeSix(_ store: any EventStore, _ t: Tester) async throws -> [String] {
        var byAge: [String] = []
        for (i, start) in [Int64(10_000), 9_000, 11_000, 8_000, 12_000, 9_500].enumerated() {
            let change = fired(sampleEvent(camera: "CAM-\(i)", zone: "0", startedAt: start), notifiers: ["n"], createdAt: 1_000 + Int64(i) * 10)
            try await store.apply(change)
            byAge.append(change.deliveries[0].id)
        }
        return byAge
    }

    static func claimsLeaseDueDeliveriesInOrder(_ store: any EventStore, _ t: Tester) async throws {
        let byAge = try await storeSix(store, t)
        let first = try await store.claimDeliveries(claim("w1", limit: 4))
        try t.equal(first.map(\.id), Array(byAge.prefix(4)), "a claim takes the oldest due deliveries, up to its limit")
        try t.check(
            first.allSatisfy { $0.lease == DeliveryLease(owner: "w1", until: 65_000) }, "claimed deliveries carry the claim's lease")
        let stored = try await t.require(store.record(id: first[0].eventID), "record").deliveries[0]
        try t.equal(stored.lease, DeliveryLease(owner: "w1", until: 65_000), "the lease is stored")
        try t.equal(stored.status, .pending, "a claimed delivery stays pending until its status is recorded")
        let rest = try await store.claimDeliveries(claim("w2"))
        try t.equal(rest.map(\.id), Array(byAge.suffix(2)), "a second worker gets only what is not leased")
        var done = first[0]
        done.status = .sent(remoteID: "m1")
        done.lease = nil
        try await store.updateDelivery(done)
        var retry = first[1]
        retry.attempts = 1
        retry.lastError = "HTTP 503"
        retry.lease = nil
        try await store.updateDelivery(retry)
        let again = try await store.claimDeliveries(claim("w3"))
        try t.equal(again.map(\.id), [retry.id], "recording ends the lease: a pending delivery is due again, a sent one never")
        try t.equal(again.first?.attempts, 1, "the attempts recorded come back with the claim")
        let sent = try await t.require(store.record(id: done.eventID), "record").deliveries[0]
        try t.equal(sent.lease, nil, "a recorded delivery has no lease")
    }

    static func claimsAreExclusive(_ store: any EventStore, _ t: Tester) async throws {
        var all: [String] = []
        for i in 0..<60 {
            let change = fired(sampleEvent(camera: "CAM-\(i)", startedAt: 1_000 + Int64(i)), notifiers: ["n"], createdAt: 1_000 + Int64(i))
            try await store.apply(change)
            all.append(change.deliveries[0].id)
        }
        // eight workers claim at once, several times each
        let claims = try await withThrowingTaskGroup(of: [String].self) { group in
            for w in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    for _ in 0..<4 {
                        var next = claim("w\(w)", limit: 3)
                        next.excluding = Set(mine)  // what this worker is sending already
                        mine += try await store.claimDeliveries(next).map(\.id)
                    }
                    return mine
                }
            }
            var out: [[String]] = []
            for try await ids in group { out.append(ids) }
            return out
        }
        let flat = claims.flatMap { $0 }
        try t.equal(flat.count, Set(flat).count, "no delivery is handed to two workers while its lease holds")
        try t.check(Set(flat).isSubset(of: Set(all)), "claims return stored deliveries only")
        let left = try await store.claimDeliveries(claim("late"))
        try t.equal(Set(left.map(\.id)), Set(all).subtracting(flat), "what no worker claimed is still there to claim")
        try t.equal(try await store.claimDeliveries(claim("later")).count, 0, "nothing is left once everything is leased")
    }

    static func expiredLeaseCanBeClaimedAgain(_ store: any EventStore, _ t: Tester) async throws {
        let byAge = try await storeSix(store, t)
        _ = try await store.claimDeliveries(claim("dead", now: 5_000, lease: 1_000))
        try t.equal(try await store.claimDeliveries(claim("w2", now: 5_999)).count, 0, "a lease holds until its end")
        let taken = try await store.claimDeliveries(claim("w2", now: 6_000))
        try t.equal(taken.map(\.id), byAge, "once a lease has ended (its worker died) another worker claims the delivery")
        try t.check(taken.allSatisfy { $0.lease?.owner == "w2" }, "the new lease is the new worker's")
        // w2 dies and starts again under its name: its deliveries are its own at once, except
        // those it says it is sending
        var restarted = claim("w2", now: 6_001)
        restarted.excluding = [byAge[0]]
        let back = try await store.claimDeliveries(restarted)
        try t.equal(back.map(\.id), Array(byAge.dropFirst()), "a worker takes back its own leases at once, except those it excludes")
    }

    static func claimRespectsLimitsBackOffAndSeriesOrder(_ store: any EventStore, _ t: Tester) async throws {
        // one event: fired, reminder 1, ended for notifier "a", all pending at once
        let event = sampleEvent()
        let series = [
            Delivery(eventID: event.id, notifier: "a", kind: .fired, createdAt: 1_000),
            Delivery(eventID: event.id, notifier: "a", kind: .reminder, sequence: 1, createdAt: 1_000),
            Delivery(eventID: event.id, notifier: "a", kind: .ended, createdAt: 1_000),
        ]
        try await store.apply(EventChange(kind: .fired, event: event, deliveries: series.reversed()))
        let other = sampleEvent(camera: "CAM-B")
        try await store.apply(fired(other, notifiers: ["a", "b", "c"], createdAt: 2_000))
        let first = try await store.claimDeliveries(claim("w", limit: 10, notifiers: ["a", "b"]))
        try t.equal(
            first.map(\.id), [series[0].id, Delivery.makeID(eventID: other.id, notifier: "a", kind: .fired, sequence: 0),
                               Delivery.makeID(eventID: other.id, notifier: "b", kind: .fired, sequence: 0)],
            "one delivery per event and notifier at a time (fired before its reminder and its end); unnamed notifiers are not claimed")
        var fired = first[0]
        fired.status = .sent(remoteID: nil)
        try await store.updateDelivery(fired)
        var next = try await store.claimDeliveries(claim("w2", limit: 10, notifiers: ["a"]))
        try t.equal(next.map(\.id), [series[1].id], "after the fired one, the reminder")
        var reminder = next[0]
        reminder.attempts = 1
        reminder.retryAt = 9_000
        try await store.updateDelivery(reminder)
        try t.equal(try await store.claimDeliveries(claim("w3", now: 8_999, notifiers: ["a"])).count, 0, "a back-off holds until retryAt")
        var ignoring = claim("w4", now: 8_999, notifiers: ["a"])
        ignoring.ignoringBackOff = ["a"]
        next = try await store.claimDeliveries(ignoring)
        try t.equal(next.map(\.id), [series[1].id], "ignoringBackOff releases what waited for a notifier that answers again")
        var perNotifier = claim("x", now: 100_000, notifiers: [])
        perNotifier.perNotifier = ["a": 0]
        perNotifier.otherNotifiers = 1
        let others = try await store.claimDeliveries(perNotifier)
        try t.equal(
            others.map(\.notifier), ["b"], "otherNotifiers bounds the claim of unnamed notifiers; a limit of 0 claims none")
    }

    static func updateUnknownDeliveryThrowsNotFound(_ store: any EventStore, _ t: Tester) async throws {
        try await store.apply(fired(sampleEvent()))
        let ghost = Delivery(
            eventID: CrowdEventID(rawValue: "00"), notifier: "ghost", kind: .fired, status: .sent(remoteID: nil),
            createdAt: 1)
        do {
            try await store.updateDelivery(ghost)
            try t.fail("updateDelivery of an unknown id must throw EventStoreError.notFound")
        } catch let error as EventStoreError {
            try t.equal(error.code, .notFound, "error code for an unknown delivery")
        }
    }

    static func enrichFillsOnlyMissingEnrichment(_ store: any EventStore, _ t: Tester) async throws {
        // stored bare, as the monitor writes it
        var bare = sampleEvent()
        bare.cameraName = nil
        bare.zoneName = nil
        bare.videoURL = nil
        bare.visionURL = nil
        bare.snapshotURL = nil
        bare.enrichmentNotes = []
        try await store.apply(fired(bare, notifiers: ["webex"]))
        // the monitor updates the event while the enricher works on the old version
        var updated = bare
        updated.peak = 11
        updated.lastCount = 10
        updated.endedAt = bare.firedAt + 5_000
        try await store.apply(EventChange(kind: .ended, event: updated, deliveries: []))
        var enriched = bare
        enriched.cameraName = "Front Desk"
        enriched.videoURL = "https://example.invalid/v"
        enriched.enrichmentNotes = ["snapshot: not ready"]
        try await store.enrich(enriched)
        let record = try await t.require(store.record(id: bare.id), "record after enrich")
        try t.equal(record.event.cameraName, "Front Desk", "camera name added")
        try t.equal(record.event.videoURL, "https://example.invalid/v", "video link added")
        try t.equal(record.event.zoneName, nil, "zone name the enricher did not find")
        try t.equal(record.event.enrichmentNotes, ["snapshot: not ready"], "notes of the first enrichment")
        try t.equal(record.event.peak, 11, "enrich must not bring back an older peak")
        try t.equal(record.event.endedAt, updated.endedAt, "enrich must not touch endedAt")
        try t.equal(record.deliveries.count, 1, "enrich adds no delivery")
        // a second enrichment never overwrites what is there
        var other = bare
        other.cameraName = "Other"
        other.zoneName = "Door"
        other.enrichmentNotes = ["other note"]
        try await store.enrich(other)
        let again = try await t.require(store.record(id: bare.id), "record after a second enrich")
        try t.equal(again.event.cameraName, "Front Desk", "an existing camera name stays")
        try t.equal(again.event.zoneName, "Door", "a missing zone name is added")
        try t.equal(again.event.enrichmentNotes, ["snapshot: not ready"], "existing notes stay")
        do {
            try await store.enrich(sampleEvent(camera: "GHOST"))
            try t.fail("enrich of an unknown event must throw EventStoreError.notFound")
        } catch let error as EventStoreError {
            try t.equal(error.code, .notFound, "error code for an unknown event")
        }
    }

    static func pruneDeletesOlderEventsAndTheirDeliveries(_ store: any EventStore, _ t: Tester) async throws {
        let old = (0..<4).map { sampleEvent(camera: "OLD-\($0)", zone: "0", startedAt: 1_000 + Int64($0)) }
        let boundary = sampleEvent(camera: "EDGE", zone: "0", startedAt: 2_000)
        let young = (0..<3).map { sampleEvent(camera: "NEW-\($0)", zone: "0", startedAt: 3_000 + Int64($0)) }
        for e in old + [boundary] + young { try await store.apply(fired(e, notifiers: ["n"])) }
        let deleted = try await store.prune(startedBefore: 2_000)
        try t.equal(deleted, 4, "prune returns how many events it deleted (startedAt < cutoff)")
        let left = try await store.events(EventQuery(limit: 100)).records.map(\.event.id)
        try t.equal(Set(left), Set(([boundary] + young).map(\.id)), "events left after prune")
        try t.check(try await store.record(id: old[0].id) == nil, "a pruned event is gone")
        let pendingEvents = Set(try await store.pendingDeliveries(limit: 100).map(\.eventID))
        try t.equal(pendingEvents, Set(([boundary] + young).map(\.id)), "deliveries of pruned events are gone")
        try t.equal(try await store.prune(startedBefore: 2_000), 0, "pruning again deletes nothing")
    }

    static func concurrentAppliesAndReads(_ store: any EventStore, _ t: Tester) async throws {
        let events = (0..<64).map { sampleEvent(camera: "CAM-\($0 % 8)", zone: "\($0 % 5)", startedAt: 1_000 + Int64($0)) }
        let readErrors = try await withThrowingTaskGroup(of: Int.self) { group in
            for e in events {
                group.addTask {
                    try await store.apply(fired(e, notifiers: ["n"]))
                    return 0
                }
                group.addTask {
                    let page = try await store.events(EventQuery(cameras: [e.camera], limit: 5))
                    // Every listed record must be complete: an event is never visible without
                    // the deliveries written in the same change.
                    return page.records.filter { $0.deliveries.count != 1 }.count
                }
            }
            return try await group.reduce(0, +)
        }
        try t.equal(readErrors, 0, "records seen half-written during concurrent applies")
        let all = try await store.events(EventQuery(limit: 1000))
        try t.equal(Set(all.records.map(\.event.id)), Set(events.map(\.id)), "every concurrently applied event")
        try t.equal(try await store.pendingDeliveries(limit: 1000).count, 64, "every concurrently applied delivery")
    }
}

/// A failed ``EventStoreConformance`` check.
public struct EventStoreConformanceFailure: Error, CustomStringConvertible, Sendable {
    public var check: EventStoreConformance.Check
    public var message: String

    public init(check: EventStoreConformance.Check, message: String) {
        self.check = check
        self.message = message
    }

    public var description: String { "EventStore conformance \(check): \(message)" }
}

struct Tester {
    let check: EventStoreConformance.Check

    func fail(_ message: String) throws -> Never {
        throw EventStoreConformanceFailure(check: check, message: message)
    }

    func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { try fail(message()) }
    }

    func equal<T: Equatable>(_ got: T, _ expected: T, _ what: @autoclosure () -> String) throws {
        if got != expected { try fail("\(what()): expected \(expected), got \(got)") }
    }

    func require<T>(_ value: T?, _ what: @autoclosure () -> String) throws -> T {
        guard let value else { try fail("\(what()): got nil") }
        return value
    }
}
