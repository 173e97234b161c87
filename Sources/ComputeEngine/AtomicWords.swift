import Atomics

/// An atomic (sequentially consistent) load of the `Int` at `address` in shared memory.
func atomicLoad(_ address: UnsafeMutableRawPointer) -> Int {
  UnsafeAtomic<Int>(at: address.assumingMemoryBound(to: Int.AtomicRepresentation.self))
    .load(ordering: .sequentiallyConsistent)
}

/// An atomic (sequentially consistent) store of `value` at `address` in shared memory.
func atomicStore(_ address: UnsafeMutableRawPointer, _ value: Int) {
  UnsafeAtomic<Int>(at: address.assumingMemoryBound(to: Int.AtomicRepresentation.self))
    .store(value, ordering: .sequentiallyConsistent)
}

/// An atomic (sequentially consistent) load of the `UInt32` at `address`.
func atomicLoad32(_ address: UnsafeMutablePointer<UInt32>) -> UInt32 {
  UnsafeAtomic<UInt32>(at: UnsafeMutableRawPointer(address).assumingMemoryBound(to: UInt32.AtomicRepresentation.self))
    .load(ordering: .sequentiallyConsistent)
}

/// An atomic (sequentially consistent) store of `value` at `address`.
func atomicStore32(_ address: UnsafeMutablePointer<UInt32>, _ value: UInt32) {
  UnsafeAtomic<UInt32>(at: UnsafeMutableRawPointer(address).assumingMemoryBound(to: UInt32.AtomicRepresentation.self))
    .store(value, ordering: .sequentiallyConsistent)
}

/// Atomic fetch-and-add on a shared `Int`.
enum UnsafeAtomicAdd {
  /// Adds `delta` to the `Int` at `address` and returns the value before.
  static func add(_ address: UnsafeMutableRawPointer, _ delta: Int) -> Int {
    UnsafeAtomic<Int>(at: address.assumingMemoryBound(to: Int.AtomicRepresentation.self))
      .loadThenWrappingIncrement(by: delta, ordering: .sequentiallyConsistent)
  }
}
