import Benchmark

/// A figure set against an anchor measured beside it: the median of one set of samples over
/// the median of another taken in the same iteration, in percent (`200` is 2×). Issue 29's
/// ratio targets (fork ≤ 2 × the C floor, `RLock` within 1.3 × `Lock`) are such figures, and
/// a ratio moves less with the host than either of its parts.
public enum BenchmarkRatio {
  /// The custom metric `name`: a ratio in percent, smaller is better, never scaled.
  public static func metric(_ name: String) -> BenchmarkMetric {
    .custom(name, polarity: .prefersSmaller, useScalingFactor: false)
  }

  /// Thresholds on `metric`'s p90, ±`percent` (the check reads p90 only: see
  /// ``BenchmarkTolerance``).
  public static func p90(_ metric: BenchmarkMetric, _ percent: Double = BenchmarkTolerance.standard)
    -> [BenchmarkMetric:
    BenchmarkThresholds]
  {
    [metric: .init(relative: [.p90: percent])]
  }

  /// The median of `numerator` over the median of `denominator`, in percent.
  public static func percent(_ numerator: [Duration], over denominator: [Duration]) -> Int {
    Int((100 * (median(numerator) / median(denominator))).rounded())
  }

  private static func median(_ samples: [Duration]) -> Duration {
    precondition(!samples.isEmpty, "a ratio of no samples")
    return samples.sorted()[samples.count / 2]
  }
}
