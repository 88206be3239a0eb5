extension Task where Success == Void, Failure == Never {
    /// Waits for the task to end, for at most `timeout`; returns whether it ended. The task is
    /// not cancelled: a task stuck in a call that ignores cancellation (a hung disk) is left
    /// behind, so that a shutdown never waits for it longer than its limit.
    func finished(within timeout: Duration) async -> Bool {
        let once = LockedBox<CheckedContinuation<Bool, Never>?>(nil)
        func resume(_ value: Bool) {
            once.withLock { c in
                c?.resume(returning: value)
                c = nil
            }
        }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            once.withLock { $0 = continuation }
            let watcher = Task<Void, Never> {
                await self.value
                resume(true)
            }
            Task<Void, Never> {
                try? await Task<Never, Never>.sleep(for: timeout)
                resume(false)
                _ = watcher
            }
        }
    }
}
