/// A set of CPUs named by their operating-system indices (the numbers `taskset`,
/// `/proc/cpuinfo` and `sched_getcpu()` use).
///
/// Its text form is the kernel's list syntax, `0-3,8,10-11`, both for ``description`` and for
/// ``init(parsing:)``.
public struct CPUSet: Sendable, Hashable, Codable, Sequence, CustomStringConvertible {
  /// The CPU indices, ascending and without duplicates.
  public let indices: [Int]

  /// A set holding the given CPU indices (duplicates are merged).
  public init(_ cpus: some Sequence<Int>) {
    self.init(Array(cpus))
  }

  /// A set holding the given CPU indices (duplicates are merged). Sorted in place rather than
  /// through a `Set`: the generic path's look-ups by name (a sequence's iterator, a set's
  /// storage) each scanned every conformance record of the program in a pool worker's first
  /// decoding of its plan, or in the parent's warm-up of it.
  public init(_ cpus: [Int]) {
    var merged: [Int] = []
    for cpu in cpus.sorted() where cpu != merged.last { merged.append(cpu) }
    indices = merged
  }

  /// Parses the kernel's list syntax: comma-separated indices or inclusive ranges (`0-3,8`).
  ///
  /// - Throws: ``SchedulerError/invalidSyntax(_:expected:)`` for anything else, and
  ///   ``SchedulerError/duplicateCPU(_:)`` when a CPU is named twice.
  public init(parsing list: String) throws {
    let expected = "a CPU list such as '0-3,8' (non-negative indices and ranges)"
    var cpus: [Int] = []
    for part in list.split(separator: ",", omittingEmptySubsequences: false) {
      let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(bounds.count),
        let low = Int(bounds[0]), low >= 0,
        let high = bounds.count == 2 ? Int(bounds[1]) : low, high >= low
      else { throw SchedulerError.invalidSyntax(list, expected: expected) }
      for cpu in low...high {
        if cpus.contains(cpu) { throw SchedulerError.duplicateCPU(cpu) }
        cpus.append(cpu)
      }
    }
    self.init(cpus)
  }

  /// The number of CPUs in the set.
  public var count: Int { indices.count }
  /// Whether the set holds no CPU.
  public var isEmpty: Bool { indices.isEmpty }
  /// The lowest CPU index, if any.
  public var first: Int? { indices.first }

  /// Whether `cpu` is in the set.
  public func contains(_ cpu: Int) -> Bool { indices.contains(cpu) }
  /// Whether every CPU of this set is in `other`.
  public func isSubset(of other: CPUSet) -> Bool { indices.allSatisfy(other.contains) }
  /// The CPUs in both sets.
  public func intersection(_ other: CPUSet) -> CPUSet { CPUSet(indices.filter(other.contains)) }

  /// Iterates over the CPU indices in ascending order.
  public func makeIterator() -> IndexingIterator<[Int]> { indices.makeIterator() }

  /// The kernel's list syntax, such as `0-3,8`.
  public var description: String {
    var parts: [String] = []
    var index = 0
    while index < indices.count {
      var end = index
      while end + 1 < indices.count, indices[end + 1] == indices[end] + 1 { end += 1 }
      parts.append(end == index ? "\(indices[index])" : "\(indices[index])-\(indices[end])")
      index = end + 1
    }
    return parts.joined(separator: ",")
  }

  /// Decodes the set from an array of CPU indices.
  public init(from decoder: any Decoder) throws {
    self.init(try [Int](from: decoder))
  }

  /// Encodes the set as an array of CPU indices.
  public func encode(to encoder: any Encoder) throws {
    try indices.encode(to: encoder)
  }
}
