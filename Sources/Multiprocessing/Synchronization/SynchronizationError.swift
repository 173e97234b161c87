/// A misuse of a process-shared synchronisation object, or news of a dead holder.
public enum SynchronizationError: Error, Sendable, Equatable, CustomStringConvertible {
  /// `release()` on a lock that is not locked.
  case releasedUnlocked
  /// A lock released, or a condition used, by a thread that does not hold the lock.
  case notOwner
  /// The lock was acquired, but its previous holder (this thread or process id) died holding
  /// it: the caller holds the lock now, and should repair what the lock guarded.
  case previousOwnerDied(id: Int32)
  /// A bounded semaphore released more times than it was acquired.
  case releasedTooManyTimes(bound: Int)
  /// A barrier that was aborted, reset while waited on, timed out, or lost a party.
  case brokenBarrier
  /// An argument out of range (a negative count, zero parties, …).
  case invalidArgument(String)

  /// A message that names the mistake.
  public var description: String {
    switch self {
    case .releasedUnlocked: "release() on a lock that is not locked"
    case .notOwner: "the calling thread does not hold the lock"
    case .previousOwnerDied(let id):
      "the previous holder of the lock (id \(id)) died holding it; the lock is now held by the caller, "
        + "which should repair the state it guards"
    case .releasedTooManyTimes(let bound):
      "a bounded semaphore was released more times than acquired (its bound is \(bound))"
    case .brokenBarrier: "the barrier is broken"
    case .invalidArgument(let reason): "invalid argument: \(reason)"
    }
  }
}
