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
  Benchmark(name, configuration: configuration) { benchmark in
    _ = try BenchmarkSlowdown.stretched { try body(benchmark) }
  }
}

/// The factor `BENCHMARK_SLOWDOWN` sets (1 without it), by which the benchmarks stretch what
/// they time.
public enum BenchmarkSlowdown {
  /// The factor.
  public static let factor = ProcessInfo.processInfo.environment["BENCHMARK_SLOWDOWN"].flatMap(Double.init) ?? 1

  /// Runs `body`, then spins for (``factor`` − 1) × its time, and returns the whole time. A
  /// ratio's benchmark stretches its numerator, the library's part, with it: stretching its
  /// whole body would leave the ratio as it was.
  public static func stretched(_ body: () throws -> Void) rethrows -> Duration {
    let started = ContinuousClock.now
    try body()
    if factor > 1 {
      let until = ContinuousClock.now + (ContinuousClock.now - started) * (factor - 1)
      while ContinuousClock.now < until {}
    }
    return ContinuousClock.now - started
  }
}
