import Foundation
import Logging
import Multiprocessing
import Scheduler

#if canImport(Glibc)
  import Glibc
#endif

/// The pool's workers from start to end.
///
/// It starts them (with the fork start method, from a fork template: a single-threaded copy
/// of the pool's process, forked once when the pool starts, that holds the kernel and forks
/// every worker, first and replacement — see ``ForkTemplateKeeper``), and waits for their
/// initializers. It kills a worker that overruns the task timeout, or that does not reach its
/// loop within ``PoolLimits/workerStartBound``. When a worker ends, the task it was running
/// fails with ``PoolError/workerDied(pid:status:)`` (or ``PoolError/taskTimedOut(pid:timeout:)``),
/// the other tasks it held go back to the queue, and a new worker takes its slot; a slot whose
/// workers die before answering anything, ``maxFailedStarts`` times in a row, gives up, and
/// the work waiting for it fails. Used under the dispatcher's lock.
final class WorkerSupervisor<Input: Sendable, Output: Sendable> {
  typealias Worker = WorkerRecord<Input, Output>

  let kernel: PoolKernel<Input, Output>
  /// What the pool was asked for.
  let settings: PoolSettings
  /// What makes each worker's channels.
  let links: any PoolLinks<Input, Output>
  let logger: Logger
  let metrics: PoolMetrics
  /// Where tasks fail and the board's job is collected.
  let jobs: PoolJobs<Input, Output>
  /// Where a dead worker's other tasks go back.
  let queue: PushQueue<Input, Output>
  /// The fork templates that fork the workers of a fork pool; nil for other start methods,
  /// and once the pool has shut down.
  private(set) var forkTemplates: ForkTemplateKeeper?
  /// The current worker of each slot.
  private(set) var workers: [Worker] = []
  /// Per slot, how many workers in a row ended before answering anything.
  private var failedStarts: [Int]
  /// The last worker incarnation handed out.
  private var lastIncarnation = 0
  /// When the workers holding work were last looked at for one stuck on an inherited lock.
  private var lastStuckCheck = 0
  /// How long a worker may take to report in (shorter in the tests).
  var startBound = PoolLimits.workerStartBound
  /// The template's answers (the workers' pids) that ``startAll()`` left unread, so that the
  /// pool serves as soon as its first worker is forked: the dispatcher's thread reads them
  /// (``takeUnreadStarts()``, ``readStarts(_:)``) before it looks at any worker.
  private var unreadStarts: [Multiprocessing.Process.PendingStart] = []
  /// After this many failed starts in a row, the work they held fails instead of waiting.
  static var maxFailedStarts: Int { 3 }

  init(
    kernel: PoolKernel<Input, Output>, settings: PoolSettings, links: any PoolLinks<Input, Output>, logger: Logger,
    metrics: PoolMetrics, jobs: PoolJobs<Input, Output>,
    queue: PushQueue<Input, Output>
  ) {
    self.kernel = kernel
    self.settings = settings
    self.links = links
    self.logger = logger
    self.metrics = metrics
    self.jobs = jobs
    self.queue = queue
    failedStarts = Array(repeating: 0, count: settings.placement.count)
  }

  // MARK: Starting

  /// Starts a worker in every slot (first the fork template, for a fork pool) and waits for
  /// their initializers; on a failure, ends what it started and throws.
  func startAll() throws {
    do {
      if settings.startMethod == .fork { forkTemplates = try ForkTemplateKeeper(kernel: kernel, logger: logger) }
      // Without an initializer to wait for, the first worker's pid is enough to serve.
      let slots = Array(settings.placement.slots.indices)
      workers = try startWorkers(slots: slots, reading: kernel.initializer == nil ? 1 : nil)
      if kernel.initializer != nil { try awaitInitializers() }
    } catch {
      for worker in workers { worker.liveness.kill() }
      for worker in workers { worker.liveness.join() }
      forkTemplates?.stopAll()
      throw error
    }
  }

  /// Waits until every new worker ran the pool's initializer (and reached its loop).
  ///
  /// - Throws: ``PoolError/initializerFailed(_:)`` with the first failure's message, also for
  ///   a worker that ended or did not get there within the start bound.
  private func awaitInitializers() throws {
    let deadline = ContinuousClock.now + startBound
    for worker in workers {
      while true {
        // Over a link whose status comes in messages, the reports are read here.
        jobs.drain(worker)
        if worker.status.reportedIn { break }
        if let message = worker.channels.startFailure { throw PoolError.initializerFailed(message) }
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

  /// Whether every slot's worker has reported in.
  var allReportedIn: Bool { workers.everyWorker { $0.status.reportedIn } }

  /// Whether a worker is starting: it has not reported in yet.
  var anyStarting: Bool { workers.anyWorker { !$0.down && !$0.status.reportedIn } }

  /// Starts a worker in `slot`, with new channels and a clean status.
  private func startWorker(slot: Int) throws -> Worker {
    try startWorkers(slots: [slot])[0]
  }

  /// Starts a worker in each of `slots`, with new channels and a clean status. A pool's fork
  /// template is asked for each worker before the first pid is awaited
  /// (``Multiprocessing/Process/requestStart()``): the template forks one while this process
  /// makes the next one's channels.
  ///
  /// `reading`: how many of the template's answers to read (the others are left for
  /// ``takeUnreadStarts()``); all when nil.
  private func startWorkers(slots: [Int], reading: Int? = nil) throws -> [Worker] {
    func started() throws -> [Worker] {
      var workers: [Worker] = []
      var pending: [Multiprocessing.Process.PendingStart] = []
      var awaited = 0
      do {
        for slot in slots {
          let (incarnation, channels, arguments) = try prepareWorker(slot: slot)
          let process = Multiprocessing.Process(
            name: "PoolWorker-\(slot)", daemon: true, startMethod: settings.startMethod,
            template: forkTemplates?.current, entryPoint: kernel, encodedArguments: arguments)
          if forkTemplates != nil { pending.append(try process.requestStart()) } else { try process.start() }
          workers.append(
            Worker(slot: slot, incarnation: incarnation, liveness: ProcessLiveness(process), channels: channels))
        }
        for start in pending.prefix(reading ?? pending.count) {
          awaited += 1
          try start.finish()
        }
        unreadStarts += pending[awaited...]
      } catch {
        // The starts not awaited are given up, and the workers started before the failure
        // end with it (dropped: one that did not start has nothing to kill or wait for).
        for start in pending[awaited...] { start.abandon() }
        for worker in workers where (try? worker.liveness.process.pid) != nil {
          try? worker.liveness.process.kill()
          _ = try? worker.liveness.process.join()
        }
        throw error
      }
      return workers
    }
    let workers: [Worker]
    do {
      workers = try started()
    } catch ProcessError.forkserver(let reason) where forkTemplates != nil {
      // The template is gone (killed, or it died with an earlier worker's start): a new one,
      // and new channels (a worker of the old one may have used the first).
      logger.warning("the pool's fork template failed", metadata: ["reason": "\(reason)"])
      try forkTemplates?.replace(gone: true)
      workers = try started()
    }
    // A worker started while a job is on the board (a replacement) joins it.
    if jobs.boardJob != nil { for worker in workers { worker.channels.sendBoardMarker() } }
    return workers
  }

  /// Hands over the template's answers ``startAll()`` left unread (to read without the
  /// pool's lock: see ``readStarts(_:)``).
  func takeUnreadStarts() -> [Multiprocessing.Process.PendingStart] {
    defer { unreadStarts = [] }
    return unreadStarts
  }

  /// Reads the template's answers `starts`, without the pool's lock (each waits for its
  /// template, which has usually answered already), and says whether one failed: its worker
  /// did not start (see ``replaceUnstarted(closing:)``).
  static func readStarts(_ starts: [Multiprocessing.Process.PendingStart]) -> Bool {
    var failed = false
    for start in starts {
      do { try start.finish() } catch { failed = true }
    }
    return failed
  }

  /// Settles the workers whose template's answer never came (``readStarts(_:)``: the
  /// template is gone, and with it anything it forked) as workers that ended, their claims on
  /// the board given back and their replacements forked by a new template.
  func replaceUnstarted(closing: Bool) {
    logger.warning("the pool's fork template did not report a worker's start")
    try? forkTemplates?.replace(gone: true)
    for position in workers.indices where workers[position].liveness.pid == 0 {
      handleEnd(of: workers[position], at: position, closing: closing)
    }
  }

  /// A worker's channels, made with a clean status, its incarnation, and its plan encoded.
  private func prepareWorker(
    slot: Int
  ) throws -> (incarnation: Int, channels: any WorkerTransport<Input, Output>, arguments: Data) {
    let channels = try links.makeChannels(slot: slot)
    lastIncarnation += 1
    jobs.boardRounds?.board.tally(slot).reset()
    let plan = WorkerPlan(
      channels: channels.handleData, slot: slot,
      cpus: settings.pinned ? settings.placement.slots[slot].cpus : nil, chunkSize: PoolLimits.maxChunk,
      maxTasks: settings.maxTasksPerWorker, spinNanoseconds: settings.spinWindow.nanoseconds,
      timed: settings.taskTimeout != nil, board: jobs.boardRounds?.board.memory.handle,
      incarnation: lastIncarnation)
    return (lastIncarnation, channels, try BinaryEncoder().encode(plan))
  }

  // MARK: Watching

  /// Handles the workers that ended (their sentinels among `ready`), and kills those over the
  /// task timeout, those that did not reach their loop in time, and, every 100 ms
  /// (`Process.stuckCheckInterval`), those holding work that wait for good on a lock their
  /// fork template inherited held (a lock of the Swift runtime, of `malloc`, that another
  /// thread of this process held when the template was forked: a runtime probe cannot take
  /// them all). While `closing`, a worker that ended is replaced only for work still queued.
  func lookOver(ready: [Int32], closing: Bool) {
    let now = monotonicNanoseconds()
    let lookForStuck = now - lastStuckCheck >= Multiprocessing.Process.stuckCheckInterval.nanoseconds
    if lookForStuck { lastStuckCheck = now }
    // By index, not `enumerated()`: the enumeration's iterator type is built by name at its
    // first use, and checking its requirement scanned every conformance record of the program
    // in each process's first pool.
    for position in workers.indices {
      let worker = workers[position]
      if let sentinel = worker.liveness.sentinel, ready.contains(sentinel), !worker.liveness.isAlive {
        handleEnd(of: worker, at: position, closing: closing)
        continue
      }
      if lookForStuck, !worker.down, worker.killedStuck == nil, !worker.pending.isEmpty || jobs.boardJob != nil,
        let lock = worker.liveness.inheritedLock
      {
        worker.killedStuck = lock
        kill(worker, "killed a pool worker stuck on a lock its fork template inherited", ["lock": "\(lock)"])
        continue
      }
      let status = worker.status
      if !worker.down, !worker.killedSilent, !status.reportedIn, now - worker.launchedAt > startBound.nanoseconds {
        worker.killedSilent = true
        kill(worker, "killed a pool worker that did not reach its loop")
        continue
      }
      guard let taskTimeout = settings.taskTimeout else { continue }
      if let current = status.currentTask, worker.timedOutTask == nil,
        now - status.startedAt > taskTimeout.nanoseconds
      {
        worker.timedOutTask = current
        kill(
          worker, "killed a pool worker whose task ran past the timeout",
          ["task": "\(current)", "timeout": "\(taskTimeout)"])
      }
    }
  }

  /// Kills `worker` (its end is handled when its sentinel says so), logging why.
  private func kill(_ worker: Worker, _ reason: Logger.Message, _ metadata: Logger.Metadata = [:]) {
    logger.warning(
      reason,
      metadata: metadata.merging(["slot": "\(worker.slot)", "pid": "\(worker.liveness.pid)"]) { kept, _ in kept })
    worker.liveness.kill()
  }

  /// Settles the tasks of `worker`, which ended, and starts its replacement.
  private func handleEnd(of worker: Worker, at position: Int, closing: Bool) {
    jobs.drain(worker)
    // The sentinel said it ended, so it has a status; one lost to another reaper is a failure.
    let status = worker.liveness.terminationStatus ?? .exited(255)
    let pid = worker.liveness.pid
    let current = worker.status.currentTask
    // A replacement whose initializer threw says so; its slot's work fails with that.
    let startFailure = worker.channels.startFailure
    let died: PoolError =
      startFailure.map { .initializerFailed($0) }
      ?? (worker.killedStuck.map { .stuckAfterFork(name: worker.liveness.name, pid: pid, lock: $0) }
        ?? .workerDied(pid: pid, status: status))
    let timedOut: PoolError = .taskTimedOut(pid: pid, timeout: settings.taskTimeout ?? .zero)
    // A worker that claimed chunks of the board's job has answered, as one that sent results.
    let boardRounds = jobs.boardRounds
    let claimed = boardRounds?.claimedRound(worker) == true
    if let boardRounds, boardRounds.job != nil {
      let overran = current != nil && worker.timedOutTask == current
      if boardRounds.recover(after: worker, status: status, error: overran ? timedOut : died, workers: workers),
        overran
      {
        metrics.tasksTimedOut.increment()
      }
    }
    // A worker that keeps dying before it answers anything (it cannot start) would be
    // replaced forever: after a few in a row, the work waiting for it fails instead.
    let failedStart = !status.isSuccess && current == nil && !worker.answered && !claimed
    failedStarts[worker.slot] = failedStart ? failedStarts[worker.slot] + 1 : 0
    let givingUp = failedStarts[worker.slot] >= Self.maxFailedStarts
    if !status.isSuccess { metrics.workersDied.increment() }
    var requeued: [PoolChunk<Input, Output>] = []
    for chunk in worker.pending {
      for local in chunk.range where !chunk.job.isDone(local) {
        let index = TaskID(job: chunk.job.id, local: local)
        if index == current && !status.isSuccess {
          let overran = worker.timedOutTask == index
          if overran { metrics.tasksTimedOut.increment() }
          jobs.fail(chunk.job, local, overran ? timedOut : died)
        } else if givingUp {
          jobs.fail(chunk.job, local, died)
        } else if chunk.job.cancelled {
          // Nobody waits for the job any more: not run again.
          jobs.fail(chunk.job, local, .cancelled)
        } else {
          requeued.append(PoolChunk(job: chunk.job, range: local..<local + 1))
        }
      }
    }
    if givingUp {
      queue.removeAll(failing: died)
      failedStarts[worker.slot] = 0
      logger.error(
        "a pool worker slot failed to start \(Self.maxFailedStarts) times in a row; its work fails",
        metadata: ["slot": "\(worker.slot)", "error": "\(died)"])
      worker.liveness.close()
      worker.clearPending()
      worker.down = true
      // With no worker left to claim them, the board's remaining tasks fail too.
      if workers.everyWorker({ $0.down }) { jobs.collectBoard(abandoning: died, workers: workers) }
      return
    }
    queue.requeue(requeued)
    // A worker that used up its task quota ends with 0: only other ends are worth a warning.
    logger.log(
      level: status.isSuccess ? .debug : .warning, "a pool worker ended",
      metadata: [
        "slot": "\(worker.slot)", "pid": "\(pid)", "status": "\(status)", "requeued": "\(requeued.count)",
      ])
    worker.liveness.close()
    guard !closing || !queue.isEmpty else {
      worker.clearPending()
      return
    }
    do {
      // A worker that never reported in, or that was stuck, may have inherited a held lock
      // from its template: a new template forks its replacement.
      if worker.killedSilent || worker.killedStuck != nil, let forkTemplates { try forkTemplates.replace(gone: false) }
      workers[position] = try startWorker(slot: worker.slot)
      metrics.workersReplaced.increment()
      logger.notice(
        "replaced a pool worker", metadata: ["slot": "\(worker.slot)", "pid": "\(workers[position].liveness.pid)"])
    } catch {
      logger.error("cannot restart a pool worker", metadata: ["slot": "\(worker.slot)", "error": "\(error)"])
      worker.clearPending()
    }
  }

  /// Tries again the slots that gave up, now that there is work for them.
  func restartDownSlots() {
    for position in workers.indices where workers[position].down {
      let worker = workers[position]
      if let restarted = try? startWorker(slot: worker.slot) {
        workers[position] = restarted
        metrics.workersReplaced.increment()
      }
    }
  }

  // MARK: Ending

  /// Closes every worker's channels (they exit once their tasks are done); `killing`: kills
  /// them too. Then waits for them all, and stops the fork templates.
  func endAll(killing: Bool) {
    for worker in workers {
      worker.channels.close()
      if killing { worker.liveness.kill() }
    }
    for worker in workers {
      worker.liveness.join()
      worker.liveness.close()
    }
    forkTemplates?.stopAll()
    forkTemplates = nil
  }
}
