// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "CrowdKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CrowdKitCore", targets: ["CrowdKitCore"]),
        .library(name: "CrowdKitTesting", targets: ["CrowdKitTesting"]),
        .library(name: "CrowdKitMQTT", targets: ["CrowdKitMQTT"]),
        .executable(name: "crowd-notifier", targets: ["crowd-notifier"]),
        .executable(name: "crowdkit-bench", targets: ["crowdkit-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .target(
            name: "CrowdKitCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        .target(
            name: "CrowdKitMQTT",
            dependencies: [
                "CrowdKitCore",
                "CMosquitto",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CrowdKitTesting",
            dependencies: ["CrowdKitCore"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "crowd-notifier",
            dependencies: [
                "CrowdKitCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "crowdkit-bench",
            dependencies: ["CrowdKitCore"],
            path: "Benchmarks/crowdkit-bench",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FileNotifier",
            dependencies: ["CrowdKitCore"],
            path: "Examples/FileNotifier",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExamplesTests",
            dependencies: ["FileNotifier", "CrowdKitCore", "CrowdKitTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitCoreTests",
            dependencies: ["CrowdKitCore", "CrowdKitTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitMQTTTests",
            dependencies: ["CrowdKitMQTT", "CrowdKitCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdNotifierTests",
            dependencies: ["crowd-notifier", "CrowdKitCore"],
            swiftSettings: swiftSettings
        ),
    ]
)
