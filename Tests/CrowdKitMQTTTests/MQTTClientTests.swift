import CrowdKitCore
import CrowdKitMQTT
import CrowdKitTesting
import Foundation
import Testing
import CrowdKitTestServers

@Suite("MQTTClient against a real mosquitto")
struct MQTTClientTests {
    @Test("published messages arrive in order, and shutdown ends the feed")
    func publishedMessagesArrive() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }

        let subscriber = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await subscriber.subscribe("/merakimv/#")
        try await subscriber.connect()
        #expect(subscriber.status.state == .connected)
        try await subscriber.connect()  // already connected: nothing happens
        let publisher = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await publisher.connect()

        for i in 0..<200 {
            try publisher.publish(topic: "/merakimv/Q2GV-TEST-0001/\(i % 3)", payload: countPayload(ts: 1000 + Int64(i), people: i % 5))
        }
        try publisher.publish(topic: "elsewhere/ignored", payload: "x")
        let got = await collect(200, from: subscriber.messages)
        #expect(got.count == 200)
        #expect(got.map(\.topic) == (0..<200).map { "/merakimv/Q2GV-TEST-0001/\($0 % 3)" })
        #expect(got.last.map { String(decoding: $0.payload, as: UTF8.self) } == countPayload(ts: 1199, people: 199 % 5))
        #expect(subscriber.status.received == 200)
        #expect(subscriber.status.dropped == 0)
        #expect(subscriber.status.lastMessageAt != nil)
        #expect(subscriber.status.description == "mqtt://127.0.0.1:\(broker.port)")

        await publisher.shutdown()
        await subscriber.shutdown()
        #expect(subscriber.status.state == .finished)
        let after = await ends(subscriber.messages)
        #expect(after.ended, "shutdown ends the feed")
        #expect(after.elements.isEmpty)
    }

    @Test("buffered reads: small and large messages (past the 64 KiB buffer) arrive whole and in order", arguments: [true, false])
    func bufferedReads(buffered: Bool) async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        var configuration = MQTTClient.Configuration(port: broker.port)
        configuration.bufferedReads = buffered
        configuration.catchUpPause = .milliseconds(20)  // let the feed pile up between reads
        let subscriber = try MQTTClient(configuration: configuration, logger: testLogger)
        #if os(Linux)
        #expect(subscriber.bufferedReads == buffered)
        #endif
        try await subscriber.subscribe("/merakimv/#")
        try await subscriber.connect()
        let publisher = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await publisher.connect()

        let count = 3_000
        func payload(_ i: Int) -> [UInt8] {
            if i % 500 == 499 { return (0..<(90_000 + i)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) } }
            return Array(countPayload(ts: Int64(i), people: i % 7).utf8)
        }
        for i in 0..<count {
            try publisher.publish(topic: "/merakimv/Q2GV-READ-\(i % 4)/\(i % 3)", payload: payload(i))
        }
        let got = await collect(count, from: subscriber.messages, timeout: .seconds(20))
        #expect(got.count == count)
        #expect(got.map(\.topic) == (0..<count).map { "/merakimv/Q2GV-READ-\($0 % 4)/\($0 % 3)" })
        let mismatched = got.indices.filter { got[$0].payload != payload($0) }
        #expect(mismatched.isEmpty, "payloads differ at \(mismatched.prefix(5))")
        if subscriber.bufferedReads {
            // libmosquitto alone makes three reads per message.
            #expect(subscriber.bufferedReadCalls > 0)
            #expect(subscriber.bufferedReadCalls < UInt64(count / 3), "\(subscriber.bufferedReadCalls) block reads")
        } else {
            #expect(subscriber.bufferedReadCalls == 0)
        }
        await publisher.shutdown()
        await subscriber.shutdown()
    }

    @Test("buffered reads: a lone message is delivered at once, not left in the buffer until more traffic; and after a reconnect", arguments: [true, false])
    func bufferedReadsLoneMessageAndReconnect(buffered: Bool) async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        var configuration = MQTTClient.Configuration(port: broker.port, reconnect: .init(initialDelay: .milliseconds(50), maxDelay: .milliseconds(300)))
        configuration.bufferedReads = buffered
        let subscriber = try MQTTClient(configuration: configuration, logger: testLogger)
        try await subscriber.subscribe("/merakimv/#")
        try await subscriber.connect()
        let publisher = try MQTTClient(configuration: .init(port: broker.port, reconnect: .init(initialDelay: .milliseconds(50), maxDelay: .milliseconds(300))), logger: testLogger)
        try await publisher.connect()
        // three messages in one go (one block read), then a lone one: each must come without more traffic
        for i in 0..<3 { try publisher.publish(topic: "/merakimv/Q2GV-LONE-0001/0", payload: countPayload(ts: Int64(i), people: 1)) }
        #expect(await collect(3, from: subscriber.messages, timeout: .seconds(20)).count == 3)
        try publisher.publish(topic: "/merakimv/Q2GV-LONE-0001/0", payload: countPayload(ts: 3, people: 2))
        let lone = await collect(1, from: subscriber.messages, timeout: .seconds(20))
        #expect(lone.first.map { String(decoding: $0.payload, as: UTF8.self) } == countPayload(ts: 3, people: 2))
        // the broker goes away and comes back on the same port: both clients reconnect, the
        // subscription is renewed, and reads (through a fresh buffer) are whole again
        broker.kill()
        #expect(await eventually { subscriber.status.state != .connected })
        try await broker.start()
        #expect(await eventually(timeout: .seconds(60)) { subscriber.status.state == .connected && publisher.status.state == .connected })
        #expect(subscriber.status.reconnects >= 1)
        try await Task.sleep(for: .milliseconds(200))  // the renewed SUBSCRIBE's acknowledgement
        let big = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try publisher.publish(topic: "/merakimv/Q2GV-LONE-0001/0", payload: big, qos: .atLeastOnce)
        try publisher.publish(topic: "/merakimv/Q2GV-LONE-0001/0", payload: countPayload(ts: 4, people: 3), qos: .atLeastOnce)
        let after = await collect(2, from: subscriber.messages, timeout: .seconds(30))
        #expect(after.first?.payload == big)
        #expect(after.last.map { String(decoding: $0.payload, as: UTF8.self) } == countPayload(ts: 4, people: 3))
        await publisher.shutdown()
        await subscriber.shutdown()
    }

    @Test("MQTT 5 works too")
    func mqtt5() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let client = try MQTTClient(configuration: .init(port: broker.port, protocolVersion: .v5), logger: testLogger)
        try await client.subscribe(["/merakimv/#"], qos: .atLeastOnce)
        try await client.connect()
        try client.publish(topic: "/merakimv/Q2GV-TEST-0001/0", payload: countPayload(ts: 1, people: 1), qos: .atLeastOnce)
        let got = await collect(1, from: client.messages)
        #expect(got.first?.topic == "/merakimv/Q2GV-TEST-0001/0")
        await client.shutdown()
    }

    @Test("a refused TCP connection is one clear error naming the broker")
    func refusedConnection() async throws {
        let port = try MosquittoBroker.freePort()
        let client = try MQTTClient(configuration: .init(port: port), logger: testLogger)
        let error = await #expect(throws: MQTTError.self) { try await client.connect() }
        #expect(error?.code == .connectionFailed)
        #expect(error?.broker == "127.0.0.1:\(port)")
        #expect(error?.description.contains("Connection refused") == true)
        #expect(client.status.lastError != nil)
        let again = await #expect(throws: MQTTError.self) { try await client.connect() }
        #expect(again == error)
        await client.shutdown()
    }

    @Test("a subscription made after connecting is acknowledged and delivers")
    func subscribeAfterConnect() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let client = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await client.connect()
        try await client.subscribe("a/#")
        try client.publish(topic: "a/b", payload: "hello")
        let got = await collect(1, from: client.messages)
        #expect(got.first.map { String(decoding: $0.payload, as: UTF8.self) } == "hello")
        await client.shutdown()
    }

    @Test("a full buffer holds the network thread back instead of dropping: the backlog waits in the broker")
    func fullBufferWaits() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        let client = try MQTTClient(configuration: .init(port: broker.port, bufferCapacity: 10), logger: testLogger)
        try await client.subscribe("/merakimv/#")
        try await client.connect()
        let publisher = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await publisher.connect()
        let payloads = (0..<100).map { countPayload(ts: Int64($0), people: 1) }
        for p in payloads { try publisher.publish(topic: "/merakimv/Q2GV-TEST-0001/0", payload: p) }
        // Ten fit; the network thread waits for the consumer with the rest unread.
        #expect(await eventually { client.status.received == 10 })
        try await Task.sleep(for: .milliseconds(300))
        #expect(client.status.received == 10)
        let got = await collect(100, from: client.messages)
        #expect(got.map { String(decoding: $0.payload, as: UTF8.self) } == payloads)
        #expect(client.status.received == 100)
        #expect(client.status.dropped == 0)
        await publisher.shutdown()
        await client.shutdown()
    }

    @Test("shutting down while the network thread waits for room does not wait out bufferFullWait")
    func shutdownWhileFull() async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        var configuration = MQTTClient.Configuration(port: broker.port, keepAlive: .seconds(3600), bufferCapacity: 10)
        configuration.bufferFullWait = .seconds(600)
        let client = try MQTTClient(configuration: configuration, logger: testLogger)
        try await client.subscribe("/merakimv/#")
        try await client.connect()
        let publisher = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await publisher.connect()
        for i in 0..<20 { try publisher.publish(topic: "/merakimv/Q2GV-TEST-0001/0", payload: countPayload(ts: Int64(i), people: 1)) }
        #expect(await eventually { client.status.received == 10 })
        // nobody consumes: the network thread waits for room until the client stops
        let stopped = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await client.shutdown()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(60))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(stopped, "shutdown waited for the consumer")
        await publisher.shutdown()
    }

    @Test(
        "a consumer that does not catch up: what does not fit is dropped and counted, never silent",
        arguments: [Duration.zero, .milliseconds(200)])
    func overflowIsCounted(wait: Duration) async throws {
        let broker = try MosquittoBroker()
        try await broker.start()
        defer { broker.stop() }
        var configuration = MQTTClient.Configuration(port: broker.port, bufferCapacity: 10)
        configuration.bufferFullWait = wait
        let client = try MQTTClient(configuration: configuration, logger: testLogger)
        try await client.subscribe("/merakimv/#")
        try await client.connect()
        let publisher = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        try await publisher.connect()
        for i in 0..<100 { try publisher.publish(topic: "/merakimv/Q2GV-TEST-0001/0", payload: countPayload(ts: Int64(i), people: 1)) }
        #expect(await eventually { client.status.received == 100 })
        #expect(client.status.dropped == 90)
        // The first ten were kept, in order; the feed goes on once there is room.
        let kept = await collect(10, from: client.messages)
        #expect(kept.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<10).map { countPayload(ts: Int64($0), people: 1) })
        try publisher.publish(topic: "/merakimv/Q2GV-TEST-0001/0", payload: countPayload(ts: 500, people: 1))
        let more = await collect(1, from: client.messages)
        #expect(more.count == 1)
        #expect(client.status.dropped == 90)
        await publisher.shutdown()
        await client.shutdown()
    }
}

@Suite("MQTT security against a real mosquitto")
struct MQTTSecurityTests {
    @Test("a TLS listener with a test CA works; a wrong CA is refused with a clear error")
    func tls() async throws {
        let broker = try MosquittoBroker(
            extra: """
                cafile $DIR/ca.crt
                certfile $DIR/server.crt
                keyfile $DIR/server.key
                """)
        defer { broker.stop() }
        let certs = try TestCertificates(in: broker.directory)
        try await broker.start()

        let client = try MQTTClient(configuration: .init(port: broker.port, tls: .caFile(certs.caFile)), logger: testLogger)
        try await client.subscribe("/merakimv/#")
        try await client.connect()
        #expect(client.status.description == "mqtts://127.0.0.1:\(broker.port)")
        try client.publish(topic: "/merakimv/Q2GV-TEST-0001/0", payload: countPayload(ts: 1, people: 2))
        let got = await collect(1, from: client.messages)
        #expect(got.count == 1)
        await client.shutdown()

        let wrong = try MQTTClient(configuration: .init(port: broker.port, tls: .caFile(certs.otherCAFile)), logger: testLogger)
        let error = await #expect(throws: MQTTError.self) { try await wrong.connect() }
        #expect(error?.code == .tls)
        #expect(error?.broker == "127.0.0.1:\(broker.port)")
        #expect(error?.description.contains("certificate verify failed") == true, "\(String(describing: error))")
        await wrong.shutdown()

        // Plain TCP to a TLS listener is not mistaken for success either.
        let plain = try MQTTClient(configuration: .init(port: broker.port, connectTimeout: .seconds(5)), logger: testLogger)
        await #expect(throws: MQTTError.self) { try await plain.connect() }
        await plain.shutdown()
    }

    @Test("an unreadable CA file is a configuration error")
    func missingCAFile() throws {
        let error = #expect(throws: MQTTError.self) {
            _ = try MQTTClient(configuration: .init(tls: .caFile("/nonexistent/ca.crt")), logger: testLogger)
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.description.contains("/nonexistent/ca.crt") == true)
    }

    @Test("username and password are sent; a wrong password is refused with a clear error")
    func credentials() async throws {
        let broker = try MosquittoBroker(extra: "password_file $DIR/passwd", anonymous: false)
        defer { broker.stop() }
        try runTool("mosquitto_passwd", ["-c", "-b", "passwd", "alice", "correct horse"], in: broker.directory)
        try await broker.start()

        let good = try MQTTClient(
            configuration: .init(port: broker.port, credentials: .init(username: "alice", password: "correct horse")), logger: testLogger)
        try await good.subscribe("t")
        try await good.connect()
        try good.publish(topic: "t", payload: "ok")
        #expect(await collect(1, from: good.messages).count == 1)
        await good.shutdown()

        let credentials = MQTTClient.Credentials(username: "alice", password: "battery staple")
        #expect(!"\(credentials)".contains("battery"))
        let bad = try MQTTClient(configuration: .init(port: broker.port, credentials: credentials), logger: testLogger)
        let error = await #expect(throws: MQTTError.self) { try await bad.connect() }
        #expect(error?.code == .connectionRefused)
        #expect(error?.description.contains("not authorised") == true, "\(String(describing: error))")
        #expect(error?.description.contains("127.0.0.1:\(broker.port)") == true)
        #expect(error?.description.contains("battery") == false)
        #expect(bad.status.lastError?.contains("battery") == false)
        await bad.shutdown()

        let anonymous = try MQTTClient(configuration: .init(port: broker.port), logger: testLogger)
        let anonError = await #expect(throws: MQTTError.self) { try await anonymous.connect() }
        #expect(anonError?.code == .connectionRefused)
        await anonymous.shutdown()
    }
}
