import Multiprocessing

/// The push path: the chunks of the jobs the claim board does not take (`Codable` values,
/// jobs beside others, observed jobs, task quotas), waiting for a worker, and how they are
/// handed to workers through their task channels. Used under the dispatcher's lock.
final class PushQueue<Input: Sendable, Output: Sendable> {
  typealias Chunk = PoolChunk<Input, Output>
  typealias Worker = WorkerRecord<Input, Output>

  /// Chunks waiting for a worker, the next one last (so that taking it is O(1)).
  private var chunks: [Chunk] = []
  /// Where the tasks that cannot be sent fail.
  private let jobs: PoolJobs<Input, Output>
  /// The pool's worker slots, for the automatic chunk size.
  private let slots: Int
  private let maxTasksPerWorker: Int?

  init(jobs: PoolJobs<Input, Output>, slots: Int, maxTasksPerWorker: Int?) {
    self.jobs = jobs
    self.slots = slots
    self.maxTasksPerWorker = maxTasksPerWorker
  }

  /// Whether no chunk waits.
  var isEmpty: Bool { chunks.isEmpty }

  /// Queues `job`'s tasks in chunks of `chunkSize` (automatic when nil), behind those
  /// already waiting.
  func enqueue(_ job: PoolJob<Input, Output>, chunkSize: Int?) {
    let size = min(chunkSize ?? automaticChunkSize(job.count), PoolLimits.maxChunk)
    let cut = stride(from: 0, to: job.count, by: size).map {
      Chunk(job: job, range: $0..<min($0 + size, job.count))
    }
    chunks.insert(contentsOf: cut.reversed(), at: 0)
  }

  /// Puts `requeued` back at the head of the queue, the first of them next.
  func requeue(_ requeued: [Chunk]) {
    chunks.append(contentsOf: requeued.reversed())
  }

  /// Drops `job`'s waiting chunks, failing their tasks not done with ``PoolError/cancelled``.
  func cancel(_ job: PoolJob<Input, Output>) {
    var kept: [Chunk] = []
    var dropped: [Range<Int>] = []
    for chunk in chunks {
      if chunk.job === job { dropped.append(chunk.range) } else { kept.append(chunk) }
    }
    chunks = kept
    for range in dropped {
      for local in range where !job.isDone(local) { jobs.fail(job, local, .cancelled) }
    }
  }

  /// Empties the queue, failing its tasks not done with `error` (nil: the jobs fail as a
  /// whole elsewhere).
  func removeAll(failing error: PoolError?) {
    let dropped = chunks
    chunks = []
    guard let error else { return }
    for chunk in dropped {
      for local in chunk.range where !chunk.job.isDone(local) { jobs.fail(chunk.job, local, error) }
    }
  }

  /// Sends queued chunks to `workers` with room for them, in rounds so that the work spreads
  /// over every worker: one chunk per worker per round, except to workers whose tasks are
  /// short (under ``PoolLimits/shortTaskNanoseconds``), which take up to their share of the
  /// queue at once and so fewer, larger batches.
  func dispatch(to workers: [Worker]) {
    var sentAny = true
    while sentAny, !chunks.isEmpty {
      sentAny = false
      let share = (chunks.count + workers.count - 1) / workers.count
      for worker in workers where !chunks.isEmpty && hasRoom(worker) {
        let short = (1..<PoolLimits.shortTaskNanoseconds).contains(worker.status.taskNanoseconds)
        var sent = 0
        while send(to: worker) {
          sentAny = true
          sent += 1
          guard short, sent < share, !chunks.isEmpty, hasRoom(worker) else { break }
        }
      }
    }
  }

  /// Whether `worker` may take the next queued chunk. Two chunks keep a worker busy while
  /// the next is sent; once the worker has timed its tasks it is given up to
  /// ``PoolLimits/queuedWorkNanoseconds`` (1 ms) of them, so that short tasks do not wait on
  /// a round trip each and long ones are not held by one worker while another is idle: a
  /// worker whose tasks are longer than ``PoolLimits/longTaskNanoseconds`` (5 ms) holds one
  /// chunk at a time.
  private func hasRoom(_ worker: Worker) -> Bool {
    guard worker.timedOutTask == nil, !worker.down else { return false }
    guard worker.pendingTasks + chunks[chunks.count - 1].range.count <= PoolLimits.ringSlots / 2 else { return false }
    let taskNanoseconds = worker.status.taskNanoseconds
    if taskNanoseconds == 0 { return worker.pending.count < PoolLimits.chunksInFlight }
    if taskNanoseconds >= PoolLimits.longTaskNanoseconds { return worker.pending.isEmpty }
    return worker.pending.count < PoolLimits.chunksInFlight
      || (worker.pending.count < PoolLimits.maxChunksInFlight
        && worker.pendingTasks * taskNanoseconds < PoolLimits.queuedWorkNanoseconds)
  }

  /// Sends the next queued chunk (cut to the worker's task quota) to `worker`; false when
  /// it could not take it.
  private func send(to worker: Worker) -> Bool {
    var chunk = chunks.removeLast()
    if let quota = maxTasksPerWorker {
      let room = quota - worker.sent
      guard room > 0 else {
        chunks.append(chunk)
        return false
      }
      if chunk.range.count > room {
        chunks.append(Chunk(job: chunk.job, range: chunk.range.lowerBound + room..<chunk.range.upperBound))
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
      failUnsendable(chunk, unsendable)
      return true
    } catch {
      chunks.append(chunk)
      return false
    }
  }

  /// Fails the tasks of `chunk` whose inputs could not be encoded and queues the others again.
  private func failUnsendable(_ chunk: Chunk, _ unsendable: UnsendableInputs) {
    var runStart: Int?
    for local in chunk.range {
      // Every task fails when no single input is at fault (the chunk as a whole could not be encoded).
      if let reason = unsendable.reasons[local] ?? (unsendable.reasons.isEmpty ? unsendable.error : nil) {
        if let start = runStart { chunks.append(Chunk(job: chunk.job, range: start..<local)) }
        runStart = nil
        jobs.fail(chunk.job, local, .codingFailed(reason))
      } else if runStart == nil {
        runStart = local
      }
    }
    if let start = runStart { chunks.append(Chunk(job: chunk.job, range: start..<chunk.range.upperBound)) }
  }

  /// About inputs ÷ (workers × 4), as Python's Pool.
  private func automaticChunkSize(_ count: Int) -> Int {
    let parts = slots * 4
    return max(1, (count + parts - 1) / parts)
  }
}
