// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let log: Target.Dependency = .product(name: "Logging", package: "swift-log")
let hummingbird: Target.Dependency = .product(name: "Hummingbird", package: "hummingbird")

let package = Package(
    name: "CrowdKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CrowdKitCore", targets: ["CrowdKitCore"]),
        .library(name: "CrowdKitTesting", targets: ["CrowdKitTesting"]),
        .library(name: "CrowdKitMQTT", targets: ["CrowdKitMQTT"]),
        .library(name: "CrowdKitSQLite", targets: ["CrowdKitSQLite"]),
        .library(name: "CrowdKitPostgres", targets: ["CrowdKitPostgres"]),
        .library(name: "CrowdKitWeb", targets: ["CrowdKitWeb"]),
        .library(name: "CrowdKitHTTP", targets: ["CrowdKitHTTP"]),
        .library(name: "CrowdKitMeraki", targets: ["CrowdKitMeraki"]),
        .library(name: "CrowdKitWebex", targets: ["CrowdKitWebex"]),
        .library(name: "CrowdKitAlertmanager", targets: ["CrowdKitAlertmanager"]),
        .executable(name: "crowd-notifier", targets: ["crowd-notifier"]),
        .executable(name: "crowdkit-bench", targets: ["crowdkit-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["ConfigurationSupport"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Libraries
        .target(
            name: "CrowdKitCore",
            dependencies: [log, .product(name: "Metrics", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        .target(name: "CrowdKitTesting", dependencies: ["CrowdKitCore"], swiftSettings: swiftSettings),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .target(name: "CMosquittoReads"),
        .target(name: "CrowdKitMQTT", dependencies: ["CrowdKitCore", "CMosquitto", "CMosquittoReads", log], swiftSettings: swiftSettings),
        .target(
            name: "CrowdKitSQLite",
            dependencies: ["CrowdKitCore", .product(name: "GRDB", package: "GRDB.swift"), log],
            swiftSettings: swiftSettings
        ),
        // The only target that depends on PostgresNIO (and through it on NIO and BoringSSL).
        .target(
            name: "CrowdKitPostgres",
            dependencies: ["CrowdKitCore", .product(name: "PostgresNIO", package: "postgres-nio"), log],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CrowdKitWeb",
            dependencies: [
                "CrowdKitCore", "CrowdKitHTTP", hummingbird, log,
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CrowdKitHTTP", dependencies: ["CrowdKitCore", log], swiftSettings: swiftSettings),
        .target(name: "CrowdKitMeraki", dependencies: ["CrowdKitCore", "CrowdKitHTTP", log], swiftSettings: swiftSettings),
        .target(name: "CrowdKitWebex", dependencies: ["CrowdKitCore", "CrowdKitHTTP", log], swiftSettings: swiftSettings),
        .target(name: "CrowdKitAlertmanager", dependencies: ["CrowdKitCore", "CrowdKitHTTP", log], swiftSettings: swiftSettings),

        // The reference app, the example notifier, benchmarks
        .executableTarget(
            name: "crowd-notifier",
            dependencies: [
                "CrowdKitCore", "CrowdKitMQTT", "CrowdKitSQLite", "CrowdKitPostgres", "CrowdKitWeb", log, hummingbird,
                "CrowdKitHTTP", "CrowdKitMeraki", "CrowdKitWebex", "CrowdKitAlertmanager",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "FileNotifier", dependencies: ["CrowdKitCore"], path: "Examples/FileNotifier", swiftSettings: swiftSettings),
        .executableTarget(
            name: "EmbeddedNotifier", dependencies: ["CrowdKitCore", "CrowdKitMQTT", log], path: "Examples/EmbeddedNotifier",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "crowdkit-bench",
            dependencies: ["CrowdKitCore"],
            path: "Benchmarks/crowdkit-bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "crowdkit-history-bench",
            dependencies: ["CrowdKitCore", "CrowdKitSQLite", "CrowdKitWeb", hummingbird],
            path: "Benchmarks/crowdkit-history-bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "crowdkit-web-bench",
            dependencies: ["CrowdKitCore", "CrowdKitSQLite", "CrowdKitWeb", hummingbird],
            path: "Benchmarks/crowdkit-web-bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "crowdkit-state-bench",
            dependencies: ["CrowdKitCore", "CrowdKitSQLite", log],
            path: "Benchmarks/crowdkit-state-bench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "crowdkit-http-bench",
            dependencies: ["CrowdKitHTTP", log],
            path: "Benchmarks/crowdkit-http-bench",
            swiftSettings: swiftSettings
        ),

        // Tests
        .testTarget(name: "CrowdKitCoreTests", dependencies: ["CrowdKitCore", "CrowdKitTesting", log], swiftSettings: swiftSettings),
        .testTarget(
            name: "CrowdKitMQTTTests", dependencies: ["CrowdKitMQTT", "CrowdKitCore", "CrowdKitTesting", "CrowdKitTestServers", log],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "CrowdKitSQLiteTests",
            dependencies: ["CrowdKitCore", "CrowdKitTesting", "CrowdKitSQLite", "CrowdKitTestServers"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitPostgresTests",
            dependencies: ["CrowdKitCore", "CrowdKitTesting", "CrowdKitPostgres", "CrowdKitTestServers", log],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitWebTests",
            dependencies: [
                "CrowdKitCore", "CrowdKitTesting", "CrowdKitSQLite", "CrowdKitWeb", hummingbird,
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExamplesTests",
            dependencies: ["FileNotifier", "CrowdKitCore", "CrowdKitTesting", "CrowdKitTestServers", log],
            swiftSettings: swiftSettings
        ),
        // Fake Webex and Meraki servers (Hummingbird on 127.0.0.1), a capturing log handler and
        // test helpers, shared by the adapter test targets. Not a product.
        .target(
            name: "CrowdKitTestServers",
            dependencies: ["CrowdKitCore", hummingbird, log],
            path: "Tests/CrowdKitTestServers",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitHTTPTests",
            dependencies: ["CrowdKitHTTP", "CrowdKitCore", "CrowdKitTestServers"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitMerakiTests",
            dependencies: ["CrowdKitMeraki", "CrowdKitHTTP", "CrowdKitCore", "CrowdKitTesting", "CrowdKitTestServers"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitWebexTests",
            dependencies: ["CrowdKitWebex", "CrowdKitMeraki", "CrowdKitHTTP", "CrowdKitCore", "CrowdKitTesting", "CrowdKitTestServers", log],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrowdKitAlertmanagerTests",
            dependencies: ["CrowdKitAlertmanager", "CrowdKitHTTP", "CrowdKitCore", "CrowdKitTestServers", log],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "CrowdKitDeliveryTests", dependencies: ["CrowdKitCore", "CrowdKitTestServers"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CrowdNotifierTests",
            dependencies: [
                "crowd-notifier", "CrowdKitCore", "CrowdKitMQTT", "CrowdKitSQLite", "CrowdKitWeb", "CrowdKitWebex", "CrowdKitTesting",
                "CrowdKitTestServers", log, .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
