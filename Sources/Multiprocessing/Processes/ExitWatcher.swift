import Foundation
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// One thread that waits, with `poll`, on the sentinels of every pending async join, so that
/// `await process.join()` never blocks a thread of the cooperative pool.
final class ExitWatcher: @unchecked Sendable {
  // @unchecked: `waiters`, `nextID` and `wake` are guarded by `lock`.
  static let shared = ExitWatcher()

  private struct Waiter {
    let id: Int
    let fd: Int32
    let deadline: ContinuousClock.Instant?
    /// Unsafe rather than checked: a forked child drops its parent's waiters (their tasks are
    /// not in the child), which a checked continuation would report as leaked. Each is
    /// resumed exactly once: by whoever removes its waiter under the lock.
    let continuation: UnsafeContinuation<Void, Never>
  }

  private let lock = ForkSafeLock()
  private var waiters: [Waiter] = []
  private var nextID = 0
  private var wake: (readEnd: FileDescriptor, writeEnd: FileDescriptor)?

  /// Returns once `fd` is readable or hung up, `deadline` passes, or the task is cancelled.
  func waitReadable(_ fd: Int32, deadline: ContinuousClock.Instant?) async {
    let id = lock.withLock {
      nextID += 1
      return nextID
    }
    await withTaskCancellationHandler {
      await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
        // A task cancelled before this point had its cancellation handler run already, with
        // no waiter to find: it must not wait.
        enum Outcome { case waiting, cancelled, noWatcher }
        let outcome = lock.withLock { () -> Outcome in
          if Task.isCancelled { return .cancelled }
          do { try startIfNeededLocked() } catch { return .noWatcher }
          waiters.append(Waiter(id: id, fd: fd, deadline: deadline, continuation: continuation))
          wakeLocked()
          return .waiting
        }
        // No pipe for the watcher (out of descriptors): wait on this thread instead, outside
        // the lock, so that other waiters are not held up.
        if outcome == .noWatcher { _ = SystemCall.pollReadable([fd], timeout: deadline.map { $0 - .now }) }
        if outcome != .waiting { continuation.resume() }
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

  private func startIfNeededLocked() throws(Errno) {
    guard wake == nil else { return }
    let pipe = try FileDescriptor.pipeClosingOnExec(nonBlocking: true)
    wake = pipe
    startThread(named: "mp-exit-watcher") { [self] in loop(waking: pipe.readEnd) }
  }

  private func wakeLocked() {
    wake?.writeEnd.ring()
  }

  private func loop(waking wakeEnd: FileDescriptor) {
    while true {
      let (fds, deadline) = lock.withLock { (waiters.map { $0.fd }, waiters.compactMap { $0.deadline }.min()) }
      let ready = SystemCall.pollReadable(fds + [wakeEnd.rawValue], timeout: deadline.map { $0 - .now })
      if ready.contains(wakeEnd.rawValue) { wakeEnd.drain() }
      let now = ContinuousClock.now
      let resumed = lock.withLock {
        let done = waiters.filter { ready.contains($0.fd) || ($0.deadline.map { $0 <= now } ?? false) }
        let ids = Set(done.map { $0.id })
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
    wake?.readEnd.release()
    wake?.writeEnd.release()
    wake = nil
  }
}
