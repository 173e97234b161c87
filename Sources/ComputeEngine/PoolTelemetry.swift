import CoreMetrics
import Logging
import Multiprocessing

/// Where a ``ProcessPool`` reports what happens to it: a `Logger` for worker deaths,
/// replacements and timeouts, and swift-metrics for counters a service can scrape.
///
/// Both are silent unless asked: the logger defaults to `multiprocessingLogger` (a no-op until
/// the program sets one), the metrics to `MetricsSystem`'s factory (a no-op until the program
/// bootstraps one).
///
/// ```swift
/// var logger = Logger(label: "solver")
/// logger.logLevel = .notice
/// let pool = try ProcessPool<Int, Int>(telemetry: PoolTelemetry(label: "solver", logger: logger)) { $0 * 2 }
/// ```
///
/// The metrics, each with the dimension `pool` set to ``label``:
///
/// | Label | Kind | Counts |
/// |---|---|---|
/// | `multiprocessing_pool_tasks_succeeded` | counter | tasks that returned an output |
/// | `multiprocessing_pool_tasks_failed` | counter | tasks that failed (any ``PoolError``) |
/// | `multiprocessing_pool_tasks_timed_out` | counter | tasks killed for the task timeout |
/// | `multiprocessing_pool_workers_died` | counter | workers that ended unexpectedly |
/// | `multiprocessing_pool_workers_replaced` | counter | workers started in a dead one's slot |
/// | `multiprocessing_pool_tasks_outstanding` | meter | tasks submitted and not yet finished |
/// | `multiprocessing_pool_job_duration` | timer | each `map`/`submit` call, submission to last result |
///
/// Tasks are counted when their call finishes (once per call, not per task, so that
/// counting costs nothing on the per-task path).
public struct PoolTelemetry: Sendable {
  /// Names the pool in log metadata and metric dimensions.
  public var label: String
  /// Where the pool logs; `multiprocessingLogger` when nil.
  public var logger: Logger?
  /// Makes the pool's metrics; `MetricsSystem.factory` when nil.
  public var metricsFactory: (any MetricsFactory)?

  /// Telemetry under `label`, to `logger` and `metricsFactory` (the library's defaults when nil).
  public init(label: String = "pool", logger: Logger? = nil, metricsFactory: (any MetricsFactory)? = nil) {
    self.label = label
    self.logger = logger
    self.metricsFactory = metricsFactory
  }

  /// The logger the pool uses: the given one or the library's, with the pool's label.
  var resolvedLogger: Logger {
    var logger = logger ?? multiprocessingLogger
    logger[metadataKey: "pool"] = "\(label)"
    return logger
  }
}

/// The metrics of one pool (see ``PoolTelemetry``).
struct PoolMetrics {
  let tasksSucceeded: Counter
  let tasksFailed: Counter
  let tasksTimedOut: Counter
  let workersDied: Counter
  let workersReplaced: Counter
  let tasksOutstanding: Meter
  let jobDuration: CoreMetrics.Timer

  init(_ telemetry: PoolTelemetry) {
    let factory = telemetry.metricsFactory ?? MetricsSystem.factory
    let dimensions = [("pool", telemetry.label)]
    func counter(_ name: String) -> Counter {
      Counter(label: "multiprocessing_pool_\(name)", dimensions: dimensions, factory: factory)
    }
    tasksSucceeded = counter("tasks_succeeded")
    tasksFailed = counter("tasks_failed")
    tasksTimedOut = counter("tasks_timed_out")
    workersDied = counter("workers_died")
    workersReplaced = counter("workers_replaced")
    tasksOutstanding = Meter(
      label: "multiprocessing_pool_tasks_outstanding", dimensions: dimensions, factory: factory)
    jobDuration = CoreMetrics.Timer(
      label: "multiprocessing_pool_job_duration", dimensions: dimensions, factory: factory)
  }
}
