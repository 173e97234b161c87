import ComputeEngine
import Synchronization

/// One ``ClusterPool/mapResults(_:chunkSize:journal:)`` call's chunks and results, shared by
/// the driver's MPI thread, its local thread and its report on an ended job.
final class ClusterJob<Output: Sendable>: Sendable {
  /// Where the job stands: no generic type in it, so that the code that reads and changes
  /// it on every take and record is specialised (fields of a generic struct are found
  /// through its metadata on each access).
  private struct State {
    /// The first task not handed out (tasks loaded from a journal are skipped).
    var next = 0
    var abandoned = false
    /// Each recorded chunk's task count, by its first task.
    var recorded: [Int: Int] = [:]
    /// The chunks handed out and not answered: their rank, by their range's start.
    var inFlight: [Int: (rank: Int, range: Range<Int>)] = [:]
    /// Where chunks recorded before any was handed out (from a journal) start, in order,
    /// from the next one at or after `next`.
    var recordedAhead: [Int] = []
    /// Chunks handed out to a rank that died (and to the survivors whose answers the recovery
    /// dropped), to hand out again before any new one, in task order.
    var returned: [Range<Int>] = []
    /// Each rank's workers, and all of them: the ranks alive now.
    var workersPerRank: [Int]
    var workers: Int
  }

  /// The recorded chunks' first tasks and results, in the order they came.
  private struct Outcomes {
    var starts: [Int] = []
    var results: [[Result<Output, PoolError>]] = []
  }

  let id: Int
  let count: Int
  private let chunkSize: Int?
  /// The largest automatic chunk: about inputs ÷ (every rank's workers × 4).
  private let largestChunk: Int
  private let state: Mutex<State>
  /// Taken after `state` when both are.
  private let outcomes = Mutex(Outcomes())
  /// Tasks with their result: changed under the state's lock, read without it (the driver
  /// asks on every pass of its polling loop, and would contend with the local thread).
  private let done = Atomic<Int>(0)

  init(id: Int, count: Int, chunkSize: Int?, workersPerRank: [Int]) {
    (self.id, self.count, self.chunkSize) = (id, count, chunkSize)
    let workers = max(1, workersPerRank.reduce(0, +))
    largestChunk = max(1, count / (workers * 4))
    state = Mutex(State(workersPerRank: workersPerRank, workers: workers))
  }

  /// The size of rank `rank`'s next automatic chunk with `remaining` tasks not handed out:
  /// guided self-scheduling — the remaining tasks ÷ (every rank's workers × 2), at most
  /// ``largestChunk`` and at least the rank's workers — so that chunks shrink toward the end
  /// and no rank is left with a long chunk (and one more in flight) while the others idle.
  private func automaticChunk(for rank: Int, remaining: Int, in state: State) -> Int {
    let workers = state.workers
    return max(state.workersPerRank[rank], min(largestChunk, (remaining + workers * 2 - 1) / (workers * 2)))
  }

  /// The next `chunks` chunks for rank `rank`, as one range of tasks (one chunk of automatic
  /// size when the job has none), or nil when every task is handed out (or the job was
  /// abandoned). A range stops where one loaded from a journal begins. Chunks handed out
  /// together travel, run and are recorded together: one message, one trip through the
  /// rank's local pool, one record. Chunks returned by ``returnChunks(heldBy:)`` go first,
  /// each as it was.
  func take(for rank: Int, chunks: Int = 1) -> Range<Int>? {
    state.withLock { state in
      guard !state.abandoned else { return nil }
      if !state.returned.isEmpty {
        let range = state.returned.removeFirst()
        state.inFlight[range.lowerBound] = (rank, range)
        return range
      }
      while let done = state.recorded[state.next] { state.next += done }
      guard state.next < count else { return nil }
      let size =
        chunkSize.map { $0 * max(1, chunks) } ?? automaticChunk(for: rank, remaining: count - state.next, in: state)
      var end = min(count, state.next + size)
      while let ahead = state.recordedAhead.first, ahead <= state.next { state.recordedAhead.removeFirst() }
      if let ahead = state.recordedAhead.first, ahead < end { end = ahead }
      let range = state.next..<end
      state.next = end
      state.inFlight[range.lowerBound] = (rank, range)
      return range
    }
  }

  /// Records the results of the chunk that starts at task `first` (from a rank, or from a
  /// journal before any chunk is handed out).
  func record(_ first: Int, _ results: [Result<Output, PoolError>]) {
    state.withLock { state in
      guard state.recorded[first] == nil, first >= 0, first + results.count <= count else { return }
      state.recorded[first] = results.count
      outcomes.withLock {
        $0.starts.append(first)
        $0.results.append(results)
      }
      done.add(results.count, ordering: .releasing)
      if state.inFlight.removeValue(forKey: first) == nil, first >= state.next {
        // Recorded before it was handed out: from the journal.
        state.recordedAhead.insert(
          first, at: state.recordedAhead.firstIndex { $0 > first } ?? state.recordedAhead.endIndex)
      }
    }
  }

  /// How many of the job's chunks `range` (handed out by ``take(for:chunks:)``) holds: one
  /// for a chunk of automatic size.
  func chunkCount(in range: Range<Int>) -> Int {
    chunkSize.map { (range.count + $0 - 1) / $0 } ?? 1
  }

  /// The most tasks a rank (or the driver's local thread) runs in one trip through its local
  /// pool when it gathers small chunks.
  static var tasksPerLocalTrip: Int { 256 }

  /// How many chunks of `chunkSize` tasks a rank with `workers` workers (or the driver's local
  /// thread) runs together through its local pool, when they are small: up to 64 per worker,
  /// at most ``tasksPerLocalTrip`` chunks.
  static func smallChunksTogether(workers: Int, chunkSize: Int) -> Int {
    min(tasksPerLocalTrip, 64 * workers / chunkSize)
  }

  /// Whether every task has its result.
  var isComplete: Bool { done.load(ordering: .acquiring) >= count }

  /// How many tasks have their result.
  var doneCount: Int { done.load(ordering: .acquiring) }

  /// Takes back the unanswered chunks of the ranks `isReturned` picks, to hand out again, and
  /// renumbers the ranks: `workersPerRank` are the ranks alive now, in their new order (the
  /// ranks' answers to the chunks taken back will never come).
  ///
  /// - Returns: the chunks taken back, in task order.
  func returnChunks(heldBy isReturned: (Int) -> Bool, workersPerRank: [Int]) -> [Range<Int>] {
    state.withLock { state in
      let taken = state.inFlight.values.filter { isReturned($0.rank) }.map(\.range)
      for range in taken { state.inFlight.removeValue(forKey: range.lowerBound) }
      state.returned = (state.returned + taken).sorted { $0.lowerBound < $1.lowerBound }
      state.workersPerRank = workersPerRank
      state.workers = max(1, workersPerRank.reduce(0, +))
      return taken.sorted { $0.lowerBound < $1.lowerBound }
    }
  }

  /// Hands out no more chunks (the driver failed).
  func abandon() { state.withLock { $0.abandoned = true } }

  /// The chunks handed out and not answered, by rank (ranks with none left out).
  var unanswered: [Int: [Range<Int>]] {
    state.withLock { state in
      Dictionary(grouping: state.inFlight.values.sorted { $0.range.lowerBound < $1.range.lowerBound }) { $0.rank }
        .mapValues { $0.map(\.range) }
    }
  }

  /// The results in task order.
  func resultsInOrder() -> [Result<Output, PoolError>] {
    outcomes.withLock { outcomes in
      var results: [Result<Output, PoolError>] = []
      results.reserveCapacity(count)
      let starts = outcomes.starts
      for index in starts.indices.sorted(by: { starts[$0] < starts[$1] }) {
        results.append(contentsOf: outcomes.results[index])
      }
      return results
    }
  }
}
