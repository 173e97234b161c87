import Foundation

/// Where a pool's thread leaves a job's results, one by one, for a caller that takes them on
/// its own thread: the bridge of the blocking ``ProcessPool/mapUnordered(_:chunkSize:_:)``.
///
/// `put` and `finish` never block (the pool calls them holding its lock); `take` blocks until
/// a result or the end arrives.
final class ResultInbox<Output>: @unchecked Sendable {
  // @unchecked: every field is read and written under `condition`.
  private let condition = NSCondition()
  private var arrived: [(Int, Result<Output, PoolError>)] = []
  private var taken = 0
  private var finished = false

  /// Leaves the result of input `index`.
  func put(_ index: Int, _ result: Result<Output, PoolError>) {
    condition.withLock {
      arrived.append((index, result))
      condition.signal()
    }
  }

  /// Says that no result will follow.
  func finish() {
    condition.withLock {
      finished = true
      condition.signal()
    }
  }

  /// The next result, in the order they arrived; nil once the job finished and every
  /// result was taken.
  func take() -> (Int, Result<Output, PoolError>)? {
    condition.withLock {
      while taken == arrived.count, !finished { condition.wait() }
      guard taken < arrived.count else { return nil }
      defer {
        taken += 1
        // Drop what was taken now and then, so that a long job keeps no result twice.
        if taken == arrived.count {
          arrived.removeAll(keepingCapacity: true)
          taken = 0
        }
      }
      return arrived[taken]
    }
  }
}
