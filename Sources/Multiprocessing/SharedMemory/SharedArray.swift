/// A fixed-size array in shared memory: Python's `multiprocessing.Array`, without its lock
/// by default.
///
/// Sweeps over the elements are the common use, so the fast way is the default: an array has
/// no lock unless asked for one, its subscripts read and write the memory directly, and
/// ``buffer`` is a ``SharedBuffer`` view that a kernel may capture. Processes that write the
/// same elements at once synchronise themselves (a ``Barrier`` between steps, or disjoint
/// ranges per process).
///
/// `lock: true` gives Python's behaviour: a new ``RLock`` that every subscript read and write
/// takes. It costs a lock round trip per element (`mpbench sync` here: 69 ns a read, against
/// 4.3 ns unlocked and 0.7 ns through ``buffer``) and serialises every process that touches
/// the array, so a sweep through locked subscripts does not scale at all; use
/// ``withLock(_:)`` to hold the lock once across a batch instead. For the tightest loops,
/// sweep ``buffer`` (its subscript is inlined into the caller).
/// Indices outside `0..<count` trap, as with Swift arrays.
///
/// ```swift
/// let squares = try SharedArray(repeating: 0, count: 8)    // unlocked
/// let p = Process { for i in squares.indices { squares[i] = i * i } }
/// try p.start(); try p.join()
/// ```
///
/// `T` must be `BitwiseCopyable` (see ``SharedValue``).
public final class SharedArray<T: BitwiseCopyable>: RandomAccessCollection, MutableCollection, @unchecked Sendable {
  // @unchecked: the elements live in shared memory; access goes through the lock, if there
  // is one, or is the caller's to synchronise (an unlocked array, the buffer views).

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

  /// An array of `count` copies of `element`, unguarded (the default) or guarded by a new
  /// ``RLock`` that every subscript takes.
  ///
  /// - Throws: ``SynchronizationError/invalidArgument(_:)`` for a negative count.
  public convenience init(repeating element: T, count: Int, lock: Bool = false) throws {
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
    Self.fill(base, count: count, with: element)
  }

  /// Fills `count` elements at `base` with `element` by copying bytes, in doubling runs: fast
  /// even where this generic code runs unspecialised (one element at a time, it cost 5 ns an
  /// element here). A new block is zero-filled already, so an all-zero element writes nothing.
  private static func fill(_ base: UnsafeMutablePointer<T>, count: Int, with element: T) {
    guard count > 0 else { return }
    guard withUnsafeBytes(of: element, { bytes in bytes.contains { $0 != 0 } }) else { return }
    base.initialize(to: element)
    let raw = UnsafeMutableRawPointer(base)
    let total = count * MemoryLayout<T>.stride
    var filled = MemoryLayout<T>.stride
    while filled < total {
      let chunk = Swift.min(filled, total - filled)
      (raw + filled).copyMemory(from: raw, byteCount: chunk)
      filled += chunk
    }
  }

  /// An array holding `elements`, copied in one step when they are contiguous; unguarded (the
  /// default) or guarded by a new ``RLock`` that every subscript takes.
  public convenience init(_ elements: some Collection<T>, lock: Bool = false) throws {
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
    buffer.assign(from: elements)
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

  /// The element at `index`, read or written under the lock, if the array has one.
  ///
  /// A lock whose previous holder died is taken over (one element has no invariant to
  /// repair; ``withLock(_:)`` reports the death); any other failure of the lock is a broken
  /// invariant, and traps with its message.
  public subscript(index: Int) -> T {
    get {
      precondition(index >= 0 && index < count, "SharedArray index \(index) out of range 0..<\(count)")
      guard let lock else { return base[index] }
      return Self.holding(lock) { base[index] }
    }
    set {
      precondition(index >= 0 && index < count, "SharedArray index \(index) out of range 0..<\(count)")
      guard let lock else {
        base[index] = newValue
        return
      }
      Self.holding(lock) { base[index] = newValue }
    }
  }

  /// Runs `body` holding `lock`, for one element's access.
  private static func holding<R>(_ lock: any ProcessLock, _ body: () -> R) -> R {
    do {
      _ = try lock.acquire(blocking: true, timeout: nil)
    } catch SynchronizationError.previousOwnerDied {
      // Held now: the dead holder can have left at most one element half written.
    } catch {
      preconditionFailure("SharedArray's lock failed: \(error)")
    }
    defer {
      do { try lock.release() } catch { preconditionFailure("SharedArray's lock failed: \(error)") }
    }
    return body()
  }

  /// A view of the elements that takes no lock and that a kernel may capture.
  public var buffer: SharedBuffer<T> { SharedBuffer(owner: slot.memory, base: base, count: count) }

  /// Runs `body` on the elements holding the lock (without one when the array has none).
  ///
  /// - Throws: ``SynchronizationError/previousOwnerDied(id:)`` (see ``ProcessLock/withLock(repair:_:)``),
  ///   or what `body` throws.
  public func withLock<R>(_ body: (UnsafeMutableBufferPointer<T>) throws -> R) throws -> R {
    let buffer = UnsafeMutableBufferPointer(start: base, count: count)
    guard let lock else { return try body(buffer) }
    return try lock.withLock { try body(buffer) }
  }

  /// Runs `body` on the elements, read-only, without taking the lock.
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(start: base, count: count))
  }

  /// Runs `body` on the elements without taking the lock.
  public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
    try body(UnsafeMutableBufferPointer(start: base, count: count))
  }
}
