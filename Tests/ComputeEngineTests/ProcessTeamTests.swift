import CSystemShims
import ComputeEngine
import Foundation
import Multiprocessing
import Scheduler
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A team of pinned processes: ranks, pinning, the collective steps, and every way a member
/// can fail, each produced for real and ending the team without a hang or a survivor.
@Suite(.timeLimit(.minutes(3))) struct ProcessTeamTests {
  @Test func everyMemberRunsOnceWithItsRankOnItsSlot() throws {
    let team = try ProcessTeam(placement: .cores(2))
    #expect(team.size == 2 && team.isPinned)
    let seen = try team.run { member -> Int32 in
      guard member.size == 2 else { return -1 }
      return Int32(member.rank) * 1000 + cs_sched_getcpu()
    }
    let cpus = team.placement.slots.map { Int32($0.cpus.indices.first!) }
    #expect(seen == [0 + cpus[0], 1000 + cpus[1]])
  }

  /// Four members on two slots, a thousand rounds of every collective step: the exchange's two
  /// halves never mix one round's values with the next's.
  @Test func collectiveStepsAgreeInEveryMember() throws {
    let team = try ProcessTeam(size: 4, placement: .cores(2))
    let checks = try team.run { member -> Int in
      var wrong = 0
      for round in 0..<1000 {
        let mine = round * 10 + member.rank
        if try member.reduce(mine, .sum) != 4 * round * 10 + 6 { wrong += 1 }
        if try member.reduce(mine, .min) != round * 10 { wrong += 1 }
        if try member.reduce(mine, .max) != round * 10 + 3 { wrong += 1 }
        // Not commutative: combined in rank order in every member.
        if try member.reduce(member.rank, .custom { $0 * 10 + $1 }) != 123 { wrong += 1 }
        if try member.broadcast(member.rank == 2 ? round : -1, from: 2) != round { wrong += 1 }
        try member.barrier()
      }
      let sums = try member.reduce(elementsOf: [1.5, Double(member.rank), -1], .sum)
      if sums != [6, 6, -4] { wrong += 1 }
      return wrong
    }
    #expect(checks == [0, 0, 0, 0])
  }

  /// The members see the caller's memory as it is at the call, and their shares of a range
  /// cover it exactly once.
  @Test func membersShareARangeAndSeeTheCallersMemory() throws {
    var table = [Int](repeating: 0, count: 1001)
    for index in table.indices { table[index] = index * 3 }  // filled after the team was made
    let team = try ProcessTeam(size: 3, placement: .cores(2))
    let written = try SharedArray(repeating: 0, count: 1001)
    let cells = written.buffer
    let sums = try team.run { [table] member -> Int in
      let mine = member.share(of: 0..<1001)
      for index in mine { cells[index] += 1 }
      return try member.reduce(mine.reduce(0) { $0 + table[$1] }, .sum)
    }
    #expect(sums == [1_501_500, 1_501_500, 1_501_500])
    #expect(written.allSatisfy { $0 == 1 })
  }

  /// A member that throws ends the team with its rank and message, even while another member
  /// computes outside any collective step; no member outlives the call.
  @Test func aMemberThatThrowsEndsTheTeam() throws {
    struct Diverged: Error, CustomStringConvertible { var description: String { "the solver diverged" } }
    // Described here first: a child forked from this runner's busy threads must not be the
    // first to look its conformances up (fork safety, in ProcessesAndStartMethods.md).
    _ = "\(Diverged() as any Error)"
    let team = try ProcessTeam(size: 3, placement: .cores(2))
    let pids = try SharedArray(repeating: Int32(0), count: 3)
    let started = ContinuousClock.now
    #expect(throws: PoolError.memberFailed(rank: 1, message: "the solver diverged")) {
      try team.run { member in
        pids[member.rank] = getpid()
        if member.rank == 1 {
          usleep(50_000)
          throw Diverged()
        }
        if member.rank == 2 { sleep(60) }  // busy elsewhere: killed, not waited for
        try member.barrier()
      }
    }
    #expect(ContinuousClock.now - started < .seconds(10))
    for pid in pids where pid != 0 { #expect(!processExists(pid), "member \(pid) survived") }
  }

  enum Death: CaseIterable {
    case sigkill, trap, exit
  }

  /// A member that dies — before the others' first barrier, while they wait in it — ends the
  /// team with its rank and how it died.
  @Test(arguments: Death.allCases)
  func aMemberThatDiesEndsTheTeam(death: Death) throws {
    let team = try ProcessTeam(size: 3, placement: .cores(2))
    let started = ContinuousClock.now
    do {
      try team.run { member in
        if member.rank == 0 {
          dup2(open("/dev/null", O_WRONLY), 2)  // keep crash reports out of the test log
          usleep(50_000)
          switch death {
          case .sigkill: kill(getpid(), SIGKILL)
          case .trap: _ = [Int]()[member.rank]
          case .exit: Glibc.exit(3)
          }
        }
        try member.barrier()
      }
      Issue.record("the team should have failed")
    } catch PoolError.memberDied(let rank, let pid, let status) {
      #expect(rank == 0 && pid > 0)
      switch death {
      case .sigkill: #expect(status == .signaled(SIGKILL))
      case .trap: #expect([TerminationStatus.signaled(SIGILL), .signaled(SIGTRAP)].contains(status))
      case .exit: #expect(status == .exited(3))
      }
    }
    #expect(ContinuousClock.now - started < .seconds(10))
  }

  /// A parallel-for runs every index exactly once, uneven indices balanced over the members.
  @Test func forEachRunsEveryIndexOnce() throws {
    let team = try ProcessTeam(size: 3, placement: .cores(2))
    let runs = try SharedArray(repeating: 0, count: 1000)
    let who = try SharedArray(repeating: -1, count: 1000)
    let cells = runs.buffer
    try team.forEach(0..<1000, chunkSize: 7) { index in
      cells[index] += 1
      who[index] = Int(getpid())
      if index % 100 == 0 { usleep(2000) }  // uneven
      // The member with the first chunk holds it a while: the others, forked after it, then
      // take chunks even on a loaded machine (one fresh-clone CI run saw the first member do
      // all 1,000 indices before the others started).
      if index == 0 { usleep(50_000) }
    }
    #expect(runs.allSatisfy { $0 == 1 })
    #expect(Set(who).count >= 2, "more than one member took chunks")
    try team.forEach(5..<5) { _ in Issue.record("an empty range runs nothing") }
    #expect(throws: PoolError.invalidArgument("chunkSize must be at least 1, not 0")) {
      try team.forEach(0..<10, chunkSize: 0) { _ in }
    }
  }

  /// A map-reduce of dictionaries: each member folds its chunks into its own, the caller
  /// merges one per member.
  @Test func reduceMergesOneAccumulatorPerMember() throws {
    let team = try ProcessTeam(size: 3, placement: .cores(2))
    let words = (0..<3000).map { "w\($0 % 37)" }
    let counts = try team.reduce(0..<words.count, chunkSize: 50, into: [String: Int]()) { counts, index in
      counts[words[index], default: 0] += 1
    } merge: { total, part in
      total.merge(part, uniquingKeysWith: +)
    }
    #expect(counts == Dictionary(words.map { ($0, 1) }, uniquingKeysWith: +))
    let sum = try team.reduce(1..<101, into: 0) {
      $0 += $1
    } merge: {
      $0 += $1
    }
    #expect(sum == 5050)
    #expect(
      try team.reduce(0..<0, into: [Int]()) {
        $0.append($1)
      } merge: {
        $0 += $1
      } == [])
  }

  /// A failing index and an accumulator over its capacity are named.
  @Test func reduceFailuresAreNamed() throws {
    struct BadIndex: Error, CustomStringConvertible { var description: String { "index 77 is bad" } }
    // Described here first: a child forked from this runner's busy threads must not be the
    // first to look its conformances up (fork safety, in ProcessesAndStartMethods.md).
    _ = "\(BadIndex() as any Error)"
    let team = try ProcessTeam(size: 2, placement: .cores(2))
    do {
      _ = try team.reduce(0..<200, into: 0) { total, index in
        if index == 77 { throw BadIndex() }
        total += index
      } merge: {
        $0 += $1
      }
      Issue.record("a kernel that throws should fail the reduce")
    } catch PoolError.memberFailed(_, let message) {
      #expect(message == "index 77 is bad")
    }
    do {
      _ = try team.reduce(0..<100, into: [Int](), accumulatorCapacity: 64) {
        $0.append($1)
      } merge: {
        $0 += $1
      }
      Issue.record("an accumulator over its capacity should fail")
    } catch PoolError.memberFailed(_, let message) {
      #expect(message.contains("over the accumulatorCapacity of 64"))
    }
  }

  /// A member forked while the caller held a process-private lock, that then takes it, is
  /// stuck for good: the call ends with ``PoolError/stuckAfterFork(name:pid:lock:)`` within a
  /// fraction of a second instead of waiting for ever, and leaves no member behind. The same
  /// for `parallelMap`'s workers.
  @Test func aMemberStuckOnAnInheritedLockEndsTheCall() throws {
    let held = HeldMutex()
    let team = try ProcessTeam(size: 2, placement: .cores(2))
    var pids: [Int32] = []
    let started = ContinuousClock.now
    #expect {
      try team.run { member in
        if member.rank == 1 { pthread_mutex_lock(held.mutex) }
        try member.barrier()
      }
    } throws: { error in
      guard case PoolError.stuckAfterFork("TeamMember-1", let pid, let lock) = error else { return false }
      pids.append(pid)
      // The lock is named by where it lay: the held mutex's address, in the member's memory.
      return "\(error)".contains("was stuck for good on a lock") && lock.hasPrefix(held.address + " in ")
    }
    #expect(ContinuousClock.now - started < .seconds(3), "found stuck, not waited on")
    #expect(pids.count == 1 && pids.allSatisfy { $0 > 0 && !processExists($0) })
    #expect(try team.run { try $0.reduce(1, .sum) } == [2, 2], "the team runs the next call")

    #expect {
      _ = try parallelMap(Array(0..<4), chunkSize: 1) { value in
        if value == 3 { pthread_mutex_lock(held.mutex) }
        return value
      }
    } throws: { error in
      guard case PoolError.stuckAfterFork(_, let pid, let lock) = error else { return false }
      return pid > 0 && !processExists(pid) && lock.hasPrefix(held.address + " in ")
    }
  }

  /// Misuse is an error that names it: in the caller, or as the failing member's message.
  @Test func misuseIsNamed() throws {
    #expect(throws: PoolError.invalidArgument("a team needs at least 1 member, not 0")) {
      try ProcessTeam(size: 0)
    }
    #expect(throws: PoolError.invalidArgument("exchangeCapacity must be at least 8 bytes, not 4")) {
      try ProcessTeam(exchangeCapacity: 4)
    }
    let team = try ProcessTeam(size: 2, placement: .cores(2), exchangeCapacity: 64)
    #expect(
      throws: PoolError.memberFailed(
        rank: 0,
        message: "invalid pool argument: a collective value of 808 bytes is over the team's exchangeCapacity of 64"
      )
    ) {
      try team.run { member in
        _ = try member.reduce(elementsOf: [Double](repeating: 1, count: member.rank == 0 ? 100 : 1), .sum)
      }
    }
    do {
      try team.run { member in _ = try member.broadcast(1, from: 5) }
      Issue.record("a broadcast from outside the team should fail")
    } catch PoolError.memberFailed(_, let message) {
      #expect(message.contains("broadcast from rank 5, outside the team's ranks 0..<2"))
    }
  }

  /// The caller's death takes the members with it.
  @Test func membersDieWithTheirCaller() throws {
    let pids = try SharedArray(repeating: Int32(0), count: 2)
    // Made here: the child is forked from this many-threaded test process, where any lock
    // another thread held at the fork stays held (the topology cache's, among others).
    let team = try ProcessTeam(size: 2, placement: .cores(2))
    let caller = try forked {
      try team.run { member in
        pids[member.rank] = getpid()
        sleep(60)
      }
    }
    #expect(eventually(within: .seconds(20)) { !pids.contains(0) })
    try caller.kill()
    try caller.join()
    for pid in pids where pid != 0 {
      #expect(eventually(within: .seconds(10)) { !processExists(pid) }, "member \(pid) outlived its caller")
    }
  }
}
