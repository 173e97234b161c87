import SystemCalls

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
    sentinel = (try? SystemCall.openPidfd(pid).rawValue) ?? -1
  }

  /// Whether the parent is still running.
  public var isAlive: Bool {
    sentinel >= 0
      ? SystemCall.pollReadable([sentinel], timeout: .zero).isEmpty
      : (try? SystemCall.sendSignal(0, to: pid)) != nil
  }

  /// Waits until the parent ends or `timeout` passes.
  public func join(timeout: Duration? = nil) {
    guard sentinel >= 0 else { return }
    _ = SystemCall.pollReadable([sentinel], timeout: timeout)
  }
}
