import ArgumentParser
import CrowdKitCore
import Logging

@main
struct CrowdNotifier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crowd-notifier",
        abstract: "Detects crowds in Meraki MV Sense people counts and tells someone.",
        discussion: """
            Start with `crowd-notifier demo` (no camera, broker or credentials needed).
            `crowd-notifier replay CAPTURE` runs detection over a recorded feed; `backtest CAPTURE --sweep \
            min-people=3,4,5` compares settings over it.
            """,
        version: "0.1.0",
        subcommands: [
            DemoCommand.self, RunCommand.self, ReplayCommand.self, BacktestCommand.self, RecordCommand.self, SimulateCommand.self, CheckCommand.self,
            ConfigReferenceCommand.self, SettingsCommand.self, WebexCommand.self,
        ],
        defaultSubcommand: nil
    )
}

/// Common logging options.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "Log level: trace, debug, info, notice, warning, error, critical (log.level; default info).")
    var logLevelFlag: String?

    func validate() throws {
        if let l = logLevelFlag, Logger.Level(rawValue: l.lowercased()) == nil {
            throw ValidationError(
                "--log-level must be one of trace, debug, info, notice, warning, error, critical (got \"\(l)\")")
        }
    }

    /// Bootstraps swift-log once for the process (stderr) and returns a logger at `level` (the
    /// flag wins over the configured level).
    func makeLogger(label: String = "crowd-notifier", level configured: Logger.Level? = nil) -> Logger {
        let level = logLevelFlag.flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? configured ?? .info
        LoggingBootstrap.once(level: level)
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

enum LoggingBootstrap {
    private static let done = LockedBox(false)
    static func once(level: Logger.Level) {
        let first = done.withLock { d -> Bool in
            defer { d = true }
            return !d
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
    }
}
