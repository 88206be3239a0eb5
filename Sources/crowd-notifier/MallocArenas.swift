import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// glibc gives threads their own malloc arenas (up to 8 per core); a server that allocates on
/// many threads for months keeps each arena's high-water mark, so resident memory creeps up
/// although nothing is kept. `run` and `demo` cap the arenas at 2 unless the environment sets
/// `MALLOC_ARENA_MAX` itself (documented in Operations; the libraries never do this). This is the
/// reference app's own process setting, like a service unit's environment.
enum MallocArenas {
    /// glibc's `M_ARENA_MAX` (a macro Swift does not import).
    private static let arenaMaxParameter: Int32 = -8

    /// Caps the arenas at `count` unless `MALLOC_ARENA_MAX` is set; returns the cap applied.
    @discardableResult
    static func limitForLongRuns(_ count: Int32 = 2) -> Int32? {
        #if canImport(Glibc)
        guard ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil else { return nil }
        // mallopt is declared in <malloc.h>, which the Glibc module does not export
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return nil }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        return mallopt(arenaMaxParameter, count) == 1 ? count : nil
        #else
        return nil
        #endif
    }
}
