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
        .executableTarget(name: "FuzzMVSense", dependencies: ["CFuzzDriver", .product(name: "CrowdKitCore", package: "main")]),
        .executableTarget(name: "FuzzCapture", dependencies: ["CFuzzDriver", .product(name: "CrowdKitCore", package: "main")]),
        .executableTarget(name: "FuzzWebQuery", dependencies: ["CFuzzDriver", .product(name: "CrowdKitWeb", package: "main")]),
        .executableTarget(name: "FuzzAreasConfig", dependencies: ["CFuzzDriver", .product(name: "CrowdKitCore", package: "main")]),
    ]
)
