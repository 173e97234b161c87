/// A fixed-size array in shared memory: Python's `multiprocessing.Array`.
///
/// Each subscript read and write takes the array's lock, if it has one (a new ``RLock`` by
/// default, as in Python); ``withLock(_:)`` holds it across a whole batch of accesses, and
/// ``withUnsafeMutableBufferPointer(_:)`` gives the raw buffer without it. Indices outside
/// `0..<count` trap, as with Swift arrays.
///
/// `T` must be `BitwiseCopyable` (see ``SharedValue``).
public final class SharedArray<T: BitwiseCopyable>: RandomAccessCollection, MutableCollection, @unchecked Sendable {
  // @unchecked: the elements live in shared memory; access goes through the lock or is the
  // caller's to synchronise (the unsafe buffer).

  /// What another process needs to reopen an array: its block, count and lock.
  public struct Handle: Codable, Sendable, Hashable {
    let elements: SharedHandle
    let count: Int
    let lock: SharedHandle?
  }

  let slot: SharedSlot
  let lock: (any ProcessLock)?
  /// The number of elements.
  public let count: Int
  var base: UnsafeMutablePointer<T> { slot.pointer.assumingMemoryBound(to: T.self) }

  static var kind: String { SharedKinds.shared.name(of: Self.self) { "SharedArray<\(T.self)>" } }
  static var offset: Int { Swift.max(64, MemoryLayout<T>.alignment) }

  /// An array of `count` copies of `element`, guarded by a new ``RLock`` or by none.
  ///
  /// - Throws: ``SynchronizationError/invalidArgument(_:)`` for a negative count.
  public convenience init(repeating element: T, count: Int, lock: Bool = true) throws {
    try self.init(repeating: element, count: count, lock: lock ? try RLock() : nil)
  }

  /// An array of `count` copies of `element`, guarded by `lock` (nil: none).
  public init(repeating element: T, count: Int, lock: (any ProcessLock)?) throws {
    guard count >= 0 else {
      throw SynchronizationError.invalidArgument("a shared array's count must be 0 or more, not \(count)")
    }
    let memory = try SharedMemory(size: Self.offset + Swift.max(1, count) * MemoryLayout<T>.stride)
    slot = SharedSlot(memory: memory, offset: Self.offset)
    self.lock = lock
    self.count = count
    base.initialize(repeating: element, count: count)
  }

  /// An array holding `elements`, guarded by a new ``RLock`` or by none.
  public convenience init(_ elements: some Collection<T>, lock: Bool = true) throws {
    try self.init(elements, lock: lock ? try RLock() : nil)
  }

  /// An array holding `elements`, guarded by `lock` (nil: none).
  public convenience init(_ elements: some Collection<T>, lock: (any ProcessLock)?) throws {
    guard let first = elements.first else {
      let memory = try SharedMemory(size: Self.offset + MemoryLayout<T>.stride)
      self.init(slot: SharedSlot(memory: memory, offset: Self.offset), count: 0, lock: lock)
      return
    }
    try self.init(repeating: first, count: elements.count, lock: lock)
    for (index, element) in elements.enumerated() { base[index] = element }
  }

  private init(slot: SharedSlot, count: Int, lock: (any ProcessLock)?) {
    self.slot = slot
    self.count = count
    self.lock = lock
  }

  /// Reopens an array from its ``handle`` (in a spawned or fork-server child).
  public convenience init(_ handle: Handle) throws {
    let slot = try SharedSlot(handle.elements, kind: Self.kind, size: handle.count * MemoryLayout<T>.stride)
    self.init(slot: slot, count: handle.count, lock: try handle.lock.map(reopenLock))
  }

  /// What another process needs to reopen the array.
  public var handle: Handle {
    Handle(elements: slot.handle(kind: Self.kind), count: count, lock: lock?.handle)
  }

  /// The lock that guards the array, if any (Python's `get_lock()`).
  public func getLock() -> (any ProcessLock)? { lock }

  /// The first index, 0.
  public var startIndex: Int { 0 }
  /// One past the last index, ``count``.
  public var endIndex: Int { count }

  /// The element at `index`, read or written under the lock, if any.
  public subscript(index: Int) -> T {
    get {
      precondition(index >= 0 && index < count, "SharedArray index \(index) out of range 0..<\(count)")
      guard let lock else { return base[index] }
      _ = try? lock.acquire()
      defer { try? lock.release() }
      return base[index]
    }
    set {
      precondition(index >= 0 && index < count, "SharedArray index \(index) out of range 0..<\(count)")
      guard let lock else {
        base[index] = newValue
        return
      }
      _ = try? lock.acquire()
      defer { try? lock.release() }
      base[index] = newValue
    }
  }

  /// Runs `body` on the elements holding the lock (without one when the array has none).
  ///
  /// - Throws: ``SynchronizationError/previousOwnerDied(id:)`` (see ``ProcessLock/withLock(repair:_:)``),
  ///   or what `body` throws.
  public func withLock<R>(_ body: (UnsafeMutableBufferPointer<T>) throws -> R) throws -> R {
    let buffer = UnsafeMutableBufferPointer(start: base, count: count)
    guard let lock else { return try body(buffer) }
    return try lock.withLock { try body(buffer) }
  }

  /// Runs `body` on the elements without taking the lock.
  public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
    try body(UnsafeMutableBufferPointer(start: base, count: count))
  }
}
