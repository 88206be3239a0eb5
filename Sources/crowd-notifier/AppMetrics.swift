import CoreMetrics
import Prometheus

/// The process's swift-metrics backend: a Prometheus registry, bootstrapped once, served at
/// `/metrics`.
final class AppMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    private init() {
        registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    /// Bootstraps swift-metrics on first use (once per process).
    static let shared: AppMetrics? = AppMetrics()

    /// The Prometheus text exposition.
    func text() -> String { registry.emitToString() }
}
