/// A lock shared between processes: ``Lock`` or ``RLock``, as ``SharedValue/getLock()``
/// returns it.
public protocol ProcessLock: AnyObject, Sendable {
  /// Acquires the lock; see ``Lock/acquire(blocking:timeout:)``.
  func acquire(blocking: Bool, timeout: Duration?) throws(SynchronizationError) -> Bool
  /// Releases the lock; see ``Lock/release()``.
  func release() throws(SynchronizationError)
  /// Whether some thread holds the lock.
  var locked: Bool { get }
  /// What another process needs to reopen the lock.
  var handle: SharedHandle { get }
}

extension ProcessLock {
  /// Acquires the lock, waiting as long as it takes.
  @discardableResult
  public func acquire() throws(SynchronizationError) -> Bool {
    try acquire(blocking: true, timeout: nil)
  }

  /// Acquires the lock if `blocking`, else only if it is free now; returns whether it was.
  @discardableResult
  public func acquire(blocking: Bool) throws(SynchronizationError) -> Bool {
    try acquire(blocking: blocking, timeout: nil)
  }

  /// Acquires the lock, waiting at most `timeout`; returns whether it was acquired.
  @discardableResult
  public func acquire(timeout: Duration?) throws(SynchronizationError) -> Bool {
    try acquire(blocking: true, timeout: timeout)
  }

  /// Runs `body` holding the lock.
  ///
  /// When the previous holder died holding the lock, `body` is not run: the lock is released
  /// and ``SynchronizationError/previousOwnerDied(id:)`` thrown, so that the caller can check
  /// and repair what the lock guards (or pass `repair`, which then runs first, holding the lock).
  @inlinable
  public func withLock<T>(repair: (() throws -> Void)? = nil, _ body: () throws -> T) throws -> T {
    do {
      _ = try acquire(blocking: true, timeout: nil)
    } catch SynchronizationError.previousOwnerDied(let id) {
      guard let repair else {
        try release()
        throw SynchronizationError.previousOwnerDied(id: id)
      }
      do { try repair() } catch {
        try? release()
        throw error
      }
    }
    defer { try? release() }
    return try body()
  }
}

/// Converts a lock outcome to the public contract: true, false, or the dead-holder error.
func report(_ outcome: LockCore.Outcome) throws(SynchronizationError) -> Bool {
  switch outcome {
  case .acquired: return true
  case .timedOut: return false
  case .acquiredFromDeadHolder(let id): throw .previousOwnerDied(id: Int32(bitPattern: id))
  }
}
