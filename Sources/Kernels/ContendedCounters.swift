import Atomics

#if canImport(Glibc)
  import Glibc
#endif

/// A contended-memory kernel: every unit adds to one of a few shared counters with atomic
/// increments. Packed, the counters share one cache line, which then moves between the
/// workers on every increment (false sharing); padded, each has a line of its own.
///
/// The counters live in an anonymous shared mapping made before any worker starts, so
/// threads and forked worker processes add to the same memory.
public final class ContendedCounters: @unchecked Sendable {
  // @unchecked: the counters are only touched through atomic operations.

  /// How many counters there are.
  public static let count = 8
  /// Bytes between neighbouring counters: 8 packed into one line, 128 padded (two lines,
  /// against adjacent-line prefetching).
  public let spacing: Int
  private let base: UnsafeMutableRawPointer
  private let size: Int

  /// Counters `packed` into one cache line, or each on its own.
  public init(packed: Bool) {
    spacing = packed ? 8 : 128
    size = max(4096, Self.count * spacing)
    let mapping = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
    guard let mapping, mapping != MAP_FAILED else { fatalError("mmap of \(size) bytes failed: errno \(errno)") }
    base = mapping
  }

  deinit {
    munmap(base, size)
  }

  private func counter(_ index: Int) -> UnsafeAtomic<UInt64> {
    UnsafeAtomic(at: (base + index * spacing).assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
  }

  /// Sets every counter to zero.
  public func reset() {
    for index in 0..<Self.count { counter(index).store(0, ordering: .relaxed) }
  }

  /// Unit `k`: `increments` atomic increments of counter `k mod count`; returns `increments`.
  public func unit(_ k: Int, increments: Int) -> UInt64 {
    let target = counter(k % Self.count)
    for _ in 0..<increments { target.wrappingIncrement(ordering: .relaxed) }
    return UInt64(increments)
  }

  /// The sum of the counters: units × increments after a complete run.
  public var total: UInt64 {
    (0..<Self.count).reduce(0) { $0 &+ counter($1).load(ordering: .relaxed) }
  }
}
