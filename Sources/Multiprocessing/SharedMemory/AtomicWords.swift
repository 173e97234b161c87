import Atomics

#if canImport(Glibc)
  import Glibc
#endif

// Atomic words in shared memory, and the clocks whose readings go there: for the pool, the
// load generator and mpbench (package visibility).

/// An atomic (sequentially consistent) load of the `Int` at `address` in shared memory.
package func atomicLoad(_ address: UnsafeMutableRawPointer) -> Int {
  UnsafeAtomic<Int>(at: address.assumingMemoryBound(to: Int.AtomicRepresentation.self))
    .load(ordering: .sequentiallyConsistent)
}

/// An atomic (sequentially consistent) store of `value` at `address` in shared memory.
package func atomicStore(_ address: UnsafeMutableRawPointer, _ value: Int) {
  UnsafeAtomic<Int>(at: address.assumingMemoryBound(to: Int.AtomicRepresentation.self))
    .store(value, ordering: .sequentiallyConsistent)
}

/// An atomic (sequentially consistent) load of the `UInt32` at `address`.
package func atomicLoad32(_ address: UnsafeMutablePointer<UInt32>) -> UInt32 {
  UnsafeAtomic<UInt32>(at: UnsafeMutableRawPointer(address).assumingMemoryBound(to: UInt32.AtomicRepresentation.self))
    .load(ordering: .sequentiallyConsistent)
}

/// An atomic (sequentially consistent) store of `value` at `address`.
package func atomicStore32(_ address: UnsafeMutablePointer<UInt32>, _ value: UInt32) {
  UnsafeAtomic<UInt32>(at: UnsafeMutableRawPointer(address).assumingMemoryBound(to: UInt32.AtomicRepresentation.self))
    .store(value, ordering: .sequentiallyConsistent)
}

/// Atomic fetch-and-add on a shared `Int`.
package enum UnsafeAtomicAdd {
  /// Adds `delta` to the `Int` at `address` and returns the value before.
  package static func add(_ address: UnsafeMutableRawPointer, _ delta: Int) -> Int {
    UnsafeAtomic<Int>(at: address.assumingMemoryBound(to: Int.AtomicRepresentation.self))
      .loadThenWrappingIncrement(by: delta, ordering: .sequentiallyConsistent)
  }
}

/// Nanoseconds of the monotonic clock, comparable between processes.
package func monotonicNanoseconds() -> Int {
  clockNanoseconds(CLOCK_MONOTONIC)
}

/// The reading of `clock` in nanoseconds.
package func clockNanoseconds(_ clock: clockid_t) -> Int {
  var now = timespec()
  clock_gettime(clock, &now)
  return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

extension Duration {
  /// The duration in whole nanoseconds, to compare with the clock readings above.
  package var nanoseconds: Int {
    Int(components.seconds) * 1_000_000_000 + Int(components.attoseconds / 1_000_000_000)
  }
}
