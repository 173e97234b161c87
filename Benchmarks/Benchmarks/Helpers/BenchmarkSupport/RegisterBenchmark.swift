import Benchmark
import Foundation

/// How far a benchmark's p90 may move from the p90 stored in `Thresholds/` before
/// `benchmark thresholds check` fails (exit 2 when slower, 4 when only faster).
///
/// The check compares p90, so the tolerance is set on p90 (one set on another percentile is
/// never read, and the check passes whatever the figure). The stored thresholds are the
/// middle of five quiet runs on the project's 2-vCPU host; a benchmark whose p90 moved more
/// than ±15 % between those runs gets that spread plus 10 points, rounded up to 5.
public enum BenchmarkTolerance {
  /// The tolerance of a steady benchmark: a 25 % regression fails.
  public static let standard = 25.0

  /// Thresholds on the wall clock's p90, ±`percent`.
  public static func p90(_ percent: Double = standard) -> [BenchmarkMetric: BenchmarkThresholds] {
    [.wallClock: .init(relative: [.p90: percent])]
  }
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
