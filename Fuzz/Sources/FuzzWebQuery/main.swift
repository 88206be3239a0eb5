import Foundation
// Fuzzes the page's query and filter parsing (`/`, `/api/events`, `/api/events.csv`): any
// query string is either a filter or a clear error, never a crash.
import FuzzSupport
@testable import CrowdKitWeb

func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let query = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let filter = try? EventFilter(query: query, defaultLimit: 50) {
        _ = filter.eventQuery
        _ = filter.queryString()
        _ = filter.isFiltered
    }
    return 0
}

runFuzzer(fuzz)
