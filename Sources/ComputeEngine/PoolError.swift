import Multiprocessing
import SystemPackage

/// Why a pool task or call failed.
public enum PoolError: SystemCallFailure, Sendable, Equatable {
  /// The worker running the task died: `status` says how it ended.
  case workerDied(pid: Int32, status: TerminationStatus)
  /// The task ran longer than the task timeout; worker `pid` was killed (and, in a pool,
  /// replaced).
  case taskTimedOut(pid: Int32, timeout: Duration)
  /// The kernel threw; `message` is the error's description, from the worker.
  case kernelFailed(String)
  /// The task's `Codable` input or output could not be encoded or decoded; `message` says why.
  case codingFailed(String)
  /// The pool was closed: it takes no new work.
  case closed
  /// The pool was terminated before the task finished.
  case terminated
  /// An argument out of range.
  case invalidArgument(String)
  /// A system call failed.
  case system(call: String, errno: Errno)
  /// The pool's initializer threw in a worker; `message` is the error's description.
  case initializerFailed(String)
  /// The call's task was cancelled before any worker took this input: it never ran.
  case cancelled
  /// A ``ProcessTeam`` member's closure threw; `message` is the error's description.
  case memberFailed(rank: Int, message: String)
  /// A ``ProcessTeam`` member died: `status` says how it ended.
  case memberDied(rank: Int, pid: Int32, status: TerminationStatus)
  /// The team is ending because a member failed: thrown by a collective step of the others.
  case teamStopped
  /// A process forked at the call (a team member, a `parallelMap` worker), or a pool's worker
  /// forked from its template, was stuck for good on a lock another thread of this process
  /// held when it (or its template) was forked (see `Process.isStuckOnInheritedLock`), and
  /// was killed; a pool fails the task the worker was running with it, and forks the
  /// worker's replacement from a new template. `lock` says where the lock lay in its memory,
  /// and so whose it was (`0x7f… in /usr/lib/libx.so, file offset 0x1c0c0`, `[heap]`, an
  /// anonymous mapping and the file's mapping it follows).
  case stuckAfterFork(name: String, pid: Int32, lock: String)

  /// The system call that failed beneath this error and its `Errno`, or nil when none did.
  public var failedCall: (call: String, errno: Errno)? {
    if case .system(let call, let errno) = self { return (call, errno) }
    return nil
  }

  /// A message that names the failure.
  public var description: String {
    switch self {
    case .workerDied(let pid, let status):
      return "worker \(pid) \(status) in the middle of a task"
    case .taskTimedOut(let pid, let timeout):
      return "the task ran longer than \(timeout); worker \(pid), which ran it, was killed"
    case .kernelFailed(let message):
      return "the kernel threw: \(message)"
    case .codingFailed(let message):
      return "the task's input or output could not be encoded or decoded: \(message)"
    case .closed:
      return "the pool is closed and takes no new work"
    case .terminated:
      return "the pool was terminated before the task finished"
    case .invalidArgument(let reason):
      return "invalid pool argument: \(reason)"
    case .initializerFailed(let message):
      return "the pool's initializer failed in a worker: \(message)"
    case .cancelled:
      return "the call was cancelled before a worker took the task"
    case .memberFailed(let rank, let message):
      return "team member \(rank) threw: \(message)"
    case .memberDied(let rank, let pid, let status):
      return "team member \(rank) (pid \(pid)) \(status)"
    case .teamStopped:
      return "the team was stopped because a member failed"
    case .stuckAfterFork(let name, let pid, let lock):
      return
        "\(name) (pid \(pid)) was stuck for good on a lock that another thread of this process held "
        + "when it was forked (the lock at \(lock)), and was killed: fork teams and "
        + "one-shot maps while no other thread is busy, or use a ProcessPool, whose workers come "
        + "from a single-threaded fork template"
    case .system(let call, let errno):
      return Self.describe(call: call, errno: errno)
    }
  }
}

extension PoolError {
  /// ``stuckAfterFork(name:pid:lock:)`` for the first of `processes` stuck for good on a lock
  /// inherited at its fork (`Process.isStuckOnInheritedLock`), or nil when none is.
  static func stuckAfterFork(among processes: some Sequence<Multiprocessing.Process>) -> PoolError? {
    for process in processes {
      guard let lock = (try? process.inheritedLock) ?? nil else { continue }
      return .stuckAfterFork(name: process.name, pid: ((try? process.pid) ?? nil) ?? 0, lock: lock)
    }
    return nil
  }

  /// Describes a `PoolError` as an `any Error` once in this process, as a team member or a
  /// `parallelMap` worker describes one it throws: forked later from a thread of this process,
  /// the child then finds the runtime's conformance records it needs already cached, rather
  /// than take the runtime's lock that another thread may have held at the fork.
  static let describedOnce: Void = { _ = "\(PoolError.teamStopped as any Error)" }()
}
