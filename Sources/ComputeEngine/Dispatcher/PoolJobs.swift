import Multiprocessing

/// The pool's jobs in flight, by id: where each worker's results reach their job (``drain(_:)``),
/// where tasks fail, and where a job that is done is counted and handed to its caller. The
/// claim board's job finishes when it comes off the board (``collectBoard(abandoning:workers:)``),
/// not when its failures alone account for every task: a worker may still be marking a chunk.
/// Used under the dispatcher's lock.
final class PoolJobs<Input: Sendable, Output: Sendable> {
  typealias Job = PoolJob<Input, Output>

  @exclusivity(unchecked) private var byID: [Int: Job] = [:]
  private var lastID = 0
  /// The job the last result belonged to: most results in a row belong to one job.
  private var lastJob: Job?
  private let metrics: PoolMetrics
  /// The claim board's rounds, for pools of `BitwiseCopyable` values.
  let boardRounds: BoardRounds<Input, Output>?

  init(metrics: PoolMetrics, boardRounds: BoardRounds<Input, Output>?) {
    self.metrics = metrics
    self.boardRounds = boardRounds
  }

  /// Whether no job is in flight.
  var isEmpty: Bool { byID.isEmpty }

  /// The job in flight with id `id`.
  subscript(id: Int) -> Job? { byID[id] }

  /// The job on the claim board, while it runs.
  var boardJob: Job? { boardRounds?.job }

  /// A new job of `inputs`, with the next id; not in flight until ``insert(_:)``.
  func make(
    _ inputs: [Input], onResult: ((Int, Result<Output, PoolError>) -> Void)?, onFinish: @escaping (Job) -> Void
  ) -> Job {
    lastID += 1
    return Job(id: lastID, inputs: inputs, onResult: onResult, onFinish: onFinish)
  }

  /// Puts `job` in flight.
  func insert(_ job: Job) {
    byID[job.id] = job
    metrics.tasksOutstanding.set(outstandingTasks)
  }

  /// Hands every result waiting in `worker`'s channels to its job, finishing each job that
  /// is done (but the board's).
  func drain(_ worker: WorkerRecord<Input, Output>) {
    // Most looks find nothing: return before building the closures below.
    guard worker.channels.hasResults else { return }
    // No tuples or optionals of generic types here: unspecialised, each would cost a
    // runtime metadata lookup per result.
    var job = lastJob
    func finish(_ finished: Job) {
      guard finished !== boardJob else { return }
      self.finish(finished)
      job = nil
    }
    func find(_ jobID: Int) -> Bool {
      if job == nil || job!.id != jobID { job = byID[jobID] }
      return job != nil
    }
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

  /// Fails task `local` of `job`, finishing the job when it was the last (but the board's).
  func fail(_ job: Job, _ local: Int, _ error: PoolError) {
    guard job.fail(local, error), job !== boardJob else { return }
    finish(job)
  }

  /// Hands a job that is done its outputs, and counts it.
  func finish(_ job: Job) {
    byID[job.id] = nil
    if lastJob === job { lastJob = nil }
    metrics.tasksSucceeded.increment(by: Int64(job.count - job.failureCount))
    metrics.tasksFailed.increment(by: Int64(job.failureCount))
    metrics.jobDuration.recordNanoseconds(monotonicNanoseconds() - job.submittedAt)
    metrics.tasksOutstanding.set(outstandingTasks)
    job.onFinish(job)
  }

  /// Collects the board's round if every chunk of it is done, finishing the job when it was
  /// the last; `abandoning`: no worker is left, the tasks not done fail with it.
  func collectBoard(abandoning error: PoolError? = nil, workers: [WorkerRecord<Input, Output>]) {
    guard let boardRounds,
      let job = boardRounds.collect(
        abandoning: error, workers: workers, drainAgain: { for worker in workers { drain(worker) } })
    else { return }
    finish(job)
    // A caller asleep on the board wakes and finds its job finished.
    boardRounds.board.signalCompletion()
  }

  /// Fails every task not done with `error` and finishes every job: the pool has ended.
  func failAll(_ error: PoolError) {
    boardRounds?.clear()
    defer { boardRounds?.board.signalCompletion() }
    for job in byID.values {
      job.failRemaining(error)
      finish(job)
    }
  }

  /// Updates the outstanding tasks' gauge.
  func countOutstanding() {
    metrics.tasksOutstanding.set(outstandingTasks)
  }

  /// Tasks submitted and not yet finished.
  private var outstandingTasks: Int {
    // A loop: `reduce`'s generic code cost a conformance scan at a process's first job.
    var total = 0
    for job in byID.values { total += job.remaining }
    return total
  }
}
