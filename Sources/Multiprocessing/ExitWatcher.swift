import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One thread that waits, with `poll`, on the sentinels of every pending async join, so that
/// `await process.join()` never blocks a thread of the cooperative pool.
final class ExitWatcher: @unchecked Sendable {
  // @unchecked: `waiters`, `wakeFDs` and `running` are guarded by `lock`.
  static let shared = ExitWatcher()

  private let lock = ForkSafeLock()
  private var waiters: [(fd: Int32, continuation: CheckedContinuation<Void, Never>)] = []
  private var wakeFDs: [Int32] = [-1, -1]
  private var running = false

  /// Returns once `fd` is readable or hung up.
  func waitReadable(_ fd: Int32) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      lock.withLock {
        if !running {
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
        waiters.append((fd, continuation))
        var byte: UInt8 = 1
        _ = write(wakeFDs[1], &byte, 1)
      }
    }
  }

  private func loop() {
    while true {
      let (fds, wake) = lock.withLock { (waiters.map(\.fd), wakeFDs[0]) }
      let ready = pollReadable(fds + [wake], timeout: nil)
      if ready.contains(wake) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wake, &buffer, buffer.count) > 0 {}
      }
      let resumed = lock.withLock {
        let done = waiters.filter { ready.contains($0.fd) }
        waiters.removeAll { ready.contains($0.fd) }
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
