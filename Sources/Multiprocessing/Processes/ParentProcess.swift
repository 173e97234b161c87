import CSystemShims

#if canImport(Glibc)
  import Glibc
#endif

/// The process that started this one, as ``parentProcess()`` returns it in a child: Python's
/// `parent_process()`.
public final class ParentProcess: Sendable {
  /// The parent's name.
  public let name: String
  /// The parent's process id.
  public let pid: Int32
  /// A pidfd that becomes readable when the parent ends (-1 if it could not be opened).
  public let sentinel: Int32

  init(name: String, pid: Int32) {
    self.name = name
    self.pid = pid
    let fd = cs_pidfd_open(pid)
    sentinel = fd >= 0 ? fd : -1
  }

  /// Whether the parent is still running.
  public var isAlive: Bool {
    sentinel >= 0 ? pollReadable([sentinel], timeout: .zero).isEmpty : Glibc.kill(pid, 0) == 0
  }

  /// Waits until the parent ends or `timeout` passes.
  public func join(timeout: Duration? = nil) {
    guard sentinel >= 0 else { return }
    _ = pollReadable([sentinel], timeout: timeout)
  }
}
