import Multiprocessing

/// The pool's side of the claim board (``ClaimBoard``): publishing a job's rounds,
/// collecting them, and recovering the chunks of a worker that died.
extension PoolDispatcher {
  /// Puts the board job's next slice, from task `offset`, on the board as a new round, and
  /// tells the workers.
  func publishRoundLocked(from offset: Int) {
    guard let job = boardJob, let board, let write = kernel.writeBoardInputs else { return }
    let count = min(board.capacity, job.count - offset)
    // Claiming a chunk costs a compare-and-swap: finer chunks than pushed ones balance better.
    let size = boardRequestedChunkSize ?? automaticBoardChunkSize(count)
    boardRound += 1
    board.publish(round: boardRound, job: job.id, offset: offset, count: count, chunkSize: size) {
      write(job.inputs, offset..<offset + count, $0)
    }
    (boardOffset, boardCount, boardChunks, boardChunkSize, boardCorrection) =
      (offset, count, (count + size - 1) / size, size, 0)
    var (live, measured) = (0, 0)
    for worker in workers where !worker.down {
      live += 1
      measured += control.status(worker.slot).taskNanoseconds
    }
    boardRoundNanoseconds = count * measured / max(1, live * live)
    for worker in workers where !worker.down { worker.channels.sendBoardMarker() }
  }

  /// Collects the board's round if every chunk of it is done: records the outputs (the
  /// failures came through the workers' failure rings, or from the pool after a death), then
  /// puts the job's next slice on the board or finishes the job. `abandoning`: no worker is
  /// left, the tasks not done fail with it.
  func collectBoardLocked(abandoning error: PoolError? = nil) {
    guard let job = boardJob, let board, boardRoundIsComplete || error != nil else { return }
    var drainedAgain = false
    var task = 0
    while task < boardCount {
      guard board.state(task).pointee == ClaimBoard.succeeded else {
        // A worker writes a failure's message whole before the task's state and the chunk's
        // count, so the messages of a counted round are all in the rings now; but a drain
        // just before may have missed one that came after it (many failures, under load).
        if !job.isDone(boardOffset + task), !drainedAgain {
          for worker in workers { drainLocked(worker) }
          drainedAgain = true
        }
        // One that is still missing is reported as lost.
        if !job.isDone(boardOffset + task) {
          _ = job.fail(boardOffset + task, error ?? .kernelFailed("the task failed, but its message was lost"))
        }
        task += 1
        continue
      }
      let end = stateRunEnd(in: board.state(0), from: task + 1, below: boardCount, equalTo: ClaimBoard.succeeded)
      _ = job.succeed(
        boardOffset + task,
        OutputRun(
          firstIndex: TaskID(job: job.id, local: boardOffset + task), count: end - task,
          outputs: board.output(task), stride: board.outputStride, byteCount: MemoryLayout<Output>.size))
      task = end
    }
    if error == nil, !job.cancelled, boardOffset + boardCount < job.count {
      publishRoundLocked(from: boardOffset + boardCount)
      return
    }
    if let error { job.failRemaining(error) }
    if job.cancelled { job.failRemaining(.cancelled) }
    boardJob = nil
    finishLocked(job)
    // A caller asleep on the board wakes and finds its job finished.
    board.signalCompletion()
  }

  /// Whether every chunk of the board's round is done and counted (by its workers, or by
  /// this pool for workers that died).
  var boardRoundIsComplete: Bool {
    guard boardJob != nil, let board else { return false }
    return board.isRoundCounted(in: control, plus: boardCorrection)
  }

  /// After worker `worker` ended while a job was on the board: fails the task it was running
  /// (`error`, unless it ended cleanly), gives its unfinished chunks back for their pending
  /// tasks, and counts the chunks it finished (its control line is reset for its successor).
  /// Returns whether it failed a task.
  @discardableResult
  func recoverBoardLocked(after worker: Worker, status: TerminationStatus, error: PoolError) -> Bool {
    guard let job = boardJob, let board else { return false }
    let line = control.status(worker.slot)
    let current = line.currentTask
    var doneByWorker = 0
    var freed = false
    var failed = false
    for chunk in 0..<boardChunks {
      let owner = board.owner(chunk).value
      if owner == ClaimBoard.doneMark(worker.incarnation) { doneByWorker += 1 }
      guard owner == worker.incarnation else { continue }
      var pending = 0
      for task in ClaimBoard.tasks(of: chunk, count: boardCount, chunkSize: boardChunkSize)
      where board.state(task).pointee == ClaimBoard.pending {
        if TaskID(job: job.id, local: boardOffset + task) == current, !status.isSuccess {
          board.state(task).pointee = ClaimBoard.failed
          _ = job.fail(boardOffset + task, error)
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
        failPendingAsCancelledLocked(chunk, of: job, on: board)
        board.owner(chunk).value = ClaimBoard.withdrawn
        doneByWorker += 1
      } else {
        board.owner(chunk).value = ClaimBoard.free
        freed = true
      }
    }
    boardCorrection += doneByWorker
    line.boardChunks = 0
    line.boardRound = 0
    if freed { for other in workers where other !== worker && !other.down { other.channels.sendBoardMarker() } }
    return failed
  }

  /// For a board job whose caller stopped waiting: takes back the chunks no worker has
  /// claimed (a compare-and-swap, as a claim), failing their tasks as cancelled, and
  /// publishes no further round; the chunks already claimed run to their end, and the job
  /// finishes with the round.
  func withdrawBoardLocked() {
    guard let job = boardJob, let board else { return }
    for chunk in 0..<boardChunks
    where board.owner(chunk).compareExchange(expected: ClaimBoard.free, desired: ClaimBoard.withdrawn) {
      failPendingAsCancelledLocked(chunk, of: job, on: board)
      // Counted here, as a dead worker's chunks are.
      boardCorrection += 1
    }
    collectBoardLocked()
  }

  /// Fails the tasks of board chunk `chunk` still pending (a chunk freed after a death may
  /// hold some done already) as cancelled, for `job`, which nobody waits for any more.
  private func failPendingAsCancelledLocked(_ chunk: Int, of job: PoolJob<Input, Output>, on board: ClaimBoard) {
    for task in ClaimBoard.tasks(of: chunk, count: boardCount, chunkSize: boardChunkSize)
    where board.state(task).pointee == ClaimBoard.pending {
      board.state(task).pointee = ClaimBoard.failed
      _ = job.fail(boardOffset + task, .cancelled)
    }
  }

  /// About inputs ÷ (workers × 16) on the claim board: the last chunk a worker claims is at
  /// most a sixteenth of its share, and a claim costs about 0.1 µs.
  func automaticBoardChunkSize(_ count: Int) -> Int {
    let parts = placement.count * 16
    return max(1, (count + parts - 1) / parts)
  }
}
