import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// The children a fork server or template forked and has not yet reaped, each with the status
/// socket on which its exit code goes to the client that asked for it.
///
/// A list, not a dictionary keyed by pid: a server has a few children at a time, and the first
/// dictionary keyed by `pid_t` in a process has the Swift runtime check that `Int32` is
/// `Hashable` by a scan of every conformance record of the program (in each process's first
/// pool, whose template warms the server's loop up).
struct ServedChildren {
  private var entries: [(pid: pid_t, statusFD: FileDescriptor)] = []

  /// The children's pids.
  var pids: [pid_t] { entries.map { $0.pid } }

  /// Records child `pid`, whose exit code goes to `statusFD`.
  mutating func add(_ pid: pid_t, statusFD: FileDescriptor) {
    entries.append((pid, statusFD))
  }

  /// Forgets child `pid` and returns its status socket; nil for a pid it does not hold.
  mutating func remove(_ pid: pid_t) -> FileDescriptor? {
    guard let index = entries.firstIndex(where: { $0.pid == pid }) else { return nil }
    return entries.remove(at: index).statusFD
  }

  /// Closes every status socket: in a freshly forked child, which must not hold its siblings'.
  func releaseStatusFDs() {
    for entry in entries { entry.statusFD.release() }
  }
}
