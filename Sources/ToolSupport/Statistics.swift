/// Order statistics of a set of timings.
package struct Statistics: Encodable {
  /// How many samples there were.
  package let count: Int
  /// The smallest sample.
  package let min: Double
  /// The median.
  package let median: Double
  /// The 90th percentile.
  package let p90: Double
  /// The largest sample.
  package let max: Double

  /// The statistics of `samples` (at least one).
  package init(_ samples: [Double]) {
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
  package var microseconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) * 1e6 + Double(attoseconds) / 1e12
  }
}
