#if canImport(Glibc)
  import Glibc
#endif

/// A mutex that a forked child can reset: the child gets a copy of every lock, and a lock that
/// another thread held at the moment of the fork would stay held forever there.
///
/// The process API forks while holding ``ProcessRegistry``'s lock, so that the state it
/// guards is consistent in the child, and the child calls ``reinitializeInChild()``.
final class ForkSafeLock: @unchecked Sendable {
  // @unchecked: the pthread mutex is the synchronisation; it lives at a fixed heap address.
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>

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
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body()
  }

  /// Makes the lock free again; only in a freshly forked child, which has a single thread.
  func reinitializeInChild() {
    pthread_mutex_init(mutex, nil)
  }
}
