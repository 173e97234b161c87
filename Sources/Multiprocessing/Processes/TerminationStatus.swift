import CSystemShims

#if canImport(Glibc)
  import Glibc
#endif

/// How a process ended: it exited with a code, or a signal ended it.
///
/// ``Process/exitCode`` gives the same as Python's `exitcode` (the code, or the negative
/// signal number); this type says it without the sign convention.
public enum TerminationStatus: Sendable, Hashable, CustomStringConvertible {
  /// The process exited with this code (0: success).
  case exited(Int32)
  /// A signal (its number) ended the process.
  case signaled(Int32)

  /// The status `waitpid` reported.
  package init(waitStatus status: Int32) {
    self = cs_wifsignaled(status) != 0 ? .signaled(cs_wtermsig(status)) : .exited(cs_wexitstatus(status))
  }

  /// The status that Python's `exitcode` `code` stands for: a negative code is a signal.
  public init(exitCode code: Int32) {
    self = code < 0 ? .signaled(-code) : .exited(code)
  }

  /// Python's `exitcode`: the exit code, or the negative signal number.
  public var exitCode: Int32 {
    switch self {
    case .exited(let code): code
    case .signaled(let signal): -signal
    }
  }

  /// Whether the process exited with code 0.
  public var isSuccess: Bool { self == .exited(0) }

  /// "exited with code 3", "killed by signal 9 (Killed)".
  public var description: String {
    switch self {
    case .exited(let code): "exited with code \(code)"
    case .signaled(let signal): "killed by signal \(signal) (\(String(cString: strsignal(signal))))"
    }
  }
}
