extension Range<Int> {
  /// Block `index` of this range cut into `count` contiguous blocks whose lengths differ by at
  /// most one, the longer ones first (OpenMP's `schedule(static)`).
  func block(_ index: Int, of count: Int) -> Range<Int> {
    let base = self.count / count
    let extra = self.count % count
    let start = lowerBound + index * base + Swift.min(index, extra)
    return start..<(start + base + (index < extra ? 1 : 0))
  }
}
