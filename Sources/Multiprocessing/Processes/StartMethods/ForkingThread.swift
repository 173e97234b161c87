import CSystemShims
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The thread that creates child processes when the caller is not the main thread.
///
/// `PR_SET_PDEATHSIG`, which kills a child when its parent dies, fires when the *thread*
/// that forked the child exits: a child forked from a Dispatch or Task pool thread would be
/// killed when that idle thread is retired. Children are therefore created from the main
/// thread, or from this thread, which lives as long as the process. A forked child goes on
/// running on this thread's stack, which is 8 MiB, like a main thread's.
final class ForkingThread: @unchecked Sendable {
  // @unchecked: `jobs` and `running` are guarded by `mutex`; `condition` signals new jobs.
  static let shared = ForkingThread()

  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private var jobs: [() -> Void] = []
  private var running = false

  private init() {
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(condition, nil)
  }

  /// Whether the forking thread exists.
  var isRunning: Bool {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return running
  }

  /// Runs `body` on a thread that lives as long as the process, and returns its result.
  func perform<T>(_ body: @escaping () -> T) -> T {
    if getpid() == cs_gettid() { return body() }
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    pthread_mutex_lock(mutex)
    if !running {
      running = true
      startThread(named: "mp-forking", stackSize: 8 << 20) { [self] in loop() }
    }
    jobs.append {
      box.value = body()
      done.signal()
    }
    pthread_cond_signal(condition)
    pthread_mutex_unlock(mutex)
    done.wait()
    return box.value!
  }

  private func loop() {
    while true {
      pthread_mutex_lock(mutex)
      while jobs.isEmpty { pthread_cond_wait(condition, mutex) }
      let job = jobs.removeFirst()
      pthread_mutex_unlock(mutex)
      job()
    }
  }

  /// Carries a job's result from the forking thread to the waiting caller.
  private final class ResultBox<T>: @unchecked Sendable {
    // @unchecked: written by the forking thread before `done.signal()`, read after `wait()`.
    var value: T?
  }

  /// Forgets the parent's thread and jobs; only in a freshly forked child.
  func resetInChild() {
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(condition, nil)
    jobs = []
    running = false
  }
}
