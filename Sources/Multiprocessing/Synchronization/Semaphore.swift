/// A counting semaphore shared between processes: Python's `multiprocessing.Semaphore`.
///
/// ``acquire(blocking:timeout:)`` takes one unit, waiting while there is none;
/// ``release()`` gives one back and wakes a waiter, with a system call only when one sleeps.
public class Semaphore: @unchecked Sendable {
  // @unchecked: the state lives in shared memory and is only used through atomic operations.
  static let size = 12

  let slot: SharedSlot
  var value: FutexWord { FutexWord(slot.pointer) }
  var sleepers: FutexWord { FutexWord(slot.pointer + 4) }
  var bound: FutexWord { FutexWord(slot.pointer + 8) }

  /// A semaphore holding `value` units.
  ///
  /// - Throws: ``SynchronizationError/invalidArgument(_:)`` for a negative value.
  public convenience init(value: Int = 1) throws {
    try self.init(value: value, bound: 0)
  }

  init(value: Int, bound: Int) throws {
    guard (0...Int(Int32.max)).contains(value) else {
      throw SynchronizationError.invalidArgument("a semaphore's initial value must be 0 or more, not \(value)")
    }
    slot = try SharedSlot(size: Self.size)
    self.value.store(UInt32(value))
    self.bound.store(UInt32(bound))
  }

  /// Reopens a semaphore from its ``Semaphore/handle`` (in a spawned or fork-server child).
  public init(_ handle: SharedHandle) throws {
    slot = try SharedSlot(handle, kind: String(describing: Self.self), size: Self.size)
  }

  /// What another process needs to reopen the semaphore.
  public var handle: SharedHandle { slot.handle(kind: String(describing: Self.self)) }

  /// The number of units available now (Python's `get_value()`).
  public var currentValue: Int { Int(value.load()) }

  /// Takes one unit.
  ///
  /// - Parameters:
  ///   - blocking: when false, takes a unit only if one is available now.
  ///   - timeout: the longest wait when blocking; nil waits as long as it takes.
  /// - Returns: whether a unit was taken.
  @discardableResult
  public func acquire(blocking: Bool = true, timeout: Duration? = nil) -> Bool {
    if tryTake() { return true }
    guard blocking else { return false }
    if Spin.until(tryTake) { return true }
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    sleepers.add(1)
    defer { sleepers.subtract(1) }
    while true {
      if tryTake() { return true }
      if !value.wait(whileEqualTo: 0, until: deadline) { return tryTake() }
    }
  }

  private func tryTake() -> Bool {
    var current = value.load()
    while current > 0 {
      let (exchanged, original) = value.compareExchange(current, current - 1)
      if exchanged { return true }
      current = original
    }
    return false
  }

  /// Gives one unit back and wakes a waiter.
  ///
  /// - Throws: ``SynchronizationError/releasedTooManyTimes(bound:)`` for a
  ///   ``BoundedSemaphore`` already at its initial value.
  public func release() throws {
    let limit = bound.load()
    if limit == 0 {
      value.add(1)
    } else {
      var current = value.load()
      while true {
        guard current < limit else { throw SynchronizationError.releasedTooManyTimes(bound: Int(limit)) }
        let (exchanged, original) = value.compareExchange(current, current + 1)
        if exchanged { break }
        current = original
      }
    }
    if sleepers.load() > 0 { value.wake(1) }
  }

  /// Runs `body` holding one unit.
  public func withUnit<T>(_ body: () throws -> T) throws -> T {
    acquire()
    defer { try? release() }
    return try body()
  }
}

/// A semaphore that cannot be released above its initial value: Python's
/// `multiprocessing.BoundedSemaphore`.
public final class BoundedSemaphore: Semaphore, @unchecked Sendable {
  /// A semaphore holding, and bounded by, `value` units (at least 1).
  ///
  /// - Throws: ``SynchronizationError/invalidArgument(_:)`` for a value below 1.
  public init(value: Int = 1) throws {
    guard value >= 1 else {
      throw SynchronizationError.invalidArgument("a bounded semaphore's value must be 1 or more, not \(value)")
    }
    try super.init(value: value, bound: value)
  }

  /// Reopens a bounded semaphore from its ``Semaphore/handle``.
  public override init(_ handle: SharedHandle) throws {
    try super.init(handle)
  }
}
