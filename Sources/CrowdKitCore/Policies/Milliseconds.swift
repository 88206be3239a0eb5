extension Duration {
    /// Whole milliseconds (rounded toward zero), as all detection comparisons use.
    @inlinable
    public var milliseconds: Int64 {
        let c = components
        return c.seconds &* 1000 &+ c.attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a `Double`, for display and parameter records.
    @inlinable
    public var secondsValue: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
