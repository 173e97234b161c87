import ComputeEngine
import Synchronization

/// One ``ClusterPool/mapResults(_:chunkSize:)`` call's chunks and results, shared by the
/// driver's MPI thread and its local thread.
final class ClusterJob<Output: Sendable>: Sendable {
  private struct State {
    var next = 0
    var done = 0
    var abandoned = false
    var chunks: [Int: [Result<Output, PoolError>]] = [:]
  }

  let id: Int
  let count: Int
  private let chunkSize: Int?
  private let workersPerRank: [Int]
  /// About inputs ÷ (every rank's workers × 4).
  private let automaticChunk: Int
  private let state = Mutex(State())

  init(id: Int, count: Int, chunkSize: Int?, workersPerRank: [Int]) {
    (self.id, self.count, self.chunkSize, self.workersPerRank) = (id, count, chunkSize, workersPerRank)
    automaticChunk = max(1, count / max(1, workersPerRank.reduce(0, +) * 4))
  }

  /// The next chunk for rank `rank`, or nil when every task is handed out (or the job was
  /// abandoned).
  func take(for rank: Int) -> Range<Int>? {
    let size = chunkSize ?? max(automaticChunk, workersPerRank[rank])
    return state.withLock { state in
      guard !state.abandoned, state.next < count else { return nil }
      let range = state.next..<min(count, state.next + size)
      state.next = range.upperBound
      return range
    }
  }

  /// Records the results of the chunk that starts at task `first`.
  func record(_ first: Int, _ results: [Result<Output, PoolError>]) {
    state.withLock { state in
      guard state.chunks[first] == nil else { return }
      state.chunks[first] = results
      state.done += results.count
    }
  }

  /// Whether every task has its result.
  var isComplete: Bool { state.withLock { $0.done >= count } }

  /// Hands out no more chunks (the driver failed).
  func abandon() { state.withLock { $0.abandoned = true } }

  /// The results in task order.
  func resultsInOrder() -> [Result<Output, PoolError>] {
    state.withLock { state in
      var results: [Result<Output, PoolError>] = []
      results.reserveCapacity(count)
      for first in state.chunks.keys.sorted() { results.append(contentsOf: state.chunks[first]!) }
      return results
    }
  }
}
