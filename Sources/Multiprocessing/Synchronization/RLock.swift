/// A recursive lock shared between processes: Python's `multiprocessing.RLock`.
///
/// The thread that holds it may acquire it again; it is free once released as many times.
/// Only the holder may release it. Robust like ``Lock``: the next acquirer takes it over from
/// a dead holder and is told by ``SynchronizationError/previousOwnerDied(id:)``.
public final class RLock: ProcessLock, @unchecked Sendable {
  // @unchecked: the state lives in shared memory and is only used through atomic operations;
  // the recursion depth is written only by the holder.
  static let kind = "RLock"

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

  /// Acquires the lock, or acquires it once more when the calling thread holds it.
  ///
  /// - Returns: whether the lock was acquired.
  /// - Throws: ``SynchronizationError/previousOwnerDied(id:)``, with the lock acquired.
  @discardableResult
  public func acquire(blocking: Bool = true, timeout: Duration? = nil) throws(SynchronizationError) -> Bool {
    let core = core
    let me = currentThreadID
    // The depth is the holder's alone (read and written only by the thread that holds the
    // lock, whose acquiring and releasing order it): plain loads and stores, no locked
    // instruction beyond the lock word's. A free lock is taken first, as a `Lock` is: only a
    // held one can be the caller's already.
    if core.state.compareExchange(0, me).exchanged {
      core.depth.storeRelaxed(1)
      return true
    }
    if core.holder == me {
      core.depth.storeRelaxed(core.depth.loadRelaxed() &+ 1)
      return true
    }
    let outcome = core.acquireHeld(as: me, blocking: blocking, timeout: timeout)
    if outcome != .timedOut { core.depth.storeRelaxed(1) }
    return try report(outcome)
  }

  /// Releases one level of the lock.
  ///
  /// - Throws: ``SynchronizationError/notOwner`` unless the calling thread holds it.
  public func release() throws(SynchronizationError) {
    let core = core
    guard core.holder == currentThreadID else { throw SynchronizationError.notOwner }
    // The last level frees the lock and leaves the depth as it is: it counts only while the
    // lock is held (``recursionDepth``), and the next acquirer sets it.
    let depth = core.depth.loadRelaxed()
    if depth == 1 { core.release() } else { core.depth.storeRelaxed(depth &- 1) }
  }

  /// Whether some thread holds the lock.
  public var locked: Bool { core.holder != 0 }

  /// How many times the holder has acquired it (0 when free).
  public var recursionDepth: Int { core.holder == 0 ? 0 : Int(core.depth.load()) }

  /// Whether the calling thread holds the lock (for ``Condition``).
  var isHeldByCaller: Bool { core.holder == currentThreadID }

  /// Releases every level at once, for ``Condition/wait(timeout:)``; returns the depth.
  func releaseAll() -> UInt32 {
    let depth = core.depth.exchange(0)
    core.release()
    return depth
  }

  /// Reacquires the lock with a saved depth after a condition wait.
  func acquire(restoring depth: UInt32) throws(SynchronizationError) {
    let outcome = core.acquire(blocking: true, timeout: nil)
    core.depth.store(depth)
    _ = try report(outcome)
  }
}
