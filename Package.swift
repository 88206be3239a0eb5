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
        .library(name: "CrowdKitSQLite", targets: ["CrowdKitSQLite"]),
        .library(name: "CrowdKitWeb", targets: ["CrowdKitWeb"]),
        .executable(name: "crowd-notifier", targets: ["crowd-notifier"]),
        .executable(name: "crowdkit-bench", targets: ["crowdkit-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
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
        .target(
            name: "CrowdKitTesting",
            dependencies: ["CrowdKitCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CrowdKitSQLite",
            dependencies: [
                "CrowdKitCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CrowdKitWeb",
            dependencies: [
                "CrowdKitCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "crowd-notifier",
            dependencies: [
                "CrowdKitCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/sample.capture")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "crowdkit-bench",
            dependencies: ["CrowdKitCore"],
            path: "Benchmarks/crowdkit-bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "crowdkit-web-bench",
            dependencies: [
                "CrowdKitCore", "CrowdKitSQLite", "CrowdKitWeb",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Benchmarks/crowdkit-web-bench",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitSQLiteTests",
            dependencies: ["CrowdKitCore", "CrowdKitTesting", "CrowdKitSQLite"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitWebTests",
            dependencies: [
                "CrowdKitCore", "CrowdKitTesting", "CrowdKitSQLite", "CrowdKitWeb",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitCoreTests",
            dependencies: ["CrowdKitCore", "CrowdKitTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdNotifierTests",
            dependencies: ["crowd-notifier", "CrowdKitCore"],
            swiftSettings: swiftSettings
        ),
    ]
)
