import Multiprocessing

/// The pool's side of its claim board (``ClaimBoard``): the job on the board, the round of
/// it the board holds, and the steps around a round — publishing it, collecting it, taking
/// back the chunks of a worker that died, withdrawing the free ones of a job given up.
///
/// A job alone in the pool, not observed result by result and without a task quota goes on
/// the board, in rounds when larger than the board. Used by the dispatcher under its lock.
final class BoardRounds<Input: Sendable, Output: Sendable> {
  typealias Worker = WorkerRecord<Input, Output>

  /// The board in shared memory, where workers also count the chunks they finish.
  let board: ClaimBoard
  /// Copies a slice of a job's inputs onto the board.
  let writeInputs: @Sendable ([Input], Range<Int>, ClaimBoard) -> Void
  /// The pool's worker slots, for the automatic chunk size.
  let slots: Int

  /// The job on the board, while it runs.
  private(set) var job: PoolJob<Input, Output>?
  /// The chunk size the job's caller asked for.
  private var requestedChunkSize: Int?
  /// The round on the board: its number, the slice of the job it holds (`count` tasks from
  /// task `offset`), its chunks and their size.
  private(set) var round = 0
  private var offset = 0
  private var count = 0
  private var chunks = 0
  private var chunkSize = 1
  /// Chunks of the round done by workers that died (their tally lines were reset) or
  /// withdrawn: counted here instead.
  private var correction = 0
  /// How long the round should take, from the workers' last measured time per task (0
  /// before they measured one).
  private(set) var expectedNanoseconds = 0

  init(
    board: ClaimBoard, slots: Int,
    writeInputs: @escaping @Sendable ([Input], Range<Int>, ClaimBoard) -> Void
  ) {
    self.board = board
    self.slots = slots
    self.writeInputs = writeInputs
  }

  /// Puts `job` on the board, its first round published to `workers`.
  func start(_ job: PoolJob<Input, Output>, chunkSize: Int?, workers: [Worker]) {
    (self.job, requestedChunkSize) = (job, chunkSize)
    publish(from: 0, workers: workers)
  }

  /// Puts the job's next slice, from task `offset`, on the board as a new round, and tells
  /// the workers.
  private func publish(from offset: Int, workers: [Worker]) {
    guard let job else { return }
    let count = min(board.capacity, job.count - offset)
    // Claiming a chunk costs a compare-and-swap: finer chunks than pushed ones balance better.
    let size = requestedChunkSize ?? automaticChunkSize(count)
    round += 1
    board.publish(round: round, job: job.id, offset: offset, count: count, chunkSize: size) {
      writeInputs(job.inputs, offset..<offset + count, $0)
    }
    (self.offset, self.count, chunks, chunkSize, correction) = (offset, count, (count + size - 1) / size, size, 0)
    var (live, measured) = (0, 0)
    for worker in workers where !worker.down {
      live += 1
      measured += worker.status.taskNanoseconds
    }
    expectedNanoseconds = count * measured / max(1, live * live)
    for worker in workers where !worker.down { worker.channels.sendBoardMarker() }
  }

  /// Whether every chunk of the round is done and counted (by its workers, or here for
  /// workers that died).
  var isRoundComplete: Bool {
    job != nil && board.isRoundCounted(plus: correction)
  }

  /// Collects the round if every chunk of it is done: records the outputs (the failures came
  /// through the workers' failure rings, or from the pool after a death), then puts the
  /// job's next slice on the board, or takes the job off it. `abandoning`: no worker is
  /// left, the tasks not done fail with it. `drainAgain` collects what the workers' rings
  /// hold.
  ///
  /// - Returns: the job, once it is off the board: the caller finishes it.
  func collect(
    abandoning error: PoolError? = nil, workers: [Worker], drainAgain: () -> Void
  ) -> PoolJob<Input, Output>? {
    guard let job, isRoundComplete || error != nil else { return nil }
    var drainedAgain = false
    var task = 0
    while task < count {
      guard board.state(task).pointee == ClaimBoard.succeeded else {
        // A worker writes a failure's message whole before the task's state and the chunk's
        // count, so the messages of a counted round are all in the rings now; but a drain
        // just before may have missed one that came after it (many failures, under load).
        if !job.isDone(offset + task), !drainedAgain {
          drainAgain()
          drainedAgain = true
        }
        // One that is still missing is reported as lost.
        if !job.isDone(offset + task) {
          _ = job.fail(offset + task, error ?? .kernelFailed("the task failed, but its message was lost"))
        }
        task += 1
        continue
      }
      let end = stateRunEnd(in: board.state(0), from: task + 1, below: count, equalTo: ClaimBoard.succeeded)
      _ = job.succeed(
        offset + task,
        OutputRun(
          firstIndex: TaskID(job: job.id, local: offset + task), count: end - task,
          outputs: board.output(task), stride: board.outputStride, byteCount: MemoryLayout<Output>.size))
      task = end
    }
    if error == nil, !job.cancelled, offset + count < job.count {
      publish(from: offset + count, workers: workers)
      return nil
    }
    if let error { job.failRemaining(error) }
    if job.cancelled { job.failRemaining(.cancelled) }
    self.job = nil
    return job
  }

  /// Takes the job off the board with no round collected (every worker has ended).
  func clear() { job = nil }

  /// Whether `worker` claimed chunks of the round on the board.
  func claimedRound(_ worker: Worker) -> Bool {
    job != nil && board.tally(worker.slot).round == round
  }

  /// After `worker` ended while a job was on the board: fails the task it was running
  /// (`error`, unless it ended cleanly), gives its unfinished chunks back for their pending
  /// tasks (telling the other `workers`), and counts the chunks it finished (its tally line
  /// is reset for its successor). Returns whether it failed a task.
  func recover(after worker: Worker, status: TerminationStatus, error: PoolError, workers: [Worker]) -> Bool {
    guard let job else { return false }
    let current = worker.status.currentTask
    var doneByWorker = 0
    var freed = false
    var failed = false
    for chunk in 0..<chunks {
      let owner = board.owner(chunk).value
      if owner == ClaimBoard.doneMark(worker.incarnation) { doneByWorker += 1 }
      guard owner == worker.incarnation else { continue }
      var pending = 0
      for task in ClaimBoard.tasks(of: chunk, count: count, chunkSize: chunkSize)
      where board.state(task).pointee == ClaimBoard.pending {
        if TaskID(job: job.id, local: offset + task) == current, !status.isSuccess {
          board.state(task).pointee = ClaimBoard.failed
          _ = job.fail(offset + task, error)
          failed = true
        } else {
          pending += 1
        }
      }
      if pending == 0 {
        board.owner(chunk).value = ClaimBoard.doneMark(worker.incarnation)
        doneByWorker += 1
      } else if job.cancelled {
        // Nobody waits for the job any more: its pending tasks are not run again.
        failPendingAsCancelled(chunk, of: job)
        board.owner(chunk).value = ClaimBoard.withdrawn
        doneByWorker += 1
      } else {
        board.owner(chunk).value = ClaimBoard.free
        freed = true
      }
    }
    correction += doneByWorker
    board.tally(worker.slot).reset()
    if freed { for other in workers where other !== worker && !other.down { other.channels.sendBoardMarker() } }
    return failed
  }

  /// For a job whose caller stopped waiting: takes back the chunks no worker has claimed (a
  /// compare-and-swap, as a claim), failing their tasks as cancelled, so that no further
  /// round is published; the chunks already claimed run to their end, and the job comes off
  /// the board with the round (``collect(abandoning:workers:drainAgain:)``, next).
  func withdraw() {
    guard let job else { return }
    for chunk in 0..<chunks
    where board.owner(chunk).compareExchange(expected: ClaimBoard.free, desired: ClaimBoard.withdrawn) {
      failPendingAsCancelled(chunk, of: job)
      // Counted here, as a dead worker's chunks are.
      correction += 1
    }
  }

  /// Fails the tasks of chunk `chunk` still pending (a chunk freed after a death may hold
  /// some done already) as cancelled, for `job`, which nobody waits for any more.
  private func failPendingAsCancelled(_ chunk: Int, of job: PoolJob<Input, Output>) {
    for task in ClaimBoard.tasks(of: chunk, count: count, chunkSize: chunkSize)
    where board.state(task).pointee == ClaimBoard.pending {
      board.state(task).pointee = ClaimBoard.failed
      _ = job.fail(offset + task, .cancelled)
    }
  }

  /// About inputs ÷ (workers × 16): the last chunk a worker claims is at most a sixteenth of
  /// its share, and a claim costs about 0.1 µs.
  private func automaticChunkSize(_ count: Int) -> Int {
    let parts = slots * 16
    return max(1, (count + parts - 1) / parts)
  }
}
