import Multiprocessing

/// How the pool knows whether a worker lives, waits for its end and ends it: a local process
/// today (``ProcessLiveness``); a worker on another machine implements the same requirements.
///
/// Used by the dispatcher only, never in a worker.
protocol WorkerLiveness: AnyObject, Sendable {
  /// The worker's process id, for errors and logs (0 when it has none).
  var pid: Int32 { get }
  /// The worker's name, for errors and logs.
  var name: String { get }
  /// Whether the worker still runs.
  var isAlive: Bool { get }
  /// How the worker ended; nil while it runs.
  var terminationStatus: TerminationStatus? { get }
  /// A descriptor that polls readable once the worker ended, when there is one.
  var sentinel: Int32? { get }
  /// Whether the worker waits for good on a lock it inherited held when it was forked
  /// (`Process.isStuckOnInheritedLock`): nothing can wake it.
  var isStuckOnInheritedLock: Bool { get }
  /// Ends the worker at once, as a crash would.
  func kill()
  /// Waits for the worker's end.
  func join()
  /// Frees what watching the worker held.
  func close()
}

/// The liveness of a worker that is a local process: its pid, its exit, `SIGKILL`.
final class ProcessLiveness: WorkerLiveness {
  let process: Multiprocessing.Process

  /// Watches `process`, started.
  init(_ process: Multiprocessing.Process) {
    self.process = process
  }

  var pid: Int32 { ((try? process.pid) ?? nil) ?? 0 }
  var name: String { process.name }
  var isAlive: Bool { (try? process.isAlive) == true }
  var terminationStatus: TerminationStatus? { (try? process.terminationStatus) ?? nil }
  var sentinel: Int32? { try? process.sentinel }
  var isStuckOnInheritedLock: Bool { (try? process.isStuckOnInheritedLock) == true }
  func kill() { try? process.kill() }
  func join() { _ = try? process.join() }
  func close() { try? process.close() }
}
