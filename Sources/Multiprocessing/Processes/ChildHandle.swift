import CSystemShims

#if canImport(Glibc)
  import Glibc
#endif

/// The parent's handle on a started child: how to learn that it ended and with what code,
/// and how to signal it. Its methods are called with ``ProcessRegistry``'s lock held.
protocol ChildHandle: AnyObject {
  /// The child's process id.
  var pid: pid_t { get }
  /// A descriptor that becomes readable when the child has ended.
  var sentinel: Int32 { get }
  /// The exit code if the child has ended (reaping it), else nil. Never blocks.
  func poll() -> Int32?
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
  let pidfd: Int32
  private var code: Int32?

  init(pid: pid_t) throws {
    self.pid = pid
    let fd = cs_pidfd_open(pid)
    guard fd >= 0 else { throw ProcessError.system(call: "pidfd_open", errno: -fd) }
    pidfd = fd
  }

  var sentinel: Int32 { pidfd }

  func poll() -> Int32? {
    if let code { return code }
    var status: Int32 = 0
    var result: pid_t
    repeat { result = waitpid(pid, &status, WNOHANG) } while result < 0 && errno == EINTR
    if result == pid {
      code = exitCode(waitStatus: status)
    } else if result < 0 {
      // ECHILD: something else in this program reaped the child (a SIGCHLD handler set to
      // SIG_IGN, or a `waitpid(-1)`), so its status is lost; report it as a failure.
      code = 255
    }
    return code
  }

  func send(_ signal: Int32) {
    guard poll() == nil else { return }
    _ = cs_pidfd_send_signal(pidfd, signal)
  }

  func close() {
    guard !closed else { return }
    closed = true
    _ = Glibc.close(pidfd)
  }

  private var closed = false

  /// A handle dropped without ``close()`` (its process object released) closes its pidfd,
  /// as Python's Popen closes its sentinel when it is collected.
  deinit { close() }
}
