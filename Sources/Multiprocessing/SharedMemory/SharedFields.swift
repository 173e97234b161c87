/// Named 64-bit atomic fields in shared memory, laid out as the stored properties of
/// `Layout`: a struct of `Int64` fields that is never instantiated, only read for its
/// offsets, so that a line of a control block is `fields[\.startedAt]` rather than `base + 8`.
///
/// Loads and stores are sequentially consistent: a flag such as "the dispatcher sleeps" is
/// read by one process right after it published something the other reads after setting it.
package struct SharedFields<Layout>: @unchecked Sendable {
  // @unchecked: the fields live in shared memory and are used only through atomic operations.
  package let base: UnsafeMutableRawPointer

  /// The fields at `base`, which must be 8-byte aligned and stay mapped.
  package init(_ base: UnsafeMutableRawPointer) { self.base = base }

  /// The bytes one set of fields takes.
  package static var size: Int { MemoryLayout<Layout>.size }

  /// The field's value.
  package subscript(field: KeyPath<Layout, Int64>) -> Int {
    get { Int(Int64(bitPattern: word(field).loadSequentially())) }
    nonmutating set { word(field).storeSequentially(UInt64(bitPattern: Int64(newValue))) }
  }

  /// Adds `delta` to the field and returns the value before.
  package func add(_ field: KeyPath<Layout, Int64>, _ delta: Int) -> Int {
    Int(Int64(bitPattern: word(field).add(UInt64(bitPattern: Int64(delta)))))
  }

  private func word(_ field: KeyPath<Layout, Int64>) -> AtomicCounter {
    // A stored property of a struct always has an offset.
    AtomicCounter(base + MemoryLayout<Layout>.offset(of: field)!)
  }
}
