import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Builds type metadata, a tuple type and a protocol conformance that no process has built
/// before, so that it takes the Swift runtime's locks that guard their shared caches.
///
/// In a freshly forked process this proves those locks free: had another thread of the
/// parent held one at the fork, the probe would wait forever (and the process, which
/// confirms its start only afterwards, would be killed and forked again). A fork template
/// runs it only when its parent had other threads at the fork. Each probe uses a
/// generic type nested after the bits of its own number, a type no earlier probe of this
/// process or of its ancestors (whose counter it inherits) built.
package struct RuntimeProbe: Sendable {
  // An `Atomic`, not swift-atomics' `ManagedAtomic`: that generic class's metadata is built
  // by name at its first use, and checking its requirement (`Value: AtomicValue`) scans every
  // conformance record of the program twice, a tenth of a millisecond of a process's first pool.
  private static let counter = Atomic<Int>(0)

  /// The number that shapes the probe's types.
  let number: Int

  /// A probe whose types differ from those of every earlier one in this process and its
  /// ancestors.
  static func next() -> RuntimeProbe {
    RuntimeProbe(number: counter.wrappingAdd(1, ordering: .relaxed).newValue + 1)
  }

  /// How many probes have run in this process (a forked child starts from its parent's
  /// count): for the tests.
  package static var runs: Int { runCount.load(ordering: .relaxed) }
  private static let runCount = Atomic<Int>(0)

  /// Builds the probe's metadata, tuple and conformance.
  func run() {
    Self.runCount.wrappingAdd(1, ordering: .relaxed)
    // New generic metadata, and a tuple type of a new element (the tuple cache's lock).
    let (value, tuple) = Self.nest(Int.self, bits: number)
    // A conformance lookup for a type the runtime has not seen: the conformance cache's lock.
    guard value is any ProbeMarker else { _exit(70) }
    // The type's name: the runtime's name cache. (Not `String(describing:)`, which would
    // also look for three conformances the tuple has not, each a scan of every conformance
    // record of the program: a tenth of a millisecond in a fork template.)
    _ = _typeName(type(of: tuple), qualified: false)
  }

  private static func nest<T>(_ type: T.Type, bits: Int) -> (value: Any, tuple: Any) {
    guard bits > 1 else { return (One<T>(), (One<T>(), 0)) }
    return bits & 1 == 0 ? nest(Zero<T>.self, bits: bits >> 1) : nest(One<T>.self, bits: bits >> 1)
  }
}

private protocol ProbeMarker {}
private struct Zero<T>: ProbeMarker {}
private struct One<T>: ProbeMarker {}
