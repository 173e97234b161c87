import Benchmark

/// A figure set against an anchor measured beside it: the median of one set of samples over
/// the median of another taken in the same iteration, in percent (`200` is 2×). Issue 29's
/// ratio targets (fork ≤ 2 × the C floor, `RLock` within 1.3 × `Lock`) are such figures, and
/// a ratio moves less with the host than either of its parts.
public enum BenchmarkRatio {
  /// Registers benchmark `name`, whose iterations each run `turns` turns of `turn` (the
  /// numerator's samples and the anchor's, taken in turns so that both see the same moments
  /// of the host) and record, as the custom metric `metric`, the numerator's median over the
  /// anchor's in percent, with the standard tolerance on its p90 (``BenchmarkTolerance``).
  public static func register(
    _ name: String, metric: String, turns: Int,
    _ turn: @escaping @Sendable () throws -> (numerator: [Duration], anchor: [Duration])
  ) {
    let metric = BenchmarkMetric.custom(metric, polarity: .prefersSmaller, useScalingFactor: false)
    Benchmark(
      name,
      configuration: .init(
        metrics: [metric], maxDuration: .seconds(10), maxIterations: 30,
        thresholds: [metric: .init(relative: [.p90: BenchmarkTolerance.standard])])
    ) { benchmark in
      var (numerator, anchor): ([Duration], [Duration]) = ([], [])
      for _ in 0..<turns {
        let samples = try turn()
        numerator += samples.numerator
        anchor += samples.anchor
      }
      benchmark.measurement(metric, percent(numerator, over: anchor))
    }
  }

  /// The median of `numerator` over the median of `denominator`, in percent.
  static func percent(_ numerator: [Duration], over denominator: [Duration]) -> Int {
    Int((100 * (median(numerator) / median(denominator))).rounded())
  }

  private static func median(_ samples: [Duration]) -> Duration {
    precondition(!samples.isEmpty, "a ratio of no samples")
    return samples.sorted()[samples.count / 2]
  }
}
