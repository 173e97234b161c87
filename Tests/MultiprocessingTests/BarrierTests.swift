import Foundation
import Multiprocessing
import Synchronization
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// CPython's barrier tests (indices, action, abort, reset, timeouts), with the parties in
/// child processes, and a party that dies.
@Suite(.timeLimit(.minutes(3))) struct BarrierTests {
  @Test func partiesMeetWithDistinctIndicesOverSeveralRounds() throws {
    let barrier = try Barrier(parties: 3)
    let indices = try SharedArray(repeating: -1, count: 9, lock: true)
    let children = try (0..<3).map { party in
      try forked {
        for round in 0..<3 { indices[round * 3 + party] = try barrier.wait(timeout: .seconds(10)) }
      }
    }
    for child in children { try child.join() }
    #expect(try children.map { try $0.exitCode } == [0, 0, 0])
    for round in 0..<3 { #expect(Set(indices[round * 3..<round * 3 + 3]) == [0, 1, 2]) }
    #expect(barrier.parties == 3 && barrier.waiting == 0 && !barrier.isBroken)
  }

  /// A spinning wait meets as a sleeping one does, round after round, and sees an abort made
  /// while it spins.
  @Test func spinningWaitsMeetAndSeeAnAbort() throws {
    let barrier = try Barrier(parties: 2)
    let rounds = try SharedValue(0, lock: false)
    let child = try forked {
      for _ in 0..<2000 { try barrier.wait(timeout: .seconds(10), spin: .microseconds(200)) }
      rounds.add(1)
      do {
        try barrier.wait(timeout: .seconds(10), spin: .seconds(5))
      } catch SynchronizationError.brokenBarrier {
        rounds.add(10)
      }
    }
    for _ in 0..<2000 { try barrier.wait(timeout: .seconds(10), spin: .microseconds(200)) }
    #expect(eventually { rounds.load() == 1 })
    usleep(20_000)  // the child spins in its last wait
    let aborted = ContinuousClock.now
    try barrier.abort()
    try child.join()
    #expect(rounds.load() == 11, "the spinning waiter saw the abort")
    #expect(ContinuousClock.now - aborted < .seconds(2), "without spinning out its 5 s")
  }

  @Test func theActionRunsOnceAPassage() throws {
    let runs = try SharedValue(0, lock: nil)
    let barrier = try Barrier(parties: 2) { runs.add(1) }
    let child = try forked { for _ in 0..<3 { try barrier.wait(timeout: .seconds(10)) } }
    for _ in 0..<3 { try barrier.wait(timeout: .seconds(10)) }
    try child.join()
    #expect(runs.load() == 3)
  }

  @Test func aThrowingActionBreaksTheBarrier() throws {
    struct Refused: Error {}
    let barrier = try Barrier(parties: 2) { throw Refused() }
    let child = try forked {
      do { try barrier.wait(timeout: .seconds(10)) } catch SynchronizationError.brokenBarrier { throw ProcessExit(5) }
    }
    usleep(100_000)
    #expect(throws: Refused.self) { try barrier.wait(timeout: .seconds(10)) }
    try child.join()
    #expect(try child.exitCode == 5)
    #expect(barrier.isBroken)
  }

  @Test func abortBreaksWaitersAndResetRepairs() throws {
    let barrier = try Barrier(parties: 3)
    let children = try (0..<2).map { _ in
      try forked {
        do { try barrier.wait(timeout: .seconds(10)) } catch SynchronizationError.brokenBarrier { throw ProcessExit(5) }
      }
    }
    #expect(eventually { barrier.waiting == 2 })
    try barrier.abort()
    for child in children { try child.join() }
    #expect(try children.map { try $0.exitCode } == [5, 5])
    #expect(throws: SynchronizationError.brokenBarrier) { try barrier.wait() }
    try barrier.reset()
    #expect(!barrier.isBroken)
    let again = try (0..<2).map { _ in try forked { try barrier.wait(timeout: .seconds(10)) } }
    try barrier.wait(timeout: .seconds(10))
    for child in again { try child.join() }
    #expect(try again.map { try $0.exitCode } == [0, 0])
  }

  @Test func resetWhileWaitedOnBreaksTheWaiters() throws {
    let barrier = try Barrier(parties: 2)
    let child = try forked {
      do { try barrier.wait(timeout: .seconds(10)) } catch SynchronizationError.brokenBarrier { throw ProcessExit(5) }
    }
    #expect(eventually { barrier.waiting == 1 })
    try barrier.reset()
    try child.join()
    #expect(try child.exitCode == 5)
    #expect(!barrier.isBroken)
  }

  @Test func aTimeoutBreaksTheBarrier() throws {
    let barrier = try Barrier(parties: 2, timeout: .milliseconds(100))
    let started = ContinuousClock.now
    #expect(throws: SynchronizationError.brokenBarrier) { try barrier.wait() }
    #expect(ContinuousClock.now - started >= .milliseconds(100))
    #expect(barrier.isBroken)
  }

  @Test func aPartyThatDiesBreaksTheBarrierInsteadOfHangingIt() throws {
    let barrier = try Barrier(parties: 3)
    let outcomes = try SharedArray(repeating: 0, count: 2, lock: true)
    let victim = try forked {
      try barrier.wait(timeout: .seconds(10))
      while true { sleep(60) }  // never arrives for the second round
    }
    let survivors = try (0..<2).map { party in
      try forked {
        try barrier.wait(timeout: .seconds(10))
        do {
          try barrier.wait(timeout: .seconds(30))
          outcomes[party] = 1
        } catch SynchronizationError.brokenBarrier {
          outcomes[party] = 2
        }
      }
    }
    #expect(eventually { barrier.waiting == 2 })
    let killedAt = ContinuousClock.now
    try victim.kill()
    for survivor in survivors { try survivor.join(timeout: .seconds(5)) }
    #expect(ContinuousClock.now - killedAt < .seconds(2))
    #expect(Array(outcomes) == [2, 2])
    #expect(barrier.isBroken)
    try victim.join()
  }

  @Test func badPartyCounts() {
    #expect(throws: SynchronizationError.invalidArgument("a barrier needs at least 1 party, not 0")) {
      try Barrier(parties: 0)
    }
  }
}
