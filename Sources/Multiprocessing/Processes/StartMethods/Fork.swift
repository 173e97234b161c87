import CSystemShims
import Foundation
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// The fork start method: a confirmed fork from a thread that lives as long as the process.
extension Launcher {
  /// Forks a child that runs `process` (from a thread that lives as long as this process),
  /// confirmed as ``forkConfirmed(name:budget:countingThreads:_:)`` describes. `stalls` (how many forks in a
  /// row get stuck before the entry) and `budget` are for the tests.
  static func fork(
    _ process: Process, name: String, stalls: Int = 0, budget: Duration = forkBudget
  ) throws(ProcessError) -> any ChildHandle {
    _ = ChildRunner.warmedUp
    _ = ChildRunner.errorReportWarmedUp
    let parent = (pid: getpid(), name: currentProcess().name)
    let pid = try forkConfirmed(name: name, budget: budget) { handshake, attempt, _ in
      if attempt < stalls { ChildRunner.stallForTesting() }
      ChildRunner.become(process, actualParent: parent.pid, parent: parent, handshake: handshake)
    }
    return try OwnChild(pid: pid)
  }

  /// How long a forked child may take from the fork to its entry before it is killed.
  static let handshakeBound = Duration.seconds(2)
  /// How long a fork may keep being tried again, in all.
  static let forkBudget = Duration.seconds(10)

  /// Forks a child that runs `child` and waits until it confirms, by writing a byte on the
  /// descriptor `child` is given (``ChildRunner/confirm(_:)``), that it has reached its entry.
  ///
  /// A child forked while another thread of this process held a lock (the Swift runtime's
  /// metadata, conformance and type-name caches, malloc's, any other) inherits it held, and
  /// waits forever if its own start-up needs it. Such a child is killed as soon as it is seen
  /// asleep twice in a row, 2 ms apart (nothing on its way to the entry sleeps, and a
  /// single-threaded process asleep on a lock sleeps for ever), or when ``handshakeBound``
  /// passes. It is then forked again (nothing of the caller's has run in it yet), for up to
  /// `budget` in all (a lock is held only for moments: the next fork usually finds it
  /// free), after which ``ProcessError/childDidNotStart(name:pid:attempts:bound:)`` is thrown. A
  /// child that ends before confirming is returned as it is: its exit code says how it ended.
  ///
  /// The fork is made with the process registry's lock held, so that no other fork of the
  /// library inherits the handshake pipe; the child reinitialises that lock.
  ///
  /// With `countingThreads`, the child is told whether this process had no other thread at
  /// the fork (`forkedAlone`): then no lock can have been held by a thread that the child
  /// lacks. Without it, `forkedAlone` is false.
  static func forkConfirmed(
    name: String, budget: Duration = forkBudget, countingThreads: Bool = false,
    _ child: @escaping (_ handshake: FileDescriptor, _ attempt: Int, _ forkedAlone: Bool) -> Never
  ) throws(ProcessError) -> pid_t {
    let giveUp = ContinuousClock.now + budget
    var attempt = 0
    while true {
      warnIfOtherThreadsRun()
      let (pid, handshake) = try forkWithHandshake(countingThreads: countingThreads) { [attempt] in
        child($0, attempt, $1)
      }
      defer { handshake.release() }
      if awaitHandshake(handshake, from: pid, until: min(giveUp, .now + handshakeBound)) { return pid }
      // Dropped: our unreaped child exists until the reap below, so kill cannot fail.
      try? SystemCall.sendSignal(SIGKILL, to: pid)
      SystemCall.reap(pid)
      attempt += 1
      multiprocessingLogger.warning(
        "killed a forked child stuck on its way to its entry",
        metadata: ["process": "\(name)", "pid": "\(pid)", "attempt": "\(attempt)"])
      if ContinuousClock.now >= giveUp {
        throw ProcessError.childDidNotStart(name: name, pid: pid, attempts: attempt, bound: handshakeBound)
      }
    }
  }

  /// Waits for child `pid` to confirm on `handshake` (or end) until `deadline`: false when it
  /// is stuck.
  private static func awaitHandshake(
    _ handshake: FileDescriptor, from pid: pid_t, until deadline: ContinuousClock.Instant
  ) -> Bool {
    var asleep = false
    while case let left = deadline - .now, left > .zero {
      if !SystemCall.pollReadable([handshake.rawValue], timeout: min(left, .milliseconds(2))).isEmpty { return true }
      // Asleep (`S`): waiting for an event, rather than running, waiting for a CPU or paging
      // in (`R`, `D`).
      let sleeping = SystemCall.schedulingState(of: pid) == UInt8(ascii: "S")
      if sleeping && asleep { return false }
      asleep = sleeping
    }
    return !SystemCall.pollReadable([handshake.rawValue], timeout: .zero).isEmpty
  }

  /// Forks, from the main thread or the forking thread, a child that runs `child` with the
  /// write end of a new pipe and, with `countingThreads`, whether this process had one thread
  /// at the fork (counted just before it, by the thread that forks: with one thread, no other
  /// can start one meanwhile); returns its pid and the read end.
  private static func forkWithHandshake(
    countingThreads: Bool, _ child: @escaping (FileDescriptor, Bool) -> Never
  ) throws(ProcessError) -> (pid_t, FileDescriptor) {
    let result: Result<(pid_t, FileDescriptor), ProcessError> = ForkingThread.shared.perform {
      ProcessRegistry.shared.lock.withLock {
        let ends: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
        do throws(Errno) { ends = try FileDescriptor.pipeClosingOnExec() } catch {
          return .failure(.system(call: "pipe", errno: error))
        }
        fflush(nil)
        let alone = countingThreads && SystemCall.threadCount() == 1
        let pid = Glibc.fork()
        if pid == 0 {
          ends.readEnd.release()
          child(ends.writeEnd, alone)
        }
        let error = Errno(rawValue: errno)
        ends.writeEnd.release()
        guard pid > 0 else {
          ends.readEnd.release()
          return .failure(.system(call: "fork", errno: error))
        }
        return .success((pid, ends.readEnd))
      }
    }
    return try result.get()
  }

  /// Logs once per process, as a warning, that the library forks while other threads run,
  /// as Python 3.12 warns for `os.fork()`. Threads are counted only for a logger that would
  /// print the warning, not the silent default (a process that never has other threads
  /// never gives the warning, so it would count them at every fork).
  private static func warnIfOtherThreadsRun() {
    let (warned, level) = LibraryLogger.shared.lock.withLock {
      (LibraryLogger.shared.warnedAboutThreads, LibraryLogger.shared.logger.logLevel)
    }
    guard !warned, level <= .warning else { return }
    let threads = SystemCall.threadCount() ?? 1
    // Not counted: the calling thread, and the forking thread (idle while the main thread
    // forks, or forking while the caller waits for it).
    let others = threads - 1 - (ForkingThread.shared.isRunning ? 1 : 0)
    guard others > 0 else { return }
    let first = LibraryLogger.shared.lock.withLock {
      defer { LibraryLogger.shared.warnedAboutThreads = true }
      return !LibraryLogger.shared.warnedAboutThreads
    }
    guard first else { return }
    multiprocessingLogger.warning(
      """
      forking while other threads run: the child must keep to plain synchronous code; \
      use the forkserver start method if those threads may hold locks
      """,
      metadata: ["otherThreads": "\(others)"])
  }
}
