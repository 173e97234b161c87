import Kernels

/// The work a load generator's workers do while busy: small quanta of one of the kernels,
/// so that a worker can stop within a few tens of microseconds of its budget.
public enum LoadMethod: String, CaseIterable, Sendable, Codable {
  /// The reference Monte Carlo kernel: integer arithmetic in registers (about 12 µs a quantum).
  case monteCarlo = "monte-carlo"
  /// The triad over arrays that fit in the L2 cache: loads, stores and floating point.
  case triad
  /// Building, sorting and counting strings: the allocator and reference counting.
  case allocation

  /// One quantum of work, number `k`; the result keeps the optimiser from dropping it.
  public func quantum(_ k: Int) -> UInt64 {
    switch self {
    case .monteCarlo: MonteCarloPi.unit(UInt64(k), samples: 4096)
    case .triad: Triad.unit(k, elements: 8192)
    case .allocation: AllocationHeavy.unit(k, words: 100)
    }
  }

  /// Parses a method's name.
  ///
  /// - Throws: ``LoadError/unknownMethod(_:)``.
  public init(parsing text: String) throws(LoadError) {
    guard let method = LoadMethod(rawValue: text) else { throw .unknownMethod(text) }
    self = method
  }
}
