/// Order statistics of a set of timings.
struct Statistics: Encodable {
  /// How many samples there were.
  let count: Int
  /// The smallest sample.
  let min: Double
  /// The median.
  let median: Double
  /// The 90th percentile.
  let p90: Double
  /// The largest sample.
  let max: Double

  /// The statistics of `samples` (at least one).
  init(_ samples: [Double]) {
    precondition(!samples.isEmpty, "no samples")
    let sorted = samples.sorted()
    count = sorted.count
    min = sorted[0]
    max = sorted[sorted.count - 1]
    median =
      sorted.count % 2 == 1
      ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    p90 = sorted[Swift.min(sorted.count - 1, Int((Double(sorted.count) * 0.9).rounded(.down)))]
  }
}

extension Duration {
  /// The duration in (fractional) microseconds.
  var microseconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) * 1e6 + Double(attoseconds) / 1e12
  }
}
