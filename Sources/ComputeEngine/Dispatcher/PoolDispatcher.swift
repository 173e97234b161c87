import Foundation
import Logging
import Multiprocessing
import Scheduler
import Synchronization
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// The parent's side of a ``ProcessPool``: one thread, and the lock over the pool's state,
/// that hands chunks of tasks to the workers, collects their results and supervises them,
/// through its parts — ``PoolJobs`` (the jobs in flight, where results reach them),
/// ``PushQueue`` (chunks pushed to workers), ``BoardRounds`` (the claim board's job),
/// ``WorkerSupervisor`` (the workers' starts, deaths, timeouts and replacements) and
/// ``DispatcherSleeper`` (how the thread sleeps and is woken). It reaches its workers only
/// through its ``PoolLinks``.
///
/// It sleeps in `poll` on the workers' sentinels and a doorbell (which the shared-memory
/// link's workers ring after sending results, only while it sleeps; the pipe link's results
/// pipes are polled instead); a caller waiting for its job collects results itself meanwhile
/// (``help(until:onBoard:)``).
final class PoolDispatcher<Input: Sendable, Output: Sendable>: @unchecked Sendable {
  // @unchecked: all mutable state is guarded by `lock`; the thread reads it only under it.

  /// What the pool was asked for.
  let settings: PoolSettings
  /// What carries tasks, results and status between this pool and its workers.
  let links: any PoolLinks<Input, Output>
  /// How this pool's thread sleeps and is woken.
  let sleeper: DispatcherSleeper
  let lock = NSLock()
  let jobs: PoolJobs<Input, Output>
  let queue: PushQueue<Input, Output>
  let supervisor: WorkerSupervisor<Input, Output>
  /// The claim board of a pool of `BitwiseCopyable` values, and the job on it; others are
  /// pushed chunk by chunk.
  let boardRounds: BoardRounds<Input, Output>?
  /// The job on the claim board, while it runs.
  var boardJob: PoolJob<Input, Output>? { jobs.boardJob }
  /// The current worker of each slot.
  var workers: [WorkerRecord<Input, Output>] { supervisor.workers }
  var closing = false
  var terminated = false
  var finished = false
  /// Whether this pool's thread is going to sleep, or sleeps, with no time bound: a job put
  /// on the board then rings it, so that it looks over the workers while the job runs.
  var sleepsUnbounded = false
  let stopped = DispatchSemaphore(value: 0)
  /// Signalled once this pool's thread has read the workers' pids its start left unread.
  let startsRead = DispatchSemaphore(value: 0)
  /// Jobs whose callers stopped waiting, for this pool's thread to give up
  /// (``giveUpSoon(jobID:)``); a lock of their own, never held with another.
  private let givenUp = Mutex<[Int]>([])
  /// What ends this pool when the process exits; removed once this pool's thread stops (set
  /// before the thread starts, read by it only after).
  private var exitHook: ProcessExitHook?

  init(
    kernel: PoolKernel<Input, Output>, settings: PoolSettings, telemetry: PoolTelemetry
  ) throws {
    let logger = telemetry.resolvedLogger
    let metrics = PoolMetrics(telemetry)
    self.settings = settings
    let slots = settings.placement.count
    let doorbell: PipeDoorbell
    do { doorbell = try PipeDoorbell() } catch {
      throw PoolError.system(call: "pipe", errno: error)
    }
    do {
      links = try kernel.makeLinks(
        PoolLinkSetup(slots: slots, doorbellFD: doorbell.writeEnd.rawValue, forked: settings.startMethod == .fork))
      sleeper = DispatcherSleeper(doorbell: doorbell, links: links)
      if let makeBoard = kernel.makeBoard, let writeInputs = kernel.writeBoardInputs {
        boardRounds = BoardRounds(board: try makeBoard(slots), slots: slots, writeInputs: writeInputs)
      } else {
        boardRounds = nil
      }
      jobs = PoolJobs(metrics: metrics, boardRounds: boardRounds)
    } catch {
      doorbell.close()
      throw error
    }
    queue = PushQueue(jobs: jobs, slots: slots, maxTasksPerWorker: settings.maxTasksPerWorker)
    supervisor = WorkerSupervisor(
      kernel: kernel, settings: settings, links: links, logger: logger, metrics: metrics, jobs: jobs, queue: queue)
    // deinit closes the doorbell: it runs for an initializer that throws here.
    try supervisor.startAll()
    exitHook = atProcessExit { [weak self] in
      self?.terminate()
      try? self?.join()
    }
    startThread(named: "mp-dispatcher") { [self] in loop() }
  }

  deinit {
    sleeper.close()
    exitHook?.remove()
  }

  /// Waits until every slot's worker reported in, or `timeout` passes; false then, or when
  /// the pool is closed or terminated.
  func waitUntilReady(timeout: Duration) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
      let (ready, open) = lock.withLock { (supervisor.allReportedIn, !closing && !terminated) }
      guard open else { return false }
      if ready { return true }
      guard ContinuousClock.now < deadline else { return false }
      usleep(100)
    }
  }

  /// Bounds a worker's start at `bound`: for the tests.
  func setStartBound(_ bound: Duration) {
    lock.withLock { supervisor.startBound = bound }
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
      let job = jobs.make(inputs, onResult: onResult, onFinish: onFinish)
      jobID = job.id
      guard !inputs.isEmpty else {
        jobs.finish(job)
        return
      }
      if let boardRounds, jobs.isEmpty, onResult == nil, settings.maxTasksPerWorker == nil {
        // Alone: on the board, where the workers claim it without this pool's thread.
        jobs.insert(job)
        boardRounds.start(job, chunkSize: chunkSize, workers: workers)
        // This thread is needed to enforce a task timeout (the last worker rings it), and to
        // look over the workers now and then (one stuck on a lock its template inherited
        // rings nothing): asleep with no bound, it would never look while the job runs.
        needsDispatcher = settings.taskTimeout != nil || sleepsUnbounded
        onBoard = true
        return
      }
      jobs.insert(job)
      queue.enqueue(job, chunkSize: chunkSize)
      // The caller hands the chunks out itself, rather than waking this thread to do it.
      queue.dispatch(to: workers)
      needsDispatcher =
        settings.taskTimeout != nil || !queue.isEmpty || workers.anyWorker { !$0.channels.resultsNeverWait }
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
    lock.withLock { cancelLocked(jobID: id) }
  }

  /// Gives up job `id` on this pool's thread, at once: for a cancellation handler, which must
  /// not take the pool's lock (``AsyncCall/cancel()``). Handed to the system's shared queue
  /// instead, the give-up waited there for seconds while other work held its threads (seen
  /// in the test suite: a stream's job ran 20 more inputs of 100 ms after its consumer left).
  func giveUpSoon(jobID id: Int) {
    givenUp.withLock { $0.append(id) }
    ringDoorbell()
  }

  /// ``cancel(jobID:)``, with the lock held.
  private func cancelLocked(jobID id: Int) {
    guard let job = jobs[id], !job.cancelled else { return }
    job.cancelled = true
    if job === boardJob {
      // Its free chunks are withdrawn, and it finishes with the round (at once if no chunk
      // is out).
      boardRounds?.withdraw()
      jobs.collectBoard(workers: workers)
      return
    }
    queue.cancel(job)
    jobs.countOutstanding()
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
        if !terminated, !queue.isEmpty { queue.dispatch(to: workers) }
        lock.unlock()
      }
      return finished()
    }
    // Politely: this thread is not pinned, and the workers may fill every core.
    let spinWindow = settings.spinWindow
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
      board.waitForCompletion(seen: seen, until: .now + .milliseconds(1)) { board.isRoundCounted() }
    }
  }

  /// Says that the calling thread will collect the results of the job it submits next, in
  /// ``help(until:onBoard:)``, which ends it (or ``endCollecting()``, if the submit fails).
  func beginCollecting() {
    links.addCollectors(1)
  }

  /// Undoes ``beginCollecting()``.
  func endCollecting() {
    links.addCollectors(-1)
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

  /// The pids of the current workers (once this pool's thread has read those its start left
  /// unread).
  var workerPIDs: [Int32] {
    startsRead.wait()
    startsRead.signal()
    return lock.withLock { workers.workerNumbers { $0.liveness.pid == 0 ? nil : $0.liveness.pid } }
  }

  // MARK: The dispatcher thread

  func loop() {
    // First the workers' pids that the start left unread, read without the lock: a caller's
    // first map may run on the board meanwhile, with the worker already forked.
    let unread = lock.withLock { supervisor.takeUnreadStarts() }
    if WorkerSupervisor<Input, Output>.readStarts(unread) {
      lock.withLock { supervisor.replaceUnstarted(closing: closing) }
    }
    startsRead.signal()
    var ready: [Int32] = []
    while true {
      let next: (Duration?, [Int32])? = lock.withLock {
        sleepsUnbounded = false
        if terminated {
          shutDownLocked()
          return nil
        }
        for id in givenUp.withLock({ ids in
          defer { ids = [] }
          return ids
        }) {
          cancelLocked(jobID: id)
        }
        drainLocked()
        supervisor.lookOver(ready: ready, closing: closing)
        if !queue.isEmpty { supervisor.restartDownSlots() }
        queue.dispatch(to: workers)
        if closing && queue.isEmpty && boardJob == nil && workers.everyWorker({ $0.pending.isEmpty }) {
          for worker in workers { worker.channels.close() }
          if workers.everyWorker({ !$0.liveness.isAlive }) {
            shutDownLocked()
            return nil
          }
        }
        // Results due soon: a short spin answers far sooner than a sleep and a wake-up.
        if workers.anyWorker(where: { !$0.pending.isEmpty }),
          Spin.until({ workers.anyWorker(where: { $0.channels.hasResults }) })
        {
          return (.zero, [])
        }
        guard
          sleeper.announce(unless: {
            workers.anyWorker(where: { $0.channels.hasResults }) || boardRounds?.isRoundComplete == true
          })
        else { return (.zero, []) }
        // While work is out, wake now and then even without a doorbell: to enforce the task
        // timeout, and for a worker whose result is larger than its ring, which blocks
        // before it can ring. A job on the board needs neither (its workers ring before a
        // failure that may wait, and a caller collecting looks itself): there, a slow look
        // only, rather than taking a worker's CPU every 5 ms. While a worker has not
        // reported in, to bound its start.
        let watched = workers.anyWorker { !$0.pending.isEmpty } || (boardJob != nil && settings.taskTimeout != nil)
        let wake: Duration? =
          watched ? .milliseconds(5) : boardJob != nil || supervisor.anyStarting ? .milliseconds(50) : nil
        sleepsUnbounded = wake == nil
        let sentinels = workers.workerNumbers { $0.liveness.sentinel }
        return (wake, sentinels + workers.workerNumbers { $0.channels.wakeDescriptor })
      }
      guard let next else { break }
      let (sleepFor, watched) = next
      ready = sleeper.sleep(for: sleepFor, watching: watched)
    }
    exitHook?.remove()
    finished = true
    stopped.signal()
  }

  /// Hands every waiting result to its job, and finishes the board's job once every chunk is
  /// done.
  func drainLocked() {
    let workers = supervisor.workers
    for worker in workers { jobs.drain(worker) }
    if boardRounds?.job != nil { jobs.collectBoard(workers: workers) }
  }

  func shutDownLocked() {
    supervisor.endAll(killing: terminated)
    // Every worker has ended: the jobs fail, the board's with the others.
    jobs.failAll(.terminated)
    queue.removeAll(failing: nil)
  }
}
