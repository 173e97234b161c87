import Foundation
import Multiprocessing
import Scheduler

/// A team of pinned processes that run one closure together, each with its rank: OpenMP's
/// `parallel` region, MPI's ranks, with processes.
///
/// `run(_:)` forks one member per placement slot (one per physical core by default), binds
/// each to its slot, and runs the closure in every member with a ``TeamMember`` that knows
/// its rank and the team's size and takes the collective steps: a barrier, reductions,
/// broadcasts. The members are forked for the call, so the closure sees the caller's memory
/// as it is at that moment, and may capture anything; results come back through shared
/// memory (`SharedArray`, `SharedMatrix`, the reductions) or as each member's return value.
///
/// ```swift
/// let grid = try SharedMatrix(rows: 2048, columns: 2048, repeating: 0.0)
/// let team = try ProcessTeam()
/// let sums = try team.run { member in
///   let rows = member.share(of: 0..<grid.rows)              // this member's band of rows
///   for row in rows { for column in 0..<grid.columns { grid[row, column] = Double(row) } }
///   try member.barrier()
///   return try member.reduce(Double(rows.count), .sum)      // every member gets the total
/// }
/// ```
///
/// **Failures end the team, never hang it.** A member that throws or dies (a signal, a trap,
/// an `exit`) makes `run(_:)` throw ``PoolError/memberFailed(rank:message:)`` or
/// ``PoolError/memberDied(rank:pid:status:)`` naming it; the others are woken from any
/// collective step they wait in and killed, and none outlives the call. If the caller dies,
/// the members die with it.
public struct ProcessTeam: Sendable {
  /// The slots the members run on, member `r` on `placement.slots[r % placement.count]`.
  public let placement: Placement
  /// Whether each member is bound to its slot's CPUs.
  public let isPinned: Bool
  /// The largest value, in bytes, that one member contributes to a collective step.
  public let exchangeCapacity: Int

  /// The number of members.
  public let size: Int

  /// A team with one member per slot of `placement`, or `size` members over its slots.
  ///
  /// - Parameters:
  ///   - size: the number of members; one per slot by default. More members than slots share
  ///     them round-robin (member `r` on slot `r % slots`), which only pays when members wait.
  ///   - placement: where the members run; one per physical core by default.
  ///   - topology: the machine to place on; this one by default.
  ///   - pinned: whether each member is bound to its slot's CPUs (the default).
  ///   - exchangeCapacity: the largest value, in bytes, a member passes to a reduction or a
  ///     broadcast (an array's elements and 8 bytes for its count); 4 KiB by default.
  /// - Throws: a `SchedulerError` for a bad placement or a topology of another machine,
  ///   ``PoolError/invalidArgument(_:)`` for a size under 1 or a capacity under 8 bytes.
  public init(
    size: Int? = nil, placement: PlacementPolicy = .physicalCores, topology: Topology? = nil, pinned: Bool = true,
    exchangeCapacity: Int = 4096
  ) throws {
    if let size, size < 1 { throw PoolError.invalidArgument("a team needs at least 1 member, not \(size)") }
    guard exchangeCapacity >= 8 else {
      throw PoolError.invalidArgument("exchangeCapacity must be at least 8 bytes, not \(exchangeCapacity)")
    }
    let machine = try topology ?? Topology.current()
    guard machine.isThisSystem else { throw SchedulerError.notThisSystem(source: machine.source.description) }
    self.placement = try machine.placement(placement)
    self.size = size ?? self.placement.count
    isPinned = pinned
    // Rounded up to a cache line, so that no two members' slots share one.
    self.exchangeCapacity = (exchangeCapacity + 63) / 64 * 64
  }

  /// Runs `body` in every member and returns each member's result, by rank.
  ///
  /// - Throws: ``PoolError/memberFailed(rank:message:)`` when a member's `body` threw,
  ///   ``PoolError/memberDied(rank:pid:status:)`` when a member died, or a `ProcessError`
  ///   when a member could not be started.
  @discardableResult
  public func run<Result: BitwiseCopyable>(_ body: @escaping (TeamMember) throws -> Result) throws -> [Result] {
    let shared = try TeamShared(
      size: size, exchangeCapacity: exchangeCapacity, resultStride: MemoryLayout<Result>.stride)
    try launch(shared) { member in
      let result = try body(member)
      (shared.results.baseAddress + member.rank * shared.resultStride).storeBytes(of: result, as: Result.self)
    }
    return [Result](unsafeUninitializedCapacity: size) { buffer, initialized in
      UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(
        from: shared.results.baseAddress, byteCount: size * shared.resultStride)
      initialized = size
    }
  }

  /// Runs `body` in every member.
  ///
  /// - Throws: as the other `run(_:)`.
  public func run(_ body: @escaping (TeamMember) throws -> Void) throws {
    try launch(try TeamShared(size: size, exchangeCapacity: exchangeCapacity, resultStride: 0), body)
  }

  /// Forks the members, runs `body` in each, and waits for all of them; on the first failure,
  /// stops the others and throws it.
  private func launch(_ shared: TeamShared, _ body: @escaping (TeamMember) throws -> Void) throws {
    let pinned = isPinned
    // What the members run before `body`, run once here so that they inherit its metadata.
    _ = placement.slots.first.map { $0.cpus.indices.map(Int32.init) }
    _ = PoolError.describedOnce
    let slots = placement.slots
    let members = (0..<size).map { rank in
      let slot = slots[rank % slots.count]
      let name = "TeamMember-\(rank)"
      return Multiprocessing.Process(name: name, startMethod: .fork) {
        CrashReport.installOneLine(label: name)
        if pinned { try Topology.bindCallingThread(to: slot.cpus) }
        do {
          try body(TeamMember(rank: rank, shared: shared))
          shared.record(.finished, rank: rank)
        } catch PoolError.teamStopped {
          shared.record(.stopped, rank: rank)
          throw ProcessExit(2)
        } catch {
          shared.record(.threw, message: "\(error)", rank: rank)
          throw ProcessExit(1)
        }
      }
    }
    var started: [Multiprocessing.Process] = []
    func stop() {
      try? shared.barrier.abort()
      for member in started { try? member.kill() }
    }
    do {
      for member in members {
        try member.start()
        started.append(member)
      }
    } catch {
      stop()
      for member in started { _ = try? member.join() }
      throw error
    }
    var failure: PoolError?
    var running = Array(members.indices)
    while !running.isEmpty {
      let ended = try Multiprocessing.Process.wait(
        running.map { members[$0] }, timeout: Multiprocessing.Process.stuckCheckInterval)
      // A member forked from this thread while another held a lock it then took waits for ever.
      if ended.isEmpty, failure == nil, let stuck = PoolError.stuckAfterFork(among: running.map { members[$0] }) {
        failure = stuck
        stop()
      }
      for member in ended {
        guard let rank = members.firstIndex(where: { $0 === member }) else { continue }
        running.removeAll { $0 == rank }
        guard failure == nil, let cause = Self.failure(of: member, rank: rank, in: shared) else { continue }
        failure = cause
        stop()
      }
    }
    for member in members { _ = try? member.join() }
    if let failure { throw failure }
    // Stopped with no member to blame: the barrier broke under them.
    if (0..<size).contains(where: { shared.outcome(of: $0) == .stopped }) { throw PoolError.teamStopped }
  }

  /// The error a member's end makes the team throw, or nil when it finished (or left only
  /// because another member's failure stopped the team).
  private static func failure(of member: Multiprocessing.Process, rank: Int, in shared: TeamShared) -> PoolError? {
    guard let status = try? member.terminationStatus else { return nil }
    switch (status, shared.outcome(of: rank)) {
    case (.exited(0), .finished), (.exited(2), .stopped):
      return nil
    case (.exited(1), .threw):
      return .memberFailed(rank: rank, message: shared.message(of: rank))
    default:
      return .memberDied(rank: rank, pid: ((try? member.pid) ?? nil) ?? 0, status: status)
    }
  }
}
