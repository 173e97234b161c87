import Multiprocessing

/// A worker's loop, the same over every transport: it takes the tasks its ``WorkerLink``
/// receives, runs the kernel on each, marks each in its ``WorkerStatus`` line, times them for
/// the dispatcher, sends the outputs back in batches, reports failures, stops at its task
/// quota, and claims chunks of the board's job when a marker (a task of job 0) says one waits.
struct WorkerRuntime<Input, Output> {
  /// The most tasks taken at once.
  let chunkSize: Int
  /// The tasks after which the worker ends, if any.
  let maxTasks: Int?
  /// How long the worker spins waiting for tasks before it sleeps.
  let spin: Duration
  /// The worker's status line (wherever its link keeps it).
  let status: WorkerStatus
  /// Claims and runs chunks of the board's job until none is free, reporting failed tasks
  /// through `fail`; true when the pool's thread must be woken to finish it (see
  /// ``BoardRole``).
  typealias BoardClaim = (_ fail: (TaskID, String) throws -> Void) throws -> Bool

  /// The worker's part on the board; nil without a board.
  let claimBoard: BoardClaim?
  /// The kernel.
  let kernel: (Input) throws -> Output
  /// Wakes the pool's thread if it sleeps and no caller collects.
  let wakeParent: () -> Void

  /// Serves the tasks `link` receives until its channels close or the quota is used up.
  ///
  /// A receive may take several chunks. The worker times its tasks (after each in a small
  /// batch, whose tasks are long; every 16 in a large one) and publishes the time per task,
  /// from which the dispatcher decides how much work to give it ahead. Outputs go back after
  /// the batch, and also whenever ``PoolLimits/longTaskNanoseconds`` (5 ms) has passed, so
  /// that the dispatcher can hand the rest of the work to idle workers instead of waiting for
  /// the whole batch.
  func serve(_ link: any WorkerLink<Input, Output>) throws {
    var processed = 0
    while let received = try link.receive(upTo: min(chunkSize, (maxTasks ?? .max) - processed), spin: spin) {
      let checkMask = received.runnable <= 16 ? 0 : 15
      var ran = 0
      var lastCheck = monotonicNanoseconds()
      var lastSent = lastCheck
      try link.run(kernel, count: received.runnable, wakeParent: wakeParent) { task in
        guard task.job != 0 else {
          // A marker: a job waits on the board. Only the worker that completes it may have
          // to wake the pool's thread; the others' batches say nothing.
          if let claimBoard, try claimBoard({ try link.fail($0, message: $1, wakeParent: wakeParent) }) {
            wakeParent()
          }
          return false
        }
        ran += 1
        status.start(task)
        return true
      } didRun: { position in
        guard position & checkMask == checkMask else { return }
        let now = monotonicNanoseconds()
        status.taskNanoseconds = max(1, (now - lastCheck) / (checkMask + 1))
        lastCheck = now
        if now - lastSent >= PoolLimits.longTaskNanoseconds {
          _ = try link.flush()
          wakeParent()
          lastSent = now
        }
      }
      processed += received.taken
      status.current = -1
      if try link.flush() || ran > 0 { wakeParent() }
      if let maxTasks, processed >= maxTasks { return }
    }
  }
}
