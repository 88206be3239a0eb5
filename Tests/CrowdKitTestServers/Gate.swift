import Foundation
import Synchronization

/// A gate that tasks wait on until the test opens it.
public final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    public init() {}
    public func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }
    public func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
}

/// Runs a program to its end without blocking a thread of the cooperative pool (tests run in
/// parallel on few threads): writes `input` to its standard input (its standard output goes to
/// `output` when given), returns its exit status.
public func runProgram(_ path: String, _ arguments: [String], input: Data? = nil, output: FileHandle? = nil) async throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    if let output { p.standardOutput = output }
    let pipe = input.map { _ in Pipe() }
    if let pipe { p.standardInput = pipe }
    return try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int32, any Error>) in
        p.terminationHandler = { c.resume(returning: $0.terminationStatus) }
        do {
            try p.run()
        } catch {
            p.terminationHandler = nil
            c.resume(throwing: error)
            return
        }
        if let pipe, let input {
            pipe.fileHandleForWriting.write(input)
            try? pipe.fileHandleForWriting.close()
        }
    }
}

/// Runs a program to its end (as ``runProgram(_:_:input:output:)``) and returns its standard output;
/// throws when it exits with another status than 0.
public func runProgramOutput(_ path: String, _ arguments: [String]) async throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crowdkit-out-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: dir.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = try FileHandle(forWritingTo: dir)
    let status = try await runProgram(path, arguments, output: out)
    try out.close()
    struct Failed: Error, CustomStringConvertible {
        var description: String
    }
    guard status == 0 else { throw Failed(description: "\(path) exited with status \(status)") }
    return String(decoding: try Data(contentsOf: dir), as: UTF8.self)
}
