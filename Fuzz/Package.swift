// swift-tools-version: 6.1
// libFuzzer targets for CrowdKit's parsers. Built and run by scripts/fuzz.sh (debug build with
// -sanitize=fuzzer,address, so internal parsers are reachable through @testable import). Each
// main.swift hands its `fuzz` function to libFuzzer's driver (LLVMFuzzerRunDriver).
import PackageDescription


let package = Package(
    name: "CrowdKitFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        // what the configuration loader (linked into FuzzConfig) imports
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
        .executableTarget(name: "FuzzMVSense", dependencies: ["FuzzSupport", .product(name: "CrowdKitCore", package: "main")]),
        .executableTarget(name: "FuzzCapture", dependencies: ["FuzzSupport", .product(name: "CrowdKitCore", package: "main")]),
        .executableTarget(name: "FuzzWebQuery", dependencies: ["FuzzSupport", .product(name: "CrowdKitWeb", package: "main")]),
        // the reference app's configuration sources are symbolic links to Sources/crowd-notifier/Configuration
        .executableTarget(
            name: "FuzzConfig",
            dependencies: [
                "FuzzSupport", .product(name: "CrowdKitCore", package: "main"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"), .product(name: "Yams", package: "Yams"),
            ]),
        .executableTarget(name: "FuzzAreasConfig", dependencies: ["FuzzSupport", .product(name: "CrowdKitCore", package: "main")]),
    ]
)
