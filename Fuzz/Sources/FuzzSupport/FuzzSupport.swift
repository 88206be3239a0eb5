import CFuzzDriver
import Foundation

/// The function the running fuzz target checks each input with.
nonisolated(unsafe) private var target: (UnsafePointer<UInt8>?, Int) -> Int32 = { _, _ in 0 }

/// libFuzzer's own entry (its driver refers to it): the target's function.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 { target(data, size) }

/// Hands `fuzz` to libFuzzer's driver with the command line, and exits with its status. Every
/// target's main.swift ends with it (SwiftPM's entry point stands in for libFuzzer's main).
public func runFuzzer(_ fuzz: @escaping (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    target = fuzz
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in testOneInput(data, size) })
}
