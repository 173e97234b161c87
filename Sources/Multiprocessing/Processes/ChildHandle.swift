import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// The parent's handle on a started child: how to learn that it ended and how, and how to
/// signal it. Its methods are called with ``ProcessRegistry``'s lock held.
protocol ChildHandle: AnyObject {
  /// The child's process id.
  var pid: pid_t { get }
  /// A descriptor that becomes readable when the child has ended.
  var sentinel: Int32 { get }
  /// How the child ended if it has (reaping it), else nil. Never blocks.
  func poll() -> TerminationStatus?
  /// Sends `signal` to the child unless it has ended.
  func send(_ signal: Int32)
  /// Releases the handle's descriptors (also done when the handle is released); closing
  /// twice is harmless.
  func close()
}

/// A child of this very process (fork and spawn): a pidfd to wait on and to signal through
/// (no pid-reuse race), and `waitpid` to reap it.
final class OwnChild: ChildHandle {
  let pid: pid_t
  let pidfd: FileDescriptor
  private var status: TerminationStatus?

  init(pid: pid_t) throws(ProcessError) {
    self.pid = pid
    do { pidfd = try SystemCall.openPidfd(pid) } catch { throw .system(call: "pidfd_open", errno: error) }
  }

  var sentinel: Int32 { pidfd.rawValue }

  func poll() -> TerminationStatus? {
    if let status { return status }
    do {
      status = try SystemCall.reapIfEnded(pid)
    } catch {
      // ECHILD: something else in this program reaped the child (a SIGCHLD handler set to
      // SIG_IGN, or a `waitpid(-1)`), so its status is lost; report it as a failure.
      status = .exited(255)
    }
    return status
  }

  func send(_ signal: Int32) {
    guard poll() == nil else { return }
    // Dropped: the only failure left is ESRCH, a child that ended since the poll.
    try? pidfd.sendSignal(signal)
  }

  func close() {
    guard !closed else { return }
    closed = true
    pidfd.release()
  }

  private var closed = false

  /// A handle dropped without ``close()`` (its process object released) closes its pidfd,
  /// as Python's Popen closes its sentinel when it is collected.
  deinit { close() }
}
