import Foundation
import Multiprocessing

/// The push path: chunks handed to workers through their task rings, for the jobs the claim
/// board does not take (`Codable` values, jobs beside others, observed jobs, task quotas).
extension PoolDispatcher {
  /// Sends queued chunks to workers with room for them, in rounds so that the work spreads
  /// over every worker: one chunk per worker per round, except to workers whose tasks are
  /// short (under ``PoolLimits/shortTaskNanoseconds``), which take up to their share of the
  /// queue at once and so fewer, larger batches.
  func dispatchLocked() {
    var sentAny = true
    while sentAny, !queue.isEmpty {
      sentAny = false
      let share = (queue.count + workers.count - 1) / workers.count
      for worker in workers where !queue.isEmpty && hasRoom(worker) {
        let short = (1..<PoolLimits.shortTaskNanoseconds).contains(control.status(worker.slot).taskNanoseconds)
        var sent = 0
        while sendChunkLocked(to: worker) {
          sentAny = true
          sent += 1
          guard short, sent < share, !queue.isEmpty, hasRoom(worker) else { break }
        }
      }
    }
  }

  /// Whether `worker` may take the next queued chunk. Two chunks keep a worker busy while
  /// the next is sent; once the worker has timed its tasks it is given up to
  /// ``PoolLimits/queuedWorkNanoseconds`` (1 ms) of them, so that short tasks do not wait on a round trip each
  /// and long ones are not held by one worker while another is idle: a worker whose tasks
  /// are longer than ``PoolLimits/longTaskNanoseconds`` (5 ms) holds one chunk at a time.
  func hasRoom(_ worker: Worker) -> Bool {
    guard worker.timedOutTask == nil, !worker.down else { return false }
    guard worker.pendingTasks + queue[queue.count - 1].range.count <= PoolLimits.ringSlots / 2 else { return false }
    let taskNanoseconds = control.status(worker.slot).taskNanoseconds
    if taskNanoseconds == 0 { return worker.pending.count < PoolLimits.chunksInFlight }
    if taskNanoseconds >= PoolLimits.longTaskNanoseconds { return worker.pending.isEmpty }
    return worker.pending.count < PoolLimits.chunksInFlight
      || (worker.pending.count < PoolLimits.maxChunksInFlight
        && worker.pendingTasks * taskNanoseconds < PoolLimits.queuedWorkNanoseconds)
  }

  /// Sends the next queued chunk (cut to the worker's task quota) to `worker`; false when
  /// it could not take it.
  func sendChunkLocked(to worker: Worker) -> Bool {
    var chunk = queue.removeLast()
    if let quota = maxTasksPerWorker {
      let room = quota - worker.sent
      guard room > 0 else {
        queue.append(chunk)
        return false
      }
      if chunk.range.count > room {
        queue.append(Chunk(job: chunk.job, range: chunk.range.lowerBound + room..<chunk.range.upperBound))
        chunk = Chunk(job: chunk.job, range: chunk.range.lowerBound..<chunk.range.lowerBound + room)
      }
    }
    do {
      try worker.channels.send(
        jobID: chunk.job.id, range: chunk.range, inputs: chunk.job.inputs, mayWait: worker.pending.isEmpty,
        workerGone: { !worker.liveness.isAlive })
      worker.add(chunk)
      worker.sent += chunk.range.count
      return true
    } catch let unsendable as UnsendableInputs {
      failUnsendableLocked(chunk, unsendable)
      return true
    } catch {
      queue.append(chunk)
      return false
    }
  }

  /// Fails the tasks of `chunk` whose inputs could not be encoded and queues the others again.
  func failUnsendableLocked(_ chunk: Chunk, _ unsendable: UnsendableInputs) {
    var runStart: Int?
    for local in chunk.range {
      // Every task fails when no single input is at fault (the chunk as a whole could not be encoded).
      if let reason = unsendable.reasons[local] ?? (unsendable.reasons.isEmpty ? unsendable.error : nil) {
        if let start = runStart { queue.append(Chunk(job: chunk.job, range: start..<local)) }
        runStart = nil
        failLocked(chunk.job, local, .codingFailed(reason))
      } else if runStart == nil {
        runStart = local
      }
    }
    if let start = runStart { queue.append(Chunk(job: chunk.job, range: start..<chunk.range.upperBound)) }
  }

  /// About inputs ÷ (workers × 4), as Python's Pool.
  func automaticChunkSize(_ count: Int) -> Int {
    let parts = placement.count * 4
    return max(1, (count + parts - 1) / parts)
  }
}
