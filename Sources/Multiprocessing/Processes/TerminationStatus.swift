import CSystemShims
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// How a process ended: it exited with a code, or a signal ended it.
///
/// ``Process/exitCode`` gives the same as Python's `exitcode` (the code, or the negative
/// signal number); this type says it without the sign convention. The `waitpid` calls that
/// report it (`SystemCall.reap`) are in this file, and return it decoded.
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

// The `waitpid` calls live here, beside the status they report, rather than in the
// system-call layer, which no public type of this module can sit in.
extension SystemCall {
  /// Waits until child `pid` ends and reaps it: how it ended, or nil when it is not (or no
  /// longer) this process's child.
  @discardableResult
  package static func reap(_ pid: pid_t) -> TerminationStatus? {
    var status: Int32 = 0
    return (try? retrying { waitpid(pid, &status, 0) }) == pid ? TerminationStatus(waitStatus: status) : nil
  }

  /// Reaps child `pid` if it has ended: how it ended, or nil while it runs.
  /// Throws `ECHILD` when it is not (or no longer) this process's child.
  package static func reapIfEnded(_ pid: pid_t) throws(Errno) -> TerminationStatus? {
    var status: Int32 = 0
    return try retrying { waitpid(pid, &status, WNOHANG) } == pid ? TerminationStatus(waitStatus: status) : nil
  }

  /// Reaps any ended child: its pid and how it ended, or nil when none has ended.
  package static func reapAnyEnded() -> (pid: pid_t, status: TerminationStatus)? {
    var status: Int32 = 0
    guard let pid = try? retrying({ waitpid(-1, &status, WNOHANG) }), pid > 0 else { return nil }
    return (pid, TerminationStatus(waitStatus: status))
  }
}
