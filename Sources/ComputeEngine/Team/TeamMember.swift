import Multiprocessing

/// One process of a ``ProcessTeam``, as its closure sees it: its rank, the team's size, and the
/// collective steps every member takes together — ``barrier()``, ``reduce(_:_:)``,
/// ``reduce(elementsOf:_:)`` and ``broadcast(_:from:)``.
///
/// As with MPI's collectives, every member must make the same collective calls in the same
/// order. If the team is ending because another member failed, a collective call throws
/// ``PoolError/teamStopped``; let it propagate (the team reports the member that failed).
public struct TeamMember {
  /// This member's rank, from 0 to `size - 1`.
  public let rank: Int
  /// The number of members.
  public let size: Int
  let shared: TeamShared
  /// The collective steps this member has taken: which half of the exchange area is next.
  private let steps: StepCounter

  init(rank: Int, shared: TeamShared) {
    self.rank = rank
    self.size = shared.size
    self.shared = shared
    self.steps = StepCounter()
  }

  /// This member's contiguous share of `range`: the range cut into ``size`` blocks whose
  /// lengths differ by at most one, block `rank` (OpenMP's `schedule(static)`).
  public func share(of range: Range<Int>) -> Range<Int> { range.block(rank, of: size) }

  /// Waits until every member has reached this barrier: polling for the last arrival for up
  /// to 200 µs (giving the CPU away between polls after the first microseconds), then asleep,
  /// as OpenMP's threads spin between regions.
  ///
  /// - Throws: ``PoolError/teamStopped`` when another member failed.
  public func barrier() throws {
    do {
      try shared.barrier.wait(spin: .microseconds(200))
    } catch SynchronizationError.brokenBarrier {
      throw PoolError.teamStopped
    }
  }

  /// Combines every member's `value` by `reduction` (in rank order) and returns the result to
  /// every member: MPI's `Allreduce`, OpenMP's `reduction` clause.
  ///
  /// ```swift
  /// let total = try member.reduce(partialSum, .sum)
  /// ```
  ///
  /// - Throws: ``PoolError/invalidArgument(_:)`` when `Value` is larger than the team's
  ///   `exchangeCapacity`, ``PoolError/teamStopped``, or what a custom reduction throws.
  public func reduce<Value: BitwiseCopyable>(_ value: Value, _ reduction: TeamReduction<Value>) throws -> Value {
    let area = try exchange(byteCount: MemoryLayout<Value>.size) { $0.storeBytes(of: value, as: Value.self) }
    var result = area(0).loadUnaligned(as: Value.self)
    for rank in 1..<size { result = try reduction.combine(result, area(rank).loadUnaligned(as: Value.self)) }
    return result
  }

  /// Combines every member's `values` element by element (all of the same count) by
  /// `reduction`, in rank order, and returns the result to every member: the sums of a
  /// k-means step's centroids, a histogram's bins.
  ///
  /// - Throws: ``PoolError/invalidArgument(_:)`` when the values do not fit in the team's
  ///   `exchangeCapacity` or members pass different counts, ``PoolError/teamStopped``, or
  ///   what a custom reduction throws.
  public func reduce<Value: BitwiseCopyable>(elementsOf values: [Value], _ reduction: TeamReduction<Value>) throws
    -> [Value]
  {
    let stride = MemoryLayout<Value>.stride
    let area = try exchange(byteCount: 8 + values.count * stride) { slot in
      slot.storeBytes(of: values.count, as: Int.self)
      values.withUnsafeBytes { elements in
        if let start = elements.baseAddress { (slot + 8).copyMemory(from: start, byteCount: elements.count) }
      }
    }
    for rank in 0..<size where area(rank).loadUnaligned(as: Int.self) != values.count {
      throw PoolError.invalidArgument(
        "members reduced arrays of different counts: rank \(rank) passed \(area(rank).loadUnaligned(as: Int.self)), rank \(self.rank) \(values.count)"
      )
    }
    var result = values
    for index in values.indices {
      var combined = (area(0) + 8 + index * stride).loadUnaligned(as: Value.self)
      for rank in 1..<size {
        combined = try reduction.combine(combined, (area(rank) + 8 + index * stride).loadUnaligned(as: Value.self))
      }
      result[index] = combined
    }
    return result
  }

  /// Returns member `root`'s `value` to every member (the others' `value` is ignored): MPI's
  /// `Bcast`.
  ///
  /// - Throws: ``PoolError/invalidArgument(_:)`` for a root outside the team or a value
  ///   larger than the team's `exchangeCapacity`, ``PoolError/teamStopped``.
  public func broadcast<Value: BitwiseCopyable>(_ value: Value, from root: Int = 0) throws -> Value {
    guard (0..<size).contains(root) else {
      throw PoolError.invalidArgument("broadcast from rank \(root), outside the team's ranks 0..<\(size)")
    }
    let area = try exchange(byteCount: MemoryLayout<Value>.size) { slot in
      if rank == root { slot.storeBytes(of: value, as: Value.self) }
    }
    return area(root).loadUnaligned(as: Value.self)
  }

  /// Writes this member's part of a collective step into its slot of the next half of the
  /// exchange area, waits for every member, and returns how to find each member's slot.
  ///
  /// Two halves alternate: a member writes half `s % 2` only after every member passed the
  /// barrier of step `s - 1`, so after each has finished reading half `s % 2` at step `s - 2`.
  private func exchange(byteCount: Int, write: (UnsafeMutableRawPointer) -> Void) throws -> (Int) ->
    UnsafeMutableRawPointer
  {
    guard byteCount <= shared.exchangeCapacity else {
      throw PoolError.invalidArgument(
        "a collective value of \(byteCount) bytes is over the team's exchangeCapacity of \(shared.exchangeCapacity)")
    }
    let half = steps.next() % 2
    write(shared.exchangeSlot(half: half, rank: rank))
    try barrier()
    return { [shared] rank in shared.exchangeSlot(half: half, rank: rank) }
  }

  /// A count that a member's copies share (the member is a value).
  private final class StepCounter {
    var taken = 0
    func next() -> Int {
      defer { taken += 1 }
      return taken
    }
  }
}
