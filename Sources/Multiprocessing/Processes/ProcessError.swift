import SystemPackage

/// Misuse of a ``Process`` or a failure to start one. Each case has the meaning of the
/// corresponding Python error, and ``description`` names the mistake.
public enum ProcessError: SystemCallFailure, Sendable, Equatable {
  /// `start()` was called on a process that was already started.
  case alreadyStarted(name: String)
  /// `join()`, `terminate()`, `kill()` or `sentinel` on a process that was never started.
  case notStarted(name: String)
  /// A process tried to join itself.
  case cannotJoinSelf(name: String)
  /// `close()` on a process that is still running.
  case stillRunning(name: String)
  /// Any use of a process after `close()`.
  case closed(name: String)
  /// A daemon process tried to start a child.
  case daemonCannotHaveChildren(name: String)
  /// A closure target or `run()` override with a start method that cannot carry it.
  case needsEntryPoint(name: String, method: StartMethod)
  /// An entry point that `bootstrapMultiprocessing(entryPoints:)` did not register.
  case entryPointNotRegistered(String)
  /// `setStartMethod(_:force:)` after the start method was already fixed.
  case startMethodAlreadySet(StartMethod)
  /// The arguments of an entry point could not be encoded or decoded.
  case arguments(entryPoint: String, reason: String)
  /// A system call failed.
  case system(call: String, errno: Errno)
  /// The fork server could not be started or stopped answering.
  case forkserver(String)
  /// A forked child did not reach its entry in any of `attempts` forks: each got stuck
  /// (another thread of the parent held a lock at the fork that the child's start-up needed)
  /// or took longer than `bound`, and was killed. `pid` is the last one.
  case childDidNotStart(name: String, pid: Int32, attempts: Int, bound: Duration)
  /// `setDaemon(_:)` on a process that was already started.
  case daemonAfterStart(name: String)
  /// A join found the forked child waiting for good on a lock private to it, which another
  /// thread of the parent held at the fork (``Process/isStuckOnInheritedLock``), and killed it.
  /// `lock` says where the lock lay in its memory, and so whose it was (`0x7f… in
  /// /usr/lib/libx.so, file offset 0x1c0c0`, `[heap]`, an anonymous mapping and the file's
  /// mapping it follows).
  case stuckOnInheritedLock(name: String, pid: Int32, lock: String)

  /// The system call that failed beneath this error and its `Errno`, or nil when none did.
  public var failedCall: (call: String, errno: Errno)? {
    if case .system(let call, let errno) = self { return (call, errno) }
    return nil
  }

  /// A message that names the mistake.
  public var description: String {
    switch self {
    case .alreadyStarted(let name):
      return "cannot start \(name): a process can only be started once"
    case .notStarted(let name):
      return "\(name) was never started: call start() first"
    case .cannotJoinSelf(let name):
      return "\(name) cannot join itself"
    case .stillRunning(let name):
      return "cannot close \(name) while it is still running: join() or terminate() it first"
    case .closed(let name):
      return "\(name) is closed: a closed process object cannot be used"
    case .daemonCannotHaveChildren(let name):
      return "\(name) is a daemon, and daemon processes are not allowed to have children"
    case .needsEntryPoint(let name, let method):
      return "cannot start \(name) with the \(method) start method: a closure target crosses only a fork, "
        + "and so does a run() override in a subclass that is not Codable. Use StartMethod.fork; or make "
        + "the target a registered EntryPoint (Process(entryPoint:arguments:), passed to "
        + "bootstrapMultiprocessing(entryPoints:)); or make the subclass Codable and pass "
        + "ProcessClass(YourSubclass.self) to bootstrapMultiprocessing(entryPoints:)"
    case .entryPointNotRegistered(let name):
      return "the entry point '\(name)' is not registered: pass it to "
        + "bootstrapMultiprocessing(entryPoints:), called first thing in main"
    case .startMethodAlreadySet(let method):
      return "the start method was already set to \(method); pass force: true to change it"
    case .arguments(let entryPoint, let reason):
      return "the arguments of entry point '\(entryPoint)' cannot be transferred: \(reason)"
    case .system(let call, let errno):
      return Self.describe(call: call, errno: errno)
    case .forkserver(let reason):
      return "fork server: \(reason)"
    case .childDidNotStart(let name, let pid, let attempts, let bound):
      return "\(name) did not reach its entry in any of \(attempts) forks (the last, pid \(pid)); each got stuck "
        + "or took over \(bound) and was killed: other threads held locks at the forks that the child needed. "
        + "Use the forkserver start method in a program whose other threads keep running while it forks"
    case .daemonAfterStart(let name):
      return "cannot change daemon of \(name): the process has already started"
    case .stuckOnInheritedLock(let name, let pid, let lock):
      return "\(name) (pid \(pid)) waited for good on a lock that another thread of its parent held when it was "
        + "forked (the lock at \(lock)), and was killed: a fork child of a program whose other threads run must "
        + "not build new types or take other libraries' locks. Use the forkserver start method"
    }
  }
}
