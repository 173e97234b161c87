import Multiprocessing
import SystemCalls

#if canImport(Glibc)
  import Glibc
#endif

/// A step of the claim-board protocol, which a test kernel observes
/// (`PoolKernel.init(_:onBoardStep:body:)`) to make a worker die there.
enum BoardStep: Int, Sendable {
  /// Right after claiming a chunk, before its first task.
  case claimed
  /// After the chunk's first task, before its second.
  case betweenTasks
  /// After the chunk's last task, before the chunk is marked done.
  case beforeDone
  /// After the chunk is marked done, before the worker counts it.
  case afterDone
}

/// A worker's part in its pool's claim board: it claims chunks of the board's job and runs
/// them where they lie (see ``ClaimBoard`` for the protocol and what a death at each step
/// leaves).
struct BoardRole {
  let board: ClaimBoard
  /// The worker's slot: its tally line on the board.
  let slot: Int
  let incarnation: Int
  /// Whether a caller collects results itself (the pool's thread is then left asleep).
  let callerCollects: () -> Bool

  /// Claims chunks of the board's job until none is free, running each chunk's pending
  /// tasks with `kernel` and reporting those that throw through `fail`. `reached` is told
  /// each step of the protocol (a test kernel's hook; by default nothing).
  ///
  /// - Returns: whether this worker counted the round's last chunk while no caller was
  ///   collecting (so that the pool's thread must be woken to finish the job).
  func serve<Input: BitwiseCopyable, Output: BitwiseCopyable>(
    status: WorkerStatus, kernel: (Input) throws -> Output, fail: (TaskID, String) throws -> Void,
    reached: (BoardStep) -> Void = { _ in }
  ) throws -> Bool {
    var completed = false
    var uncollected = false
    let tally = board.tally(slot)
    while let chunk = board.claim(by: incarnation) {
      reached(.claimed)
      // Read after the claim: the round cannot change while this worker holds one of its chunks.
      let round = board.header(.round).value
      let job = board.header(.job).value
      let offset = board.header(.offset).value
      let tasks = ClaimBoard.tasks(
        of: chunk, count: board.header(.count).value, chunkSize: board.header(.chunkSize).value)
      if tally.round != round {
        tally.chunks = 0
        tally.round = round
      }
      let started = monotonicNanoseconds()
      for task in tasks where board.state(task).pointee == ClaimBoard.pending {
        let index = TaskID(job: job, local: offset + task)
        status.start(index)
        do {
          // A bitwise copy, inline: `storeBytes(of:as:)` was a call per task here (6 % of a
          // trivial task), and `Output` is BitwiseCopyable, so the slot's binding costs nothing.
          board.output(task).bindMemory(to: Output.self, capacity: 1).pointee = try kernel(
            board.input(task).load(as: Input.self))
          board.state(task).pointee = ClaimBoard.succeeded
        } catch {
          try fail(index, "\(error)")
          board.state(task).pointee = ClaimBoard.failed
        }
        if task == tasks.lowerBound { reached(.betweenTasks) }
      }
      status.current = -1
      status.taskNanoseconds = max(1, (monotonicNanoseconds() - started) / max(1, tasks.count))
      reached(.beforeDone)
      board.owner(chunk).value = ClaimBoard.doneMark(incarnation)
      reached(.afterDone)
      // Read before counting: a caller collecting now stays until it sees the count (or
      // rings the pool's thread itself when it gives up).
      uncollected = !callerCollects()
      tally.chunks += 1
      // The worker that counts the last chunk wakes the caller, or the pool's thread if no
      // caller collects. (After a death the pool counts the dead worker's chunks itself.)
      completed = board.isRoundCounted()
      if completed {
        board.signalCompletion()
        // A caller waiting for the round may be queued behind this worker on its CPU.
        if !uncollected { SystemCall.yieldProcessor() }
      }
    }
    return completed && uncollected
  }
}
