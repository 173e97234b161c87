/// A condition variable shared between processes: Python's `multiprocessing.Condition`.
///
/// It is used with its lock held (a new ``RLock`` by default, or a given ``Lock`` or
/// ``RLock``): ``wait(timeout:)`` releases the lock, sleeps until notified, and reacquires
/// it; ``notify(_:)`` wakes up to `n` waiters and ``notifyAll()`` all of them. Notifying
/// never blocks, so a dead waiter cannot hang the notifier. As with every condition
/// variable, check the awaited state in a loop, or use ``waitFor(timeout:_:)``.
public final class Condition: @unchecked Sendable {
  // @unchecked: the state lives in shared memory and is only used through atomic operations
  // (and changed only with the lock held, where the algorithm needs it).

  /// What another process needs to reopen a condition: its state and its lock.
  public struct Handle: Codable, Sendable, Hashable {
    let state: SharedHandle
    let lock: SharedHandle
  }

  enum HeldLock {
    case lock(Lock)
    case rlock(RLock)
  }

  static let kind = "Condition"
  static let size = 12

  let slot: SharedSlot
  let heldLock: HeldLock
  /// Waiters not yet notified.
  var waiters: FutexWord { FutexWord(slot.pointer) }
  /// Notifications granted but not yet taken by a waiter.
  var tokens: FutexWord { FutexWord(slot.pointer + 4) }
  /// Changes at every notification; waiters sleep on it.
  var sequence: FutexWord { FutexWord(slot.pointer + 8) }

  /// A condition with a new ``RLock``, as Python's default.
  public convenience init() throws {
    try self.init(lock: RLock())
  }

  /// A condition that uses `lock`.
  public init(lock: Lock) throws {
    slot = try SharedSlot(size: Self.size)
    heldLock = .lock(lock)
  }

  /// A condition that uses `lock`.
  public init(lock: RLock) throws {
    slot = try SharedSlot(size: Self.size)
    heldLock = .rlock(lock)
  }

  /// Reopens a condition from its ``handle`` (in a spawned or fork-server child).
  public init(_ handle: Handle) throws {
    slot = try SharedSlot(handle.state, kind: Self.kind, size: Self.size)
    heldLock = handle.lock.kind == Lock.kind ? .lock(try Lock(handle.lock)) : .rlock(try RLock(handle.lock))
  }

  /// What another process needs to reopen the condition.
  public var handle: Handle { Handle(state: slot.handle(kind: Self.kind), lock: lock.handle) }

  /// The condition's lock.
  public var lock: any ProcessLock {
    switch heldLock {
    case .lock(let lock): lock
    case .rlock(let lock): lock
    }
  }

  /// Acquires the condition's lock; see ``Lock/acquire(blocking:timeout:)``.
  @discardableResult
  public func acquire(blocking: Bool = true, timeout: Duration? = nil) throws -> Bool {
    try lock.acquire(blocking: blocking, timeout: timeout)
  }

  /// Releases the condition's lock.
  public func release() throws {
    try lock.release()
  }

  /// Runs `body` holding the condition's lock.
  public func withLock<T>(_ body: () throws -> T) throws -> T {
    try lock.withLock(body)
  }

  private var isHeldByCaller: Bool {
    switch heldLock {
    case .lock(let lock): lock.isHeldByCaller
    case .rlock(let lock): lock.isHeldByCaller
    }
  }

  /// Releases the lock, waits until notified or `timeout` passes (nil: no limit), and
  /// reacquires the lock.
  ///
  /// - Returns: false when the timeout passed first.
  /// - Throws: ``SynchronizationError/notOwner`` unless the calling thread holds the lock.
  @discardableResult
  public func wait(timeout: Duration? = nil) throws -> Bool {
    guard isHeldByCaller else { throw SynchronizationError.notOwner }
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    waiters.add(1)
    var seen = sequence.load()
    let depth: UInt32
    switch heldLock {
    case .lock(let lock):
      depth = 1
      lock.core.release()
    case .rlock(let lock):
      depth = lock.releaseAll()
    }

    var notified = takeToken()
    while !notified {
      if !sequence.wait(whileEqualTo: seen, until: deadline) { break }
      seen = sequence.load()
      notified = takeToken()
    }

    var reacquired: Result<Void, any Error> = .success(())
    switch heldLock {
    case .lock(let lock): reacquired = Result { _ = try report(lock.core.acquire(blocking: true, timeout: nil)) }
    case .rlock(let lock): reacquired = Result { try lock.acquire(restoring: depth) }
    }
    if !notified {
      // Holding the lock, as notify does: a notification granted meanwhile is ours to take;
      // otherwise this waiter leaves the count of those not yet notified.
      notified = takeToken()
      if !notified { waiters.subtract(1) }
    }
    try reacquired.get()
    return notified
  }

  private func takeToken() -> Bool {
    var current = tokens.load()
    while current > 0 {
      let (exchanged, original) = tokens.compareExchange(current, current - 1)
      if exchanged { return true }
      current = original
    }
    return false
  }

  /// Waits until `predicate` is true, or `timeout` passes, as Python's `wait_for`.
  ///
  /// - Returns: the predicate's last value.
  /// - Throws: ``SynchronizationError/notOwner`` unless the calling thread holds the lock.
  @discardableResult
  public func waitFor(timeout: Duration? = nil, _ predicate: () throws -> Bool) throws -> Bool {
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    var result = try predicate()
    while !result {
      var left: Duration? = nil
      if let deadline {
        left = deadline - .now
        if left! <= .zero { break }
      }
      try wait(timeout: left)
      result = try predicate()
    }
    return result
  }

  /// Wakes up to `count` waiters.
  ///
  /// - Throws: ``SynchronizationError/notOwner`` unless the calling thread holds the lock,
  ///   ``SynchronizationError/invalidArgument(_:)`` for a negative count.
  public func notify(_ count: Int = 1) throws {
    guard count >= 0 else {
      throw SynchronizationError.invalidArgument("notify(\(count)): the count must be 0 or more")
    }
    guard isHeldByCaller else { throw SynchronizationError.notOwner }
    let moved = min(UInt32(clamping: count), waiters.load())
    guard moved > 0 else { return }
    waiters.subtract(moved)
    tokens.add(moved)
    sequence.add(1)
    sequence.wake(Int32(clamping: moved))
  }

  /// Wakes every waiter.
  ///
  /// - Throws: ``SynchronizationError/notOwner`` unless the calling thread holds the lock.
  public func notifyAll() throws {
    try notify(Int(Int32.max))
  }
}
