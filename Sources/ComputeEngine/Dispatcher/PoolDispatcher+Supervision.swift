import Foundation
import Logging
import Multiprocessing

/// Supervision: workers that end, stall before their loop or overrun the task timeout.
extension PoolDispatcher {
  /// Replaces workers that ended, and kills those over the task timeout and those that did
  /// not reach their loop in time.
  func superviseLocked(ready: [Int32]) {
    for (position, worker) in workers.enumerated() {
      if let sentinel = worker.liveness.sentinel, ready.contains(sentinel), !worker.liveness.isAlive {
        handleEndLocked(worker, at: position)
        continue
      }
      let status = control.status(worker.slot)
      if !worker.down, !worker.killedSilent, !status.reportedIn,
        monotonicNanoseconds() - worker.launchedAt > startBound.nanoseconds
      {
        worker.killedSilent = true
        logger.warning(
          "killed a pool worker that did not reach its loop",
          metadata: ["slot": "\(worker.slot)", "pid": "\(worker.liveness.pid)"])
        worker.liveness.kill()
        continue
      }
      guard let taskTimeout else { continue }
      if let current = status.currentTask, worker.timedOutTask == nil,
        monotonicNanoseconds() - status.startedAt > taskTimeout.nanoseconds
      {
        worker.timedOutTask = current
        logger.warning(
          "killed a pool worker whose task ran past the timeout",
          metadata: [
            "slot": "\(worker.slot)", "pid": "\(worker.liveness.pid)", "task": "\(current)",
            "timeout": "\(taskTimeout)",
          ])
        worker.liveness.kill()
      }
    }
  }

  func handleEndLocked(_ worker: Worker, at position: Int) {
    drainLocked(worker)
    // The sentinel said it ended, so it has a status; one lost to another reaper is a failure.
    let status = worker.liveness.terminationStatus ?? .exited(255)
    let pid = worker.liveness.pid
    let current = control.status(worker.slot).currentTask
    // A replacement whose initializer threw says so; its slot's work fails with that.
    let startFailure = control.startFailure(slot: worker.slot)
    let died: PoolError = startFailure.map { .initializerFailed($0) } ?? .workerDied(pid: pid, status: status)
    // A worker that claimed chunks of the board's job has answered, as one that sent results.
    let claimed = boardRounds?.claimedRound(worker) == true
    if let boardRounds, boardRounds.job != nil {
      let timedOut = current != nil && worker.timedOutTask == current
      let error: PoolError = timedOut ? .taskTimedOut(pid: pid, timeout: taskTimeout ?? .zero) : died
      if boardRounds.recover(after: worker, status: status, error: error, workers: workers), timedOut {
        metrics.tasksTimedOut.increment()
      }
    }
    // A worker that keeps dying before it answers anything (it cannot start) would be
    // replaced forever: after a few in a row, the work waiting for it fails instead.
    let failedStart = !status.isSuccess && current == nil && !worker.answered && !claimed
    failedStarts[worker.slot] = failedStart ? failedStarts[worker.slot] + 1 : 0
    let givingUp = failedStarts[worker.slot] >= Self.maxFailedStarts
    if !status.isSuccess { metrics.workersDied.increment() }
    var requeued: [Chunk] = []
    for chunk in worker.pending {
      for local in chunk.range where !chunk.job.isDone(local) {
        let index = TaskID(job: chunk.job.id, local: local)
        if index == current && !status.isSuccess {
          let timedOut = worker.timedOutTask == index
          if timedOut { metrics.tasksTimedOut.increment() }
          failLocked(chunk.job, local, timedOut ? .taskTimedOut(pid: pid, timeout: taskTimeout ?? .zero) : died)
        } else if givingUp {
          failLocked(chunk.job, local, died)
        } else if chunk.job.cancelled {
          // Nobody waits for the job any more: not run again.
          failLocked(chunk.job, local, .cancelled)
        } else {
          requeued.append(Chunk(job: chunk.job, range: local..<local + 1))
        }
      }
    }
    if givingUp {
      for chunk in queue {
        for local in chunk.range where !chunk.job.isDone(local) { failLocked(chunk.job, local, died) }
      }
      queue = []
      failedStarts[worker.slot] = 0
      logger.error(
        "a pool worker slot failed to start \(Self.maxFailedStarts) times in a row; its work fails",
        metadata: ["slot": "\(worker.slot)", "error": "\(died)"])
      worker.liveness.close()
      worker.clearPending()
      worker.down = true
      // With no worker left to claim them, the board's remaining tasks fail too.
      if workers.allSatisfy({ $0.down }) { collectBoardLocked(abandoning: died) }
      return
    }
    queue.append(contentsOf: requeued.reversed())
    // A worker that used up its task quota ends with 0: only other ends are worth a warning.
    logger.log(
      level: status.isSuccess ? .debug : .warning, "a pool worker ended",
      metadata: [
        "slot": "\(worker.slot)", "pid": "\(pid)", "status": "\(status)",
        "requeued": "\(requeued.count)",
      ])
    worker.liveness.close()
    guard !closing || !queue.isEmpty else {
      worker.clearPending()
      return
    }
    do {
      // A worker that never reported in may have inherited a held lock from its template.
      if worker.killedSilent, let forkTemplates { try forkTemplates.replace(gone: false) }
      workers[position] = try startWorker(slot: worker.slot)
      metrics.workersReplaced.increment()
      logger.notice(
        "replaced a pool worker",
        metadata: ["slot": "\(worker.slot)", "pid": "\(workers[position].liveness.pid)"])
    } catch {
      logger.error(
        "cannot restart a pool worker", metadata: ["slot": "\(worker.slot)", "error": "\(error)"])
      worker.clearPending()
    }
  }

  /// Tries again the slots that gave up, now that there is work for them.
  func restartDownSlotsLocked() {
    for (position, worker) in workers.enumerated() where worker.down {
      if let restarted = try? startWorker(slot: worker.slot) {
        workers[position] = restarted
        metrics.workersReplaced.increment()
      }
    }
  }
}
