import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `crowd-notifier run --nice N`: lowers the CPU priority of the whole notifier.
///
/// The notifier usually shares the machine with its MQTT broker, and the broker is the part that
/// must never wait: when it falls behind, every subscriber does. With a lower priority the
/// notifier works with the CPU the broker and the cameras' publishers leave, so a burst of alerts
/// (HTTP requests, database writes) no longer slows the feed down; on a machine with spare CPU
/// nothing changes.
///
/// Linux schedules each session (a service, a process the benchmark harness starts, a terminal)
/// as one group ("autogroup"), and a thread's nice value only counts within its group; libdispatch
/// moreover sets its worker threads' nice values itself. So what lowers the notifier against the
/// broker is the nice value of its session's group, which is set when the process leads its own
/// session (`setsid`, a service manager). The threads' own values are set too, which matters where
/// autogroups are off. The group of a terminal session is left alone: the shell and everything
/// else in it share that group.
enum ProcessPriority {
    struct Outcome: Equatable, Sendable {
        var threads: Int
        /// The session's scheduling group got the value too.
        var sessionGroup: Bool
        /// The kernel schedules sessions as groups, so without `sessionGroup` the value hardly
        /// changes anything against other processes.
        var autogroups: Bool
    }

    /// Sets nice `value` (0...19) for every thread and, when this process leads its session, for
    /// the session's scheduling group. Throws when no thread could be changed.
    @discardableResult
    static func lower(to value: Int32) throws -> Outcome {
        #if os(Linux)
        // A thread started while the list is walked may inherit the old value: walk again until a
        // walk finds every thread done.
        var done = Set<id_t>()
        var firstError: Int32 = 0
        for _ in 0..<10 {
            let tids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? ["\(getpid())"])
                .compactMap { id_t($0) }
            var new = 0
            for tid in tids where !done.contains(tid) || getThreadNice(tid) != value {
                if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, value) == 0 {
                    done.insert(tid)
                    new += 1
                } else if firstError == 0 {
                    firstError = errno
                }
            }
            if new == 0 { break }
        }
        let changed = done.count
        guard changed > 0 else {
            throw ProcessPriorityError(message: "cannot set nice \(value): \(String(cString: strerror(firstError)))")
        }
        var group = false
        if getsid(0) == getpid(), let handle = FileHandle(forWritingAtPath: "/proc/self/autogroup") {
            do {
                try handle.write(contentsOf: Data("\(value)\n".utf8))
                group = true
            } catch {}
            try? handle.close()
        }
        let autogroups = (try? String(contentsOfFile: "/proc/sys/kernel/sched_autogroup_enabled", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) == "1"
        return Outcome(threads: changed, sessionGroup: group, autogroups: autogroups)
        #else
        guard setpriority(PRIO_PROCESS, 0, value) == 0 else {
            throw ProcessPriorityError(message: "cannot set nice \(value): \(String(cString: strerror(errno)))")
        }
        return Outcome(threads: 1, sessionGroup: false, autogroups: false)
        #endif
    }
}

#if os(Linux)
private func getThreadNice(_ tid: id_t) -> Int32 {
    errno = 0
    let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid)
    return errno == 0 ? value : Int32.min
}
#endif

struct ProcessPriorityError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
