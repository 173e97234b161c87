import SystemCalls

/// A view of elements in shared memory that a kernel may capture and send: the fast way to
/// sweep a ``SharedArray`` or a band of a ``SharedMatrix`` from many processes.
///
/// A view takes no lock: processes that write the same elements at once must synchronise
/// themselves (a ``Barrier`` between steps, disjoint bands per process). It keeps its shared
/// block mapped for as long as it lives. Subscripts check their index, as Swift arrays do;
/// ``withUnsafeBufferPointer(_:)`` and ``withUnsafeMutableBufferPointer(_:)`` hand out the
/// raw buffer for loops that want no check at all.
///
/// ```swift
/// let grid = try SharedArray(repeating: 0.0, count: 1 << 20)
/// let cells = grid.buffer                      // Sendable: capture it in a pool's kernel
/// let pool = try ProcessPool<Int, Int> { band in
///   for i in band * 1024..<(band + 1) * 1024 { cells[i] = Double(i) }
///   return band
/// }
/// ```
public struct SharedBuffer<Element: BitwiseCopyable>: RandomAccessCollection, MutableCollection,
  @unchecked Sendable
{
  // @unchecked: the elements live in shared memory that `owner` keeps mapped; reads and
  // writes are the caller's to synchronise, as the type's documentation says.

  /// What keeps the memory mapped.
  @usableFromInline let owner: AnyObject
  /// The first element in this process.
  @usableFromInline let base: UnsafeMutablePointer<Element>
  /// The number of elements.
  public let count: Int

  @usableFromInline
  init(owner: AnyObject, base: UnsafeMutablePointer<Element>, count: Int) {
    self.owner = owner
    self.base = base
    self.count = count
  }

  /// The first index, 0.
  @inlinable public var startIndex: Int { 0 }
  /// One past the last index, ``count``.
  @inlinable public var endIndex: Int { count }

  /// The element at `index` (which must be in `0..<count`), read or written without a lock.
  @inlinable
  public subscript(index: Int) -> Element {
    get {
      precondition(index >= 0 && index < count, "SharedBuffer index \(index) out of range 0..<\(count)")
      return base[index]
    }
    nonmutating set {
      precondition(index >= 0 && index < count, "SharedBuffer index \(index) out of range 0..<\(count)")
      base[index] = newValue
    }
  }

  /// The elements in `range`, as a view of their own indexed from 0.
  @inlinable
  public subscript(elements range: Range<Int>) -> SharedBuffer {
    precondition(range.lowerBound >= 0 && range.upperBound <= count, "SharedBuffer range \(range) out of 0..<\(count)")
    return SharedBuffer(owner: owner, base: base + range.lowerBound, count: range.count)
  }

  /// Calls `body` with the elements, read-only.
  @inlinable
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(start: base, count: count))
  }

  /// Calls `body` with the elements, to read and write.
  @inlinable
  public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Element>) throws -> R) rethrows
    -> R
  {
    try body(UnsafeMutableBufferPointer(start: base, count: count))
  }

  /// Calls `body` with the elements, read-only: what lets `Array(buffer)` and ``assign(from:)``
  /// copy them in one step.
  @inlinable
  public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R? {
    try body(UnsafeBufferPointer(start: base, count: count))
  }

  /// Calls `body` with the elements, to read and write: what lets in-place algorithms
  /// (`sort()`, `reverse()`) run on the memory directly.
  @inlinable
  public mutating func withContiguousMutableStorageIfAvailable<R>(
    _ body: (inout UnsafeMutableBufferPointer<Element>) throws -> R
  ) rethrows -> R? {
    var buffer = UnsafeMutableBufferPointer(start: base, count: count)
    return try body(&buffer)
  }

  /// Maps the view's pages into this process now, in one system call, instead of taking a
  /// page fault on each first touch: what a member or worker that is about to sweep its band
  /// calls first (a forked process maps a shared block's pages afresh, about 0.5 µs each).
  ///
  /// - Throws: ``SharedMemoryError/system(call:errno:)`` when the kernel refuses (out of
  ///   memory); a kernel without the advice (before Linux 5.14) does nothing.
  public func prefault() throws(SharedMemoryError) {
    do {
      try SystemCall.populate(UnsafeMutableRawPointer(base), byteCount: count * MemoryLayout<Element>.stride)
    } catch {
      throw .system(call: "madvise(MADV_POPULATE_WRITE)", errno: error)
    }
  }

  /// Copies `source` into the view's first elements in one step.
  ///
  /// - Precondition: `source` is no longer than the view.
  @inlinable
  public func assign(from source: some Collection<Element>) {
    precondition(source.count <= count, "\(source.count) elements do not fit in a SharedBuffer of \(count)")
    let copied: Bool? = source.withContiguousStorageIfAvailable { elements in
      if let start = elements.baseAddress { base.update(from: start, count: elements.count) }
      return true
    }
    guard copied == nil else { return }
    for (offset, element) in source.enumerated() { base[offset] = element }
  }
}
