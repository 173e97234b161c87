import Atomics

/// A 64-bit position or counter in shared memory, used with atomic operations.
@usableFromInline
struct AtomicCounter {
  @usableFromInline let address: UnsafeMutableRawPointer

  /// The counter at `pointer`, which must be 8-byte aligned and stay mapped.
  @inlinable
  init(_ pointer: UnsafeMutableRawPointer) {
    address = pointer
  }

  @inlinable
  var atomic: UnsafeAtomic<UInt64> {
    UnsafeAtomic(at: address.assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
  }

  @inlinable
  func load() -> UInt64 { atomic.load(ordering: .acquiring) }
  @inlinable
  func loadRelaxed() -> UInt64 { atomic.load(ordering: .relaxed) }
  @inlinable
  func loadSequentially() -> UInt64 { atomic.load(ordering: .sequentiallyConsistent) }
  @inlinable
  func store(_ value: UInt64) { atomic.store(value, ordering: .releasing) }
  @inlinable
  func storeSequentially(_ value: UInt64) { atomic.store(value, ordering: .sequentiallyConsistent) }

  @inlinable
  func compareExchange(_ expected: UInt64, _ desired: UInt64) -> (exchanged: Bool, original: UInt64) {
    atomic.weakCompareExchange(
      expected: expected, desired: desired, successOrdering: .acquiringAndReleasing, failureOrdering: .relaxed)
  }

  @inlinable @discardableResult
  func add(_ value: UInt64) -> UInt64 {
    atomic.loadThenWrappingIncrement(by: value, ordering: .acquiringAndReleasing)
  }
}
