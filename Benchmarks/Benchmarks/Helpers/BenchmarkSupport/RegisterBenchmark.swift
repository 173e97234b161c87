import Benchmark
import Foundation

/// The tolerance every benchmark checks against: `benchmark thresholds check` compares each
/// run's p90 with the p90 stored in `Thresholds/`, so the tolerance is set on p90 (one set on
/// another percentile is never read, and the check passes whatever the figure).
public var p90Tolerance: [BenchmarkMetric: BenchmarkThresholds] {
  [.wallClock: .init(relative: [.p90: BenchmarkTolerance.percent])]
}

/// How far a p90 may move from its stored threshold before the check fails.
public enum BenchmarkTolerance {
  /// Percent either way. A 1.5× slowdown (`BENCHMARK_SLOWDOWN=1.5`) must fail every
  /// benchmark; the noise of a shared 2-vCPU host must not.
  public static let percent = 25.0
}

/// Registers a benchmark whose body is stretched by `BENCHMARK_SLOWDOWN` (a factor such as
/// 1.5, read from the environment): the body runs, then spins for (factor − 1) × its own
/// time, inside the measurement. With it one sees the threshold check fail on a slower build.
public func registerBenchmark(
  _ name: String, configuration: Benchmark.Configuration, _ body: @escaping @Sendable (Benchmark) throws -> Void
) {
  let factor = ProcessInfo.processInfo.environment["BENCHMARK_SLOWDOWN"].flatMap(Double.init) ?? 1
  Benchmark(name, configuration: configuration) { benchmark in
    let started = ContinuousClock.now
    try body(benchmark)
    guard factor > 1 else { return }
    let extra = (ContinuousClock.now - started) * (factor - 1)
    let until = ContinuousClock.now + extra
    while ContinuousClock.now < until {}
  }
}
