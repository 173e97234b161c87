import Multiprocessing

/// How the pool knows whether a worker lives, waits for its end and ends it: every worker is
/// a local process (its pid, its exit, `SIGKILL`), whatever link carries its work. (Workers
/// on other machines are `ComputeEngineMPI`'s ranks, each running a local pool.) Used by the
/// dispatcher only, never in a worker.
final class ProcessLiveness: Sendable {
  let process: Multiprocessing.Process

  /// Watches `process`, started.
  init(_ process: Multiprocessing.Process) {
    self.process = process
  }

  /// The worker's process id, for errors and logs (0 when it has none).
  var pid: Int32 { ((try? process.pid) ?? nil) ?? 0 }
  /// The worker's name, for errors and logs.
  var name: String { process.name }
  /// Whether the worker still runs.
  var isAlive: Bool { (try? process.isAlive) == true }
  /// How the worker ended; nil while it runs.
  var terminationStatus: TerminationStatus? { (try? process.terminationStatus) ?? nil }
  /// A descriptor that polls readable once the worker ended.
  var sentinel: Int32? { try? process.sentinel }
  /// Where the lock lies that the worker waits on for good, inherited held when it was forked
  /// (`Process.isStuckOnInheritedLock`: nothing can wake it); nil when it does not.
  var inheritedLock: String? { (try? process.inheritedLock) ?? nil }
  /// Ends the worker at once, as a crash would.
  func kill() { try? process.kill() }
  /// Waits for the worker's end.
  func join() { _ = try? process.join() }
  /// Frees what watching the worker held.
  func close() { try? process.close() }
}
