// swift-tools-version: 6.1
// libFuzzer targets for CrowdKit's parsers. Built and run by scripts/fuzz.sh (debug build with
// -sanitize=fuzzer,address, so internal parsers are reachable through @testable import).
import PackageDescription

let settings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "CrowdKitFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(name: "FuzzMVSense", dependencies: [.product(name: "CrowdKitCore", package: "main")], swiftSettings: settings),
        .executableTarget(name: "FuzzCapture", dependencies: [.product(name: "CrowdKitCore", package: "main")], swiftSettings: settings),
        .executableTarget(name: "FuzzWebQuery", dependencies: [.product(name: "CrowdKitWeb", package: "main")], swiftSettings: settings),
        .executableTarget(name: "FuzzAreasConfig", dependencies: [.product(name: "CrowdKitCore", package: "main")], swiftSettings: settings),
    ]
)
