/// One named 64-bit field of a control line in shared memory, read and written sequentially
/// consistently: a flag such as "the dispatcher sleeps" is read by one process right after it
/// published something that the other reads after setting the flag.
///
/// A line names its fields with an `enum Field: Int` of byte offsets rather than key paths or
/// generics: forked workers use these fields, and a key path or a generic type that a child
/// meets first makes the Swift runtime build its metadata, under a lock that another thread
/// of the parent may have held at the fork.
package struct SharedWord {
  let counter: AtomicCounter

  /// The word at `address`, which must be 8-byte aligned and stay mapped.
  package init(_ address: UnsafeMutableRawPointer) { counter = AtomicCounter(address) }

  /// The word's value.
  package var value: Int {
    get { Int(Int64(bitPattern: counter.loadSequentially())) }
    nonmutating set { counter.storeSequentially(UInt64(bitPattern: Int64(newValue))) }
  }

  /// Stores `value` with release ordering only: for a word that readers need not see at
  /// once, written on a hot path (a full fence per store costs a worker per task).
  package func storeReleasing(_ value: Int) {
    counter.store(UInt64(bitPattern: Int64(value)))
  }

  /// Sets the word to `desired` if it holds `expected`; returns whether it did.
  /// (A strong exchange: the weak one underneath may fail spuriously, and is retried while
  /// the word still holds `expected`.)
  package func compareExchange(expected: Int, desired: Int) -> Bool {
    let (old, new) = (UInt64(bitPattern: Int64(expected)), UInt64(bitPattern: Int64(desired)))
    while true {
      let attempt = counter.compareExchange(old, new)
      if attempt.exchanged { return true }
      if attempt.original != old { return false }
    }
  }

  /// Adds `delta` and returns the value before.
  package func add(_ delta: Int) -> Int {
    Int(Int64(bitPattern: counter.add(UInt64(bitPattern: Int64(delta)))))
  }
}
