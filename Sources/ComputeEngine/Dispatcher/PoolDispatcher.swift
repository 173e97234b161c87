import Foundation
import Logging
import Multiprocessing
import Scheduler
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// The parent's side of a ``ProcessPool``: one thread that hands chunks of tasks to the
/// workers, collects their results, and supervises them.
///
/// It sleeps as its ``DispatcherSleeper`` says: in `poll` on the workers' sentinels and a
/// doorbell that workers ring after sending results (only while it sleeps). A worker that ends unexpectedly is noticed at once:
/// the task it was running fails with ``PoolError/workerDied(pid:status:)``, the
/// other tasks it held go back to the queue, and a new worker takes its slot. A worker that
/// does not reach its loop within ``PoolLimits/workerStartBound`` is killed and handled the
/// same way.
///
/// With the fork start method, workers are not forked from this (multi-threaded) process but
/// from a fork template: a single-threaded copy of it forked once when the pool starts
/// (``ForkserverClient/template(entryPoint:budget:beforeConfirming:)``), which holds the kernel and forks
/// every worker, first and replacement. A template that dies, or whose worker never
/// reported in, is replaced.
final class PoolDispatcher<Input: Sendable, Output: Sendable>: @unchecked Sendable {
  // @unchecked: all mutable state is guarded by `lock`; the thread reads it only under it.

  let kernel: PoolKernel<Input, Output>
  let startMethod: StartMethod
  let placement: Placement
  /// Whether workers bind to their slots.
  let pinned: Bool
  let taskTimeout: Duration?
  let maxTasksPerWorker: Int?
  /// How long workers (for tasks) and a caller in ``help(until:)`` (for results) spin before
  /// sleeping; this thread keeps ``Spin/limit``: spinning longer here starves the workers on a
  /// machine whose cores they fill.
  let spinWindow: Duration
  let control: PoolControl
  /// Where worker deaths, replacements and timeouts are logged.
  let logger: Logger
  let metrics: PoolMetrics
  /// The fork templates that fork the workers of a fork pool; nil for other start methods,
  /// and once the pool has shut down.
  var forkTemplates: ForkTemplateKeeper?
  /// How this pool's thread sleeps and is woken.
  let sleeper: DispatcherSleeper
  let lock = NSLock()
  var workers: [Worker] = []
  /// Chunks waiting for a worker, the next one last (so that taking it is O(1)).
  var queue: [Chunk] = []
  @exclusivity(unchecked) private var jobs: [Int: PoolJob<Input, Output>] = [:]
  var nextJobID = 0
  /// Per slot, how many workers in a row ended before answering anything.
  var failedStarts: [Int] = []
  /// After this many failed starts in a row, the work they held fails instead of waiting.
  static var maxFailedStarts: Int { 3 }
  /// The claim board of a pool of `BitwiseCopyable` values, and the job on it (see
  /// ``BoardRounds``); others are pushed chunk by chunk.
  let boardRounds: BoardRounds<Input, Output>?
  /// The last worker incarnation handed out.
  var lastIncarnation = 0
  /// The job the last result belonged to: most results in a row belong to one job.
  var lastJob: PoolJob<Input, Output>?
  var closing = false
  var terminated = false
  /// How long a worker may take to report in (shorter in the tests).
  var startBound = PoolLimits.workerStartBound
  /// For the tests: the next `count` workers die at `step` of the board protocol.
  var dyingWorkers: (count: Int, step: BoardStep?) = (0, nil)
  var finished = false
  let stopped = DispatchSemaphore(value: 0)

  init(
    kernel: PoolKernel<Input, Output>, startMethod: StartMethod, placement: Placement, pinned: Bool,
    taskTimeout: Duration?,
    maxTasksPerWorker: Int?, spinWindow: Duration, telemetry: PoolTelemetry
  ) throws {
    logger = telemetry.resolvedLogger
    metrics = PoolMetrics(telemetry)
    self.kernel = kernel
    self.startMethod = startMethod
    self.placement = placement
    self.pinned = pinned
    self.taskTimeout = taskTimeout
    self.maxTasksPerWorker = maxTasksPerWorker
    self.spinWindow = spinWindow
    let doorbell: PipeDoorbell
    do { doorbell = try PipeDoorbell() } catch {
      throw PoolError.system(call: "pipe", errno: error)
    }
    failedStarts = Array(repeating: 0, count: placement.count)
    do {
      control = try PoolControl(slots: placement.count)
      sleeper = DispatcherSleeper(doorbell: doorbell, control: control)
      if let makeBoard = kernel.makeBoard, let writeInputs = kernel.writeBoardInputs {
        boardRounds = BoardRounds(
          board: try makeBoard(), control: control, slots: placement.count, writeInputs: writeInputs)
      } else {
        boardRounds = nil
      }
    } catch {
      doorbell.close()
      throw error
    }
    do {
      if startMethod == .fork { forkTemplates = try ForkTemplateKeeper(kernel: kernel, logger: logger) }
      for slot in placement.slots.indices { workers.append(try startWorker(slot: slot)) }
      if kernel.initializer != nil { try awaitInitializers() }
    } catch {
      for worker in workers { worker.liveness.kill() }
      for worker in workers { worker.liveness.join() }
      forkTemplates?.stopAll()
      throw error  // deinit closes the doorbell: it runs for an initializer that throws here
    }
    let thread = Thread { [self] in loop() }
    thread.name = "mp-pool-dispatcher"
    thread.start()
    atProcessExit { [weak self] in
      self?.terminate()
      try? self?.join()
    }
  }

  deinit { sleeper.close() }

  /// Waits until every new worker ran the pool's initializer (and reached its loop).
  ///
  /// - Throws: ``PoolError/initializerFailed(_:)`` with the first failure's message, also for
  ///   a worker that ended or did not get there within the start bound.
  func awaitInitializers() throws {
    let deadline = ContinuousClock.now + startBound
    for worker in workers {
      while !control.status(worker.slot).reportedIn {
        if let message = control.startFailure(slot: worker.slot) { throw PoolError.initializerFailed(message) }
        if !worker.liveness.isAlive {
          let status = worker.liveness.terminationStatus.map { "\($0)" } ?? "ended"
          throw PoolError.initializerFailed("worker \(worker.liveness.pid) \(status) in it")
        }
        guard ContinuousClock.now < deadline else {
          throw PoolError.initializerFailed("a worker did not finish it within \(startBound)")
        }
        usleep(100)
      }
    }
  }

  /// Waits until every slot's worker reported in, or `timeout` passes; false then, or when
  /// the pool is closed or terminated.
  func waitUntilReady(timeout: Duration) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
      let (slots, open) = lock.withLock { (workers.map(\.slot), !closing && !terminated) }
      guard open else { return false }
      if slots.count == placement.count, slots.allSatisfy({ control.status($0).reportedIn }) { return true }
      guard ContinuousClock.now < deadline else { return false }
      usleep(100)
    }
  }

  /// Bounds a worker's start at `bound`: for the tests.
  func setStartBound(_ bound: Duration) {
    lock.withLock { startBound = bound }
  }

  /// Makes the next `count` workers kill themselves at `step` of the board protocol: for the
  /// tests.
  func setDyingWorkers(_ count: Int, at step: BoardStep) {
    lock.withLock { dyingWorkers = (count, step) }
  }

  func startWorker(slot: Int) throws -> Worker {
    let channels = try kernel.makeChannels()
    control.clearStartFailure(slot: slot)
    lastIncarnation += 1
    let incarnation = lastIncarnation
    control.status(slot).clear()
    let plan = WorkerPlan(
      channels: channels.handleData, control: control.memory.handle, slot: slot,
      cpus: pinned ? placement.slots[slot].cpus : nil, chunkSize: PoolLimits.maxChunk,
      maxTasks: maxTasksPerWorker, spinNanoseconds: spinWindow.nanoseconds,
      doorbellPid: getpid(), doorbellFD: sleeper.doorbell.writeEnd.rawValue, forked: startMethod == .fork,
      timed: taskTimeout != nil, board: boardRounds?.board.memory.handle,
      incarnation: incarnation, diesForTesting: dyingWorkers.count > 0 ? dyingWorkers.step : nil)
    dyingWorkers.count = max(0, dyingWorkers.count - 1)
    let arguments = try BinaryEncoder().encode(plan)
    func started() throws -> Multiprocessing.Process {
      let process = Multiprocessing.Process(
        name: "PoolWorker-\(slot)", daemon: true, startMethod: startMethod, template: forkTemplates?.current,
        entryPoint: kernel,
        encodedArguments: arguments)
      try process.start()
      return process
    }
    let process: Multiprocessing.Process
    do {
      process = try started()
    } catch ProcessError.forkserver(let reason) where forkTemplates != nil {
      // The template is gone (killed, or it died with an earlier worker's start): a new one.
      logger.warning("the pool's fork template failed", metadata: ["reason": "\(reason)"])
      try forkTemplates?.replace(gone: true)
      process = try started()
    }
    let worker = Worker(
      slot: slot, incarnation: incarnation, liveness: ProcessLiveness(process), channels: channels)
    // A worker started while a job is on the board (a replacement) joins it.
    if boardJob != nil { channels.sendBoardMarker() }
    return worker
  }

  // MARK: Jobs

  /// A submitted job: its id (for ``cancel(jobID:)``), and whether it went on the claim
  /// board (see ``help(until:onBoard:)``).
  struct Submitted {
    let jobID: Int
    let onBoard: Bool
  }

  /// Queues `inputs` as one job, split into chunks.
  @discardableResult
  func submit(
    _ inputs: [Input], chunkSize: Int?, onResult: ((Int, Result<Output, PoolError>) -> Void)?,
    onFinish: @escaping (PoolJob<Input, Output>) -> Void
  ) throws -> Submitted {
    if let chunkSize, chunkSize < 1 {
      throw PoolError.invalidArgument("chunkSize must be at least 1, not \(chunkSize)")
    }
    guard inputs.count <= TaskID.maxPerJob else {
      throw PoolError.invalidArgument("at most \(TaskID.maxPerJob) inputs per call, not \(inputs.count)")
    }
    var needsDispatcher = true
    var onBoard = false
    var jobID = 0
    try lock.withLock {
      guard !closing, !terminated else { throw terminated ? PoolError.terminated : PoolError.closed }
      nextJobID += 1
      jobID = nextJobID
      let job = PoolJob(id: nextJobID, inputs: inputs, onResult: onResult, onFinish: onFinish)
      guard !inputs.isEmpty else {
        finishLocked(job)
        return
      }
      if let boardRounds, jobs.isEmpty, onResult == nil, maxTasksPerWorker == nil {
        // Alone: on the board, where the workers claim it without this pool's thread.
        jobs[job.id] = job
        metrics.tasksOutstanding.set(outstandingTasksLocked)
        boardRounds.start(job, chunkSize: chunkSize, workers: workers)
        // This thread is needed only to enforce a task timeout: the last worker rings it.
        needsDispatcher = taskTimeout != nil
        onBoard = true
        return
      }
      jobs[job.id] = job
      metrics.tasksOutstanding.set(outstandingTasksLocked)
      let size = min(chunkSize ?? automaticChunkSize(inputs.count), PoolLimits.maxChunk)
      let chunks = stride(from: 0, to: inputs.count, by: size).map {
        Chunk(job: job, range: $0..<min($0 + size, inputs.count))
      }
      queue.insert(contentsOf: chunks.reversed(), at: 0)
      // The caller hands the chunks out itself, rather than waking this thread to do it.
      dispatchLocked()
      needsDispatcher = taskTimeout != nil || !queue.isEmpty || workers.contains { !$0.channels.resultsNeverWait }
    }
    // This thread must look again when the work needs watching (a task timeout, a result that
    // may wait for room) or when not all of it went out; otherwise the workers ring the
    // doorbell themselves when they send results while it sleeps.
    if needsDispatcher { ringDoorbell() }
    return Submitted(jobID: jobID, onBoard: onBoard)
  }

  /// Gives up job `id`, whose caller stopped waiting: its inputs no worker has taken fail as
  /// ``PoolError/cancelled`` (its queued chunks are dropped, its free chunks on the board
  /// withdrawn), and those taken run to their end. Nothing happens once the job finished.
  func cancel(jobID id: Int) {
    lock.withLock {
      guard let job = jobs[id], !job.cancelled else { return }
      job.cancelled = true
      if job === boardJob {
        withdrawBoardLocked()
        return
      }
      var kept: [Chunk] = []
      var dropped: [Range<Int>] = []
      for chunk in queue {
        if chunk.job === job { dropped.append(chunk.range) } else { kept.append(chunk) }
      }
      queue = kept
      for range in dropped {
        for local in range where !job.isDone(local) { failLocked(job, local, .cancelled) }
      }
      metrics.tasksOutstanding.set(outstandingTasksLocked)
    }
  }

  /// Hands out queued chunks and collects results on the calling thread while `finished`
  /// is false, for at most the spin window: a caller that waits for a short job finds its
  /// results without waiting for this pool's thread to wake up and pass them on. Takes the
  /// lock only when it is free.
  ///
  /// While a caller collects, workers do not ring this pool's thread: woken, it would only
  /// take a CPU from the workers and the caller. A caller that stops before `finished` rings
  /// it, so that it collects the rest, as does one that leaves other jobs running.
  /// A job on the board (`onBoard`) is waited for until it finishes: spinning for the spin
  /// window or ``PoolLimits/boardCallerSpin``, whichever is longer (none with a zero
  /// window), then asleep on the board, costing no CPU.
  ///
  /// The caller announces itself with ``beginCollecting()`` before it submits the job, so
  /// that a worker that completes the job at once already sees it.
  func help(until finished: () -> Bool, onBoard: Bool) {
    defer {
      endCollecting()
      // Results that came while this caller collected (its own, or another job's) are left
      // to this pool's thread, which no worker rang meanwhile.
      if !finished() || lock.withLock({ !jobs.isEmpty }) { ringDoorbell() }
    }
    /// Collects what came (when the lock is free) and says whether the job is finished.
    func look() -> Bool {
      if lock.try() {
        drainLocked()
        if !terminated { dispatchLocked() }
        lock.unlock()
      }
      return finished()
    }
    // Politely: this thread is not pinned, and the workers may fill every core.
    let window = onBoard && spinWindow > .zero ? max(spinWindow, PoolLimits.boardCallerSpin) : spinWindow
    // A round the workers' measured time per task says is long: yield from the first look.
    let expected = Duration.nanoseconds(onBoard ? lock.withLock { boardRounds?.expectedNanoseconds ?? 0 } : 0)
    let pausing = Spin.pausing(forExpectedWait: expected)
    guard !Spin.untilYielding(limit: window, pausing: pausing, look), onBoard, let board = boardRounds?.board else {
      return
    }
    // A job on the board that takes longer than the window: sleep until a worker says it is
    // complete, leaving every CPU to the workers. Woken at least every millisecond to look
    // again (after a death or a timeout, the pool's thread may have completed the job instead).
    while true {
      // Read before looking: a completion after this is seen by the sleep below.
      let seen = board.completions.load()
      if look() { return }
      board.waitForCompletion(seen: seen, until: .now + .milliseconds(1)) { board.isRoundCounted(in: control) }
    }
  }

  /// Says that the calling thread will collect the results of the job it submits next, in
  /// ``help(until:onBoard:)``, which ends it (or ``endCollecting()``, if the submit fails).
  func beginCollecting() {
    _ = control.header(.collectors).add(1)
  }

  /// Undoes ``beginCollecting()``.
  func endCollecting() {
    _ = control.header(.collectors).add(-1)
  }

  func ringDoorbell() {
    sleeper.ring()
  }

  // MARK: Shutdown

  /// Accepts no new work; workers exit once the queued work is done.
  func close() {
    lock.withLock { closing = true }
    ringDoorbell()
  }

  /// Kills every worker now; unfinished work fails with ``PoolError/terminated``.
  func terminate() {
    lock.withLock {
      terminated = true
      closing = true
    }
    ringDoorbell()
  }

  /// Waits until the dispatcher has stopped and every worker has ended.
  func join() throws {
    guard lock.withLock({ closing }) else {
      throw PoolError.invalidArgument("join() needs close() or terminate() first")
    }
    stopped.wait()
    stopped.signal()
  }

  /// The pids of the current workers.
  var workerPIDs: [Int32] { lock.withLock { workers.compactMap { $0.liveness.pid == 0 ? nil : $0.liveness.pid } } }

  // MARK: The dispatcher thread

  func loop() {
    var ready: [Int32] = []
    while true {
      let next: (Duration?, [Int32])? = lock.withLock {
        if terminated {
          shutDownLocked()
          return nil
        }
        drainLocked()
        superviseLocked(ready: ready)
        if !queue.isEmpty { restartDownSlotsLocked() }
        dispatchLocked()
        if closing && queue.isEmpty && boardJob == nil && workers.allSatisfy({ $0.pending.isEmpty }) {
          for worker in workers { worker.channels.close() }
          if workers.allSatisfy({ !$0.liveness.isAlive }) {
            shutDownLocked()
            return nil
          }
        }
        // Results due soon: a short spin answers far sooner than a sleep and a wake-up.
        if workers.contains(where: { !$0.pending.isEmpty }),
          Spin.until({ workers.contains(where: { $0.channels.hasResults }) })
        {
          return (.zero, [])
        }
        guard
          sleeper.announce(unless: {
            workers.contains(where: { $0.channels.hasResults }) || boardRounds?.isRoundComplete == true
          })
        else { return (.zero, []) }
        // While work is out, wake now and then even without a doorbell: to enforce the task
        // timeout, and for a worker whose result is larger than its ring, which blocks
        // before it can ring. A job on the board needs neither (its workers ring before a
        // failure that may wait, and a caller collecting looks itself): there, a slow look
        // only, rather than taking a worker's CPU every 5 ms. While a worker has not
        // reported in, to bound its start.
        let watched = workers.contains { !$0.pending.isEmpty } || (boardJob != nil && taskTimeout != nil)
        let starting = workers.contains { !$0.down && !control.status($0.slot).reportedIn }
        let wake: Duration? = watched ? .milliseconds(5) : boardJob != nil || starting ? .milliseconds(50) : nil
        return (wake, workers.compactMap { $0.liveness.sentinel })
      }
      guard let next else { break }
      let (sleepFor, watched) = next
      ready = sleeper.sleep(for: sleepFor, watching: watched)
    }
    finished = true
    stopped.signal()
  }

  /// Hands every waiting result to its job, and finishes the board's job once every chunk is
  /// done.
  func drainLocked() {
    for worker in workers { drainLocked(worker) }
    collectBoardLocked()
  }

  func drainLocked(_ worker: Worker) {
    // No tuples or optionals of generic types here: unspecialised, each would cost a
    // runtime metadata lookup per result.
    var job = lastJob
    func finish(_ finished: PoolJob<Input, Output>) {
      // The board's job ends when its chunks are all done (collectBoardLocked), not when its
      // failures alone account for every task: a worker may still be marking a chunk.
      guard finished !== boardJob else { return }
      finishLocked(finished)
      job = nil
    }
    func find(_ jobID: Int) -> Bool {
      if job == nil || job!.id != jobID { job = jobs[jobID] }
      return job != nil
    }
    worker.answered = worker.answered || worker.channels.hasResults
    worker.channels.drain(
      succeed: { index, output in
        worker.reported(jobID: index.job, local: index.local)
        if find(index.job), job!.succeed(index.local, output) { finish(job!) }
      },
      succeedRun: { run in
        worker.reported(jobID: run.firstIndex.job, local: run.firstIndex.local, count: run.count)
        if find(run.firstIndex.job), job!.succeed(run.firstIndex.local, run) { finish(job!) }
      },
      fail: { index, error in
        worker.reported(jobID: index.job, local: index.local)
        if find(index.job), job!.fail(index.local, error) { finish(job!) }
      })
    lastJob = job
  }

  /// Fails task `local` of `job`, finishing the job when it was the last.
  func failLocked(_ job: PoolJob<Input, Output>, _ local: Int, _ error: PoolError) {
    guard job.fail(local, error), job !== boardJob else { return }
    finishLocked(job)
  }

  /// Hands a finished job its outputs and counts it.
  func finishLocked(_ job: PoolJob<Input, Output>) {
    jobs[job.id] = nil
    if lastJob === job { lastJob = nil }
    metrics.tasksSucceeded.increment(by: Int64(job.count - job.failureCount))
    metrics.tasksFailed.increment(by: Int64(job.failureCount))
    metrics.jobDuration.recordNanoseconds(monotonicNanoseconds() - job.submittedAt)
    metrics.tasksOutstanding.set(outstandingTasksLocked)
    job.onFinish(job)
  }

  /// Tasks submitted and not yet finished.
  var outstandingTasksLocked: Int { jobs.values.reduce(0) { $0 + $1.remaining } }

  func shutDownLocked() {
    for worker in workers {
      worker.channels.close()
      if terminated { worker.liveness.kill() }
    }
    for worker in workers {
      worker.liveness.join()
      worker.liveness.close()
    }
    forkTemplates?.stopAll()
    forkTemplates = nil
    // Every worker has ended: the board's job fails with the others.
    boardRounds?.clear()
    defer { boardRounds?.board.signalCompletion() }
    for job in jobs.values {
      job.failRemaining(.terminated)
      finishLocked(job)
    }
    queue = []
  }
}
