import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One thread that waits, with `poll`, on the sentinels of every pending async join, so that
/// `await process.join()` never blocks a thread of the cooperative pool.
final class ExitWatcher: @unchecked Sendable {
  // @unchecked: `waiters`, `nextID`, `wakeFDs` and `running` are guarded by `lock`.
  static let shared = ExitWatcher()

  private struct Waiter {
    let id: Int
    let fd: Int32
    let deadline: ContinuousClock.Instant?
    let continuation: CheckedContinuation<Void, Never>
  }

  private let lock = ForkSafeLock()
  private var waiters: [Waiter] = []
  private var nextID = 0
  private var wakeFDs: [Int32] = [-1, -1]
  private var running = false

  /// Returns once `fd` is readable or hung up, `deadline` passes, or the task is cancelled.
  func waitReadable(_ fd: Int32, deadline: ContinuousClock.Instant?) async {
    let id = lock.withLock {
      nextID += 1
      return nextID
    }
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        // A task cancelled before this point had its cancellation handler run already, with
        // no waiter to find: it must not wait.
        let cancelled = lock.withLock {
          if Task.isCancelled { return true }
          startIfNeededLocked()
          waiters.append(Waiter(id: id, fd: fd, deadline: deadline, continuation: continuation))
          wakeLocked()
          return false
        }
        if cancelled { continuation.resume() }
      }
    } onCancel: {
      let cancelled = lock.withLock {
        let found = waiters.first { $0.id == id }
        waiters.removeAll { $0.id == id }
        return found
      }
      cancelled?.continuation.resume()
    }
  }

  private func startIfNeededLocked() {
    guard !running else { return }
    running = true
    _ = pipe(&wakeFDs)
    for fd in wakeFDs {
      _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
      _ = fcntl(fd, F_SETFL, O_NONBLOCK)
    }
    let thread = Thread { [self] in loop() }
    thread.name = "mp-exit-watcher"
    thread.start()
  }

  private func wakeLocked() {
    var byte: UInt8 = 1
    _ = write(wakeFDs[1], &byte, 1)
  }

  private func loop() {
    while true {
      let (fds, wake, deadline) = lock.withLock {
        (waiters.map(\.fd), wakeFDs[0], waiters.compactMap(\.deadline).min())
      }
      let ready = pollReadable(fds + [wake], timeout: deadline.map { $0 - .now })
      if ready.contains(wake) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wake, &buffer, buffer.count) > 0 {}
      }
      let now = ContinuousClock.now
      let resumed = lock.withLock {
        let done = waiters.filter { ready.contains($0.fd) || ($0.deadline.map { $0 <= now } ?? false) }
        let ids = Set(done.map(\.id))
        waiters.removeAll { ids.contains($0.id) }
        return done
      }
      for waiter in resumed { waiter.continuation.resume() }
    }
  }

  /// Forgets the parent's thread and waiters; only in a freshly forked child.
  func resetInChild() {
    lock.reinitializeInChild()
    waiters = []
    if running {
      close(wakeFDs[0])
      close(wakeFDs[1])
    }
    wakeFDs = [-1, -1]
    running = false
  }
}
