/// A non-recursive lock shared between processes: Python's `multiprocessing.Lock`.
///
/// Any thread of any process may release it (it is not owned, as in Python), and releasing
/// it when unlocked throws. It is robust: when the holder dies holding it, the next acquirer
/// gets it within a fraction of a second and is told so by
/// ``SynchronizationError/previousOwnerDied(id:)``, thrown with the lock held.
///
/// Uncontended, acquire and release are one atomic operation each; a waiter spins briefly,
/// then sleeps in the kernel, and a release makes a system call only when someone sleeps.
/// Forked children share the lock as it is; spawned ones reopen it with ``init(_:)`` from
/// ``handle``.
///
/// ```swift
/// let lock = try Lock()
/// try lock.withLock { counter.value += 1 }
/// ```
public final class Lock: ProcessLock, @unchecked Sendable {
  // @unchecked: the state lives in shared memory and is only used through atomic operations.
  static let kind = "Lock"

  let storage: LockStorage
  var core: LockCore { storage.core }

  /// A new, unlocked lock.
  public init() throws {
    storage = try LockStorage(kind: Self.kind)
  }

  /// Reopens a lock from its ``handle`` (in a spawned or fork-server child).
  public init(_ handle: SharedHandle) throws {
    storage = try LockStorage(handle, kind: Self.kind)
  }

  /// What another process needs to reopen the lock.
  public var handle: SharedHandle { storage.handle }

  /// Acquires the lock.
  ///
  /// - Parameters:
  ///   - blocking: when false, takes the lock only if it is free now.
  ///   - timeout: the longest wait when blocking; nil waits as long as it takes.
  /// - Returns: whether the lock was acquired.
  /// - Throws: ``SynchronizationError/previousOwnerDied(id:)``, with the lock acquired, when
  ///   its previous holder died holding it.
  @discardableResult
  public func acquire(blocking: Bool = true, timeout: Duration? = nil) throws(SynchronizationError) -> Bool {
    try report(core.acquire(blocking: blocking, timeout: timeout))
  }

  /// Releases the lock, whoever acquired it.
  ///
  /// - Throws: ``SynchronizationError/releasedUnlocked`` when it is not locked.
  public func release() throws(SynchronizationError) {
    guard core.release() != 0 else { throw SynchronizationError.releasedUnlocked }
  }

  /// Whether the lock is held.
  public var locked: Bool { core.holder != 0 }

  /// Whether the calling thread acquired the lock (for ``Condition``).
  var isHeldByCaller: Bool { core.holder == currentThreadID }
}
