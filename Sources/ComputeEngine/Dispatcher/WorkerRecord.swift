import Multiprocessing

/// A slice of a job's tasks, sent to a worker as one message.
struct PoolChunk<Input: Sendable, Output: Sendable> {
  let job: PoolJob<Input, Output>
  let range: Range<Int>
}

/// One worker as the pool sees it, from its start to its end: how to reach it, whether it
/// lives, and the chunks it holds. A replacement is a new record in the same slot.
final class WorkerRecord<Input: Sendable, Output: Sendable> {
  /// The worker's place in the pool: its CPUs and its tally line on the claim board.
  let slot: Int
  /// This worker's id among all the pool started: its mark on the board's chunks.
  let incarnation: Int
  /// Whether the worker lives, and how to end it.
  let liveness: ProcessLiveness
  /// The parent's end of the worker's channels.
  let channels: any WorkerTransport<Input, Output>
  /// What the worker does, as far as the pool knows (its channels' status line, which stays
  /// where it is for the worker's life).
  let status: WorkerStatus
  /// The chunks sent and not yet fully answered, oldest first.
  var pending: [PoolChunk<Input, Output>] = []
  /// For each pending chunk: its job, its range and how many results are still due. Kept
  /// apart from the generic chunks so that counting a result builds no generic value.
  /// Unchecked: used on the dispatcher thread only, once per result.
  @exclusivity(unchecked) private var pendingJobs: [Int] = []
  @exclusivity(unchecked) private var pendingRanges: [Range<Int>] = []
  @exclusivity(unchecked) private var unreported: [Int] = []
  /// The tasks sent to it, for the task quota.
  var sent = 0
  /// The task it was killed for overrunning the timeout with.
  var timedOutTask: TaskID?
  /// When the worker was started, in nanoseconds of the monotonic clock.
  let launchedAt = monotonicNanoseconds()
  /// Whether the worker was killed for not reaching its loop in time.
  var killedSilent = false
  /// Where the lock lay, when the worker was killed for waiting for good on a lock inherited
  /// at its fork; nil when it was not.
  var killedStuck: String?
  /// Whether any result came from this worker (a worker that dies before is a failed start).
  @exclusivity(unchecked) private(set) var answered = false
  /// Whether the slot gave up after failed starts; it is tried again when work arrives.
  var down = false

  init(slot: Int, incarnation: Int, liveness: ProcessLiveness, channels: any WorkerTransport<Input, Output>) {
    self.slot = slot
    self.incarnation = incarnation
    self.liveness = liveness
    self.channels = channels
    status = channels.status
  }

  func add(_ chunk: PoolChunk<Input, Output>) {
    pending.append(chunk)
    pendingJobs.append(chunk.job.id)
    pendingRanges.append(chunk.range)
    unreported.append(chunk.range.count)
  }

  /// Counts the results of tasks `local ..< local + count` of job `jobID`, dropping each
  /// chunk once complete.
  func reported(jobID: Int, local: Int, count: Int = 1) {
    answered = true
    var (local, count) = (local, count)
    while count > 0 {
      guard
        let position = pendingJobs.indices.first(where: {
          pendingJobs[$0] == jobID && pendingRanges[$0].contains(local)
        })
      else { return }
      let counted = min(count, pendingRanges[position].upperBound - local)
      unreported[position] -= counted
      if unreported[position] <= 0 {
        pending.remove(at: position)
        pendingJobs.remove(at: position)
        pendingRanges.remove(at: position)
        unreported.remove(at: position)
      }
      local += counted
      count -= counted
    }
  }

  /// Tasks sent and not yet answered.
  var pendingTasks: Int { unreported.reduce(0, +) }

  func clearPending() {
    pending = []
    pendingJobs = []
    pendingRanges = []
    unreported = []
  }
}
