import CSystemShims

#if canImport(Glibc)
  import Glibc
#endif

/// A mutex that a forked child can reset: the child gets a copy of every lock, and a lock that
/// another thread held at the moment of the fork would stay held forever there.
///
/// The process API forks while holding ``ProcessRegistry``'s lock, so that the state it
/// guards is consistent in the child, and the child calls ``reinitializeInChild()``. Other
/// locks (a ``Connection``'s) reset themselves: the first use in a forked child, which sees
/// the fork generation changed, makes the mutex free again — that child must not have
/// started other threads that use the lock before that first use.
final class ForkSafeLock: @unchecked Sendable {
  // @unchecked: the pthread mutex is the synchronisation; it lives at a fixed heap address.
  // `generation` is read and written only by the lock's users in one process, and changes
  // only in a freshly forked child.
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private var generation = cs_fork_generation()

  init() {
    mutex = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  /// Runs `body` holding the lock.
  func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    let current = cs_fork_generation()
    if generation != current {
      // A forked child: the copy may be held by a thread of the parent that is not here.
      pthread_mutex_init(mutex, nil)
      generation = current
    }
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body()
  }

  /// Makes the lock free again; only in a freshly forked child, which has a single thread.
  func reinitializeInChild() {
    pthread_mutex_init(mutex, nil)
    generation = cs_fork_generation()
  }
}
