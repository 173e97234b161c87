import Multiprocessing

/// A worker's status for a link without shared memory (the pipe link): each end keeps a
/// private line. The worker writes its own, and its link sends it as a ``StatusReport`` in
/// its messages when it changed (and on its own before each task, so that the pool knows
/// which task a worker that dies was running); the pool's end keeps the last one received,
/// which the pool reads as it reads a shared line.
final class InBandStatus: @unchecked Sendable {
  // @unchecked: each end is used by one thread (the worker's, or the pool's under its lock).
  private let line = UnsafeMutableRawPointer.allocate(byteCount: WorkerStatus.size, alignment: WorkerStatus.size)
  /// Worker: the report sent last.
  private var sent: StatusReport?
  /// Why the worker could not start, if it said.
  private(set) var startFailure: String?

  init() {
    line.initializeMemory(as: UInt8.self, repeating: 0, count: WorkerStatus.size)
    WorkerStatus(line, timed: false).clear()
  }

  deinit { line.deallocate() }

  /// This end's line; `timed`: the worker's tasks' starts are timed (for the task timeout).
  func status(timed: Bool = true) -> WorkerStatus { WorkerStatus(line, timed: timed) }

  /// Worker: the line as a report, when it changed since the last one sent (or `always`).
  func report(always: Bool = false) -> StatusReport? {
    let status = self.status()
    let now = StatusReport(
      current: status.current, startedAt: status.startedAt, taskNanoseconds: status.taskNanoseconds,
      reportedIn: status.reportedIn)
    guard always || now != sent else { return nil }
    sent = now
    return now
  }

  /// Pool: takes what the worker reported.
  func apply(_ report: StatusReport) {
    let status = self.status()
    status.current = report.current
    status.startedAt = report.startedAt
    status.taskNanoseconds = report.taskNanoseconds
    status.reportedIn = report.reportedIn
    if let failure = report.startFailure { startFailure = failure }
  }
}

/// A worker's ``WorkerStatus`` line as a message carries it, with an initializer's failure.
struct StatusReport: Codable, Equatable {
  var current: Int
  var startedAt: Int
  var taskNanoseconds: Int
  var reportedIn: Bool
  var startFailure: String?
}
