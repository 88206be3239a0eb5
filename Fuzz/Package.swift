// swift-tools-version: 6.1
// libFuzzer targets for CrowdKit's parsers. Built and run by scripts/fuzz.sh (debug build with
// -sanitize=fuzzer,address, so internal parsers are reachable through @testable import). Each
// main.swift hands its `fuzz` function to libFuzzer's driver (LLVMFuzzerRunDriver).
import PackageDescription


let package = Package(
    name: "CrowdKitFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
        .executableTarget(name: "FuzzMVSense", dependencies: ["FuzzSupport", .product(name: "CrowdKitCore", package: "main")]),
        .executableTarget(name: "FuzzCapture", dependencies: ["FuzzSupport", .product(name: "CrowdKitCore", package: "main")]),
        .executableTarget(name: "FuzzWebQuery", dependencies: ["FuzzSupport", .product(name: "CrowdKitWeb", package: "main")]),
        .executableTarget(name: "FuzzAreasConfig", dependencies: ["FuzzSupport", .product(name: "CrowdKitCore", package: "main")]),
    ]
)
