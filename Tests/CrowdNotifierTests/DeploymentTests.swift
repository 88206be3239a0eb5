import CrowdKitTestServers
import Foundation
import Testing

/// `deploy/crowd-notifier.service` and `Containerfile`, as an operator installs them.
@Suite("Deployment files")
struct DeploymentTests {
    static let root = ReplayFixtureTests.root

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// `key=value` lines of a unit's sections.
    static func settings(_ unit: String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for line in unit.split(separator: "\n") where !line.hasPrefix("#") && line.contains("=") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            out[parts[0], default: []].append(parts.count > 1 ? parts[1] : "")
        }
        return out
    }

    @Test("the systemd unit is hardened and runs `run` with its state in StateDirectory")
    func unitSettings() throws {
        let s = Self.settings(try Self.text("deploy/crowd-notifier.service"))
        for (key, value) in [
            ("DynamicUser", "yes"), ("StateDirectory", "crowd-notifier"), ("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"),
            ("Restart", "on-failure"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("CapabilityBoundingSet", ""),
        ] {
            #expect(s[key] == [value], "\(key)")
        }
        #expect(s["Nice"].flatMap { $0.first.flatMap(Int.init) }.map { (1...19).contains($0) } == true)
        let exec = try #require(s["ExecStart"]?.first)
        #expect(exec.hasPrefix("/usr/local/bin/crowd-notifier run "))
        #expect(exec.contains("--store %S/crowd-notifier/"))
        #expect(!exec.contains("TOKEN") && !exec.contains("KEY"), "secrets come from the EnvironmentFile, never the command line")
    }

    @Test("systemd-analyze verify accepts the unit (with ExecStart pointing at the built binary)")
    func unitVerifies() throws {
        let analyze = "/usr/bin/systemd-analyze"
        try #require(FileManager.default.isExecutableFile(atPath: analyze), "scripts/test.sh installs systemd (systemd-analyze)")
        let binary = try #require(CommandLineTests.binary)
        let unit = try Self.text("deploy/crowd-notifier.service").replacingOccurrences(of: "/usr/local/bin/crowd-notifier", with: binary.path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("crowd-notifier.service")
        try unit.write(to: path, atomically: true, encoding: .utf8)
        let (status, output) = try runToolCapturing(analyze, ["verify", path.path])
        #expect(status == 0, "\(output)")
        #expect(!output.contains("crowd-notifier.service:"), "\(output)")
        // a broken unit is caught: the check can fail
        try unit.replacingOccurrences(of: "Restart=on-failure", with: "Restart=sometimes").write(to: path, atomically: true, encoding: .utf8)
        let (_, broken) = try runToolCapturing(analyze, ["verify", path.path])
        #expect(broken.contains("restart specifier"), "\(broken)")
    }

    @Test("the Containerfile builds in one stage and runs as a non-root user in a slim image, exposing the page's port")
    func containerfile() throws {
        let text = try Self.text("Containerfile")
        let from = text.split(separator: "\n").filter { $0.hasPrefix("FROM ") }
        #expect(from.count == 2)
        #expect(from.first?.contains(" AS build") == true)
        #expect(text.contains("COPY --from=build "))
        let user = try #require(text.split(separator: "\n").last { $0.hasPrefix("USER ") })
        #expect(!user.contains("root") && !user.contains(" 0"))
        #expect(text.contains("EXPOSE 5001"))
        #expect(text.contains("HTTP_PORT=5001"))
        #expect(text.contains("ENTRYPOINT [\"/usr/local/bin/crowd-notifier\"]"))
        // every system package the build needs (scripts/bootstrap.sh's list) is installed
        for p in ["libmosquitto-dev", "libcurl4-openssl-dev", "libsqlite3-dev"] { #expect(text.contains(p), "\(p)") }
    }
}
