import Atomics

/// A value in shared memory, seen and changed by every process that has it: Python's
/// `multiprocessing.Value`.
///
/// ``value`` reads and writes under the value's lock (a new ``RLock`` by default, as in
/// Python, a given ``Lock`` or ``RLock``, or none); `+=` through ``value`` is two separate
/// locked steps, so use ``withLock(_:)`` to read-modify-write, or, for integers, the
/// lock-free ``add(_:)`` and ``compareExchange(expected:desired:)``.
///
/// ```swift
/// let number = try SharedValue(0)
/// let p = Process { number.value = 99 }
/// try p.start(); try p.join()
/// number.value   // 99
/// ```
///
/// `T` must be `BitwiseCopyable`: plain numbers, tuples and structs of them. A public struct
/// from another module is `BitwiseCopyable` only if it says so (`struct P: BitwiseCopyable`).
public final class SharedValue<T: BitwiseCopyable>: @unchecked Sendable {
  // @unchecked: the value lives in shared memory; access goes through the lock or atomics.

  /// What another process needs to reopen a value: its block and its lock, if any.
  public struct Handle: Codable, Sendable, Hashable {
    let value: SharedHandle
    let lock: SharedHandle?
  }

  @usableFromInline let slot: SharedSlot
  @usableFromInline let lock: (any ProcessLock)?
  @usableFromInline var pointer: UnsafeMutablePointer<T> { slot.pointer.assumingMemoryBound(to: T.self) }

  static var kind: String { SharedKinds.shared.name(of: Self.self) { "SharedValue<\(T.self)>" } }
  /// The value sits a cache line into its block.
  static var offset: Int { max(64, MemoryLayout<T>.alignment) }

  /// A value guarded by a new ``RLock`` (`lock: true`, Python's default) or by none.
  public convenience init(_ initial: T, lock: Bool = true) throws {
    try self.init(initial, lock: lock ? try RLock() : nil)
  }

  /// A value guarded by `lock` (nil: none).
  public init(_ initial: T, lock: (any ProcessLock)?) throws {
    let memory = try SharedMemory(size: Self.offset + MemoryLayout<T>.stride)
    slot = SharedSlot(memory: memory, offset: Self.offset)
    self.lock = lock
    pointer.initialize(to: initial)
  }

  /// Reopens a value from its ``handle`` (in a spawned or fork-server child).
  public init(_ handle: Handle) throws {
    slot = try SharedSlot(handle.value, kind: Self.kind, size: MemoryLayout<T>.stride)
    lock = try handle.lock.map(reopenLock)
  }

  /// What another process needs to reopen the value.
  public var handle: Handle { Handle(value: slot.handle(kind: Self.kind), lock: lock?.handle) }

  /// The lock that guards the value, if any (Python's `get_lock()`).
  public func getLock() -> (any ProcessLock)? { lock }

  /// The value; each read and each write takes the lock, if there is one. A read or write
  /// after a holder died goes ahead: the value alone has no invariant to repair.
  public var value: T {
    get {
      guard let lock else { return pointer.pointee }
      _ = try? lock.acquire()
      defer { try? lock.release() }
      return pointer.pointee
    }
    set {
      guard let lock else {
        pointer.pointee = newValue
        return
      }
      _ = try? lock.acquire()
      defer { try? lock.release() }
      pointer.pointee = newValue
    }
  }

  /// Runs `body` on the value holding the lock (without one when the value has none).
  ///
  /// - Throws: ``SynchronizationError/previousOwnerDied(id:)`` (see ``ProcessLock/withLock(repair:_:)``),
  ///   or what `body` throws.
  @inlinable
  public func withLock<R>(_ body: (inout T) throws -> R) throws -> R {
    guard let lock else { return try body(&pointer.pointee) }
    return try lock.withLock { try body(&pointer.pointee) }
  }
}

extension SharedValue {
  /// Runs `body` with a pointer to the value, without taking the lock.
  public func withUnsafeMutablePointer<R>(_ body: (UnsafeMutablePointer<T>) throws -> R) rethrows -> R {
    try body(pointer)
  }
}

extension SharedValue where T: AtomicInteger, T.AtomicRepresentation.Value == T {
  private var atomic: UnsafeAtomic<T> {
    UnsafeAtomic(at: UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: T.AtomicRepresentation.self))
  }

  /// Adds `delta` atomically, without the lock, and returns the value before (wrapping on
  /// overflow).
  @discardableResult
  public func add(_ delta: T) -> T {
    atomic.loadThenWrappingIncrement(by: delta, ordering: .sequentiallyConsistent)
  }

  /// Sets the value to `desired` if it equals `expected`, atomically and without the lock.
  ///
  /// - Returns: whether it was exchanged, and the value found.
  public func compareExchange(expected: T, desired: T) -> (exchanged: Bool, original: T) {
    atomic.compareExchange(expected: expected, desired: desired, ordering: .sequentiallyConsistent)
  }

  /// The value, read atomically without the lock.
  public func load() -> T {
    atomic.load(ordering: .sequentiallyConsistent)
  }
}

/// Reopens a ``Lock`` or ``RLock`` from its handle.
func reopenLock(_ handle: SharedHandle) throws -> any ProcessLock {
  handle.kind == Lock.kind ? try Lock(handle) : try RLock(handle)
}
