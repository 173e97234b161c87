import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

@testable import ComputeEngine

#if canImport(Glibc)
  import Glibc
#endif

/// Workers forked while other threads of the parent keep the Swift runtime's caches busy:
/// none may stall. A stall is caught by a watchdog (which terminates the pool or kills the
/// workers), so that it fails its test instead of hanging the suite.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ForkSafetyTests {
  /// A pool whose kernel kills its own worker on a negative input.
  static func killablePool() throws -> ProcessPool<Int, Int> {
    try ProcessPool<Int, Int>(placement: .cores(2, .compact)) { value in
      if value < 0 { kill(getpid(), SIGKILL) }
      return value &* 2
    }
  }

  /// What a stress run saw.
  struct StressOutcome: Sendable {
    var replaced = 0
    var stalledMaps = 0
    var wrongResults: [String] = []
    var otherThreadsRounds = 0
  }

  @Test(.timeLimit(.minutes(5)))
  func aThousandReplacementsWhileOtherThreadsBuildTypes() async throws {
    let outcome = try await onOwnThread { try Self.replaceAThousandWorkers() }
    #expect(outcome.stalledMaps == 0, "a map stalled after \(outcome.replaced) replacements")
    #expect(outcome.wrongResults == [])
    #expect(outcome.replaced >= 1000)
    #expect(outcome.otherThreadsRounds > 1000, "the other threads kept building types")
  }

  /// Maps that each kill both workers, until 1000 were replaced, while two threads churn;
  /// a map that does not end within 30 s is rescued by terminating the pool.
  static func replaceAThousandWorkers() throws -> StressOutcome {
    let churn = GenericChurn(threads: 2)
    defer { churn.stop() }
    let pool = try Self.killablePool()
    defer { pool.terminate() }
    var outcome = StressOutcome()
    let inputs = [-1, 1, 2, 3, -1, 4, 5, 6]
    while outcome.replaced < 1000 && outcome.stalledMaps == 0 && outcome.wrongResults.isEmpty {
      let (results, rescued) = try withWatchdog(.seconds(30), rescue: { pool.terminate() }) {
        try pool.mapResults(inputs, chunkSize: 1)
      }
      if rescued {
        outcome.stalledMaps += 1
        break
      }
      for (input, result) in zip(inputs, results) {
        switch (input < 0, result) {
        case (true, .failure(.workerDied(_, SIGKILL, nil))): outcome.replaced += 1
        case (false, .success(input * 2)): break
        default: outcome.wrongResults.append("input \(input) gave \(result)")
        }
      }
    }
    outcome.otherThreadsRounds = churn.rounds.load(ordering: .relaxed)
    return outcome
  }

  /// The report that opened the issue: a task over the timeout gets its worker replaced while
  /// the calling thread formats results; the next map used to hang 9 times in 10.
  @Test(.timeLimit(.minutes(3)))
  func aTimedOutWorkerIsReplacedWhileTheCallerFormatsResults() async throws {
    let outcome = try await onOwnThread { () throws -> (timedOut: Int, stalled: Int, wrong: Int) in
      var (timedOut, stalled, wrong) = (0, 0, 0)
      for _ in 0..<5 {
        let pool = try ProcessPool<Int, Int>(placement: .cores(2, .compact), taskTimeout: .milliseconds(500)) {
          value in
          if value >= 1000 { usleep(UInt32(value) * 1000) }
          return value + 1
        }
        defer { pool.terminate() }
        let formatting = GenericChurn(threads: 1)
        let results = try pool.mapResults([2000, 1, 2, 3], chunkSize: 1)
        if case .failure(.taskTimedOut) = results[0] { timedOut += 1 }
        let (next, rescued) = try withWatchdog(.seconds(20), rescue: { pool.terminate() }) {
          try pool.mapResults(Array(0..<50))
        }
        formatting.stop()
        if rescued { stalled += 1 }
        if next.map({ try? $0.get() }) != (0..<50).map({ $0 + 1 }) { wrong += 1 }
      }
      return (timedOut, stalled, wrong)
    }
    #expect(outcome.timedOut == 5 && outcome.stalled == 0 && outcome.wrong == 0, "\(outcome)")
  }

  @Test(.timeLimit(.minutes(3)))
  func parallelMapWhileOtherThreadsBuildTypes() async throws {
    let offset = Int.random(in: 1...1000)
    let wrong = try await onOwnThread {
      let churn = GenericChurn(threads: 2)
      defer { churn.stop() }
      var wrong = 0
      for _ in 0..<150 {
        let outputs = try parallelMap(Array(0..<16), taskTimeout: .seconds(20)) { $0 &* 3 &+ offset }
        if outputs != (0..<16).map({ $0 * 3 + offset }) { wrong += 1 }
      }
      return wrong
    }
    #expect(wrong == 0)
  }

  @Test func parallelMapNamesAWorkerPastItsTaskTimeout() throws {
    let started = ContinuousClock.now
    #expect {
      _ = try parallelMap(Array(0..<8), chunkSize: 1, taskTimeout: .milliseconds(300)) { value in
        if value == 5 { sleep(30) }
        return value
      }
    } throws: { error in
      guard case PoolError.taskTimedOut(let pid, .milliseconds(300)) = error else { return false }
      return pid > 0 && !processExists(pid) && "\(error)".contains("\(pid)")
    }
    #expect(ContinuousClock.now - started < .seconds(10))
    #expect(throws: PoolError.invalidArgument("taskTimeout must be positive, not 0.0 seconds")) {
      _ = try parallelMap([1], taskTimeout: .zero) { $0 }
    }
  }

  /// A replacement worker stuck before its loop is killed once the start bound passes, its
  /// template (which may hold a lock for good) is set aside, and a worker from a new template
  /// takes the slot; the work it was given runs elsewhere.
  @Test func aWorkerThatNeverReportsInIsKilledAndReplaced() throws {
    let pool = try Self.killablePool()
    defer { pool.terminate() }
    let firstTemplate = try #require(pool.workerPIDs.first.flatMap(parentPid(of:)))
    pool.dispatcher.setTestHooks(stallingWorkers: 1, startBound: .milliseconds(300))
    let started = ContinuousClock.now
    let (results, rescued) = try withWatchdog(.seconds(20), rescue: { pool.terminate() }) {
      try pool.mapResults([-1] + Array(1..<20), chunkSize: 1)
    }
    #expect(!rescued, "the map waited on the stuck worker")
    guard case .failure(.workerDied(_, SIGKILL, nil)) = results[0] else {
      Issue.record("the fatal task gave \(results[0])")
      return
    }
    #expect(results.dropFirst().map { try? $0.get() } == (1..<20).map { $0 * 2 })
    #expect(
      eventually { pool.workerPIDs.count == 2 && pool.workerPIDs.contains { parentPid(of: $0) != firstTemplate } },
      "a worker of a new template serves")
    #expect(try pool.map(Array(0..<20), chunkSize: 1) == (0..<20).map { $0 * 2 })
    #expect(ContinuousClock.now - started < .seconds(4), "the stuck worker was not waited out")
  }

  /// The template is what forks workers: killing it kills them, and the pool heals with a new
  /// template and new workers.
  @Test func aKilledTemplateIsReplaced() throws {
    let pool = try Self.killablePool()
    defer { pool.terminate() }
    let before = Set(pool.workerPIDs)
    let parents = Set(before.map { parentPid(of: $0) })
    #expect(before.count == 2 && parents.count == 1, "one template forked both workers")
    let template = try #require(parents.first ?? nil)
    #expect(template != getpid(), "workers are not forked from the pool's process")
    kill(template, SIGKILL)
    #expect(eventually { Set(pool.workerPIDs).isDisjoint(with: before) })
    #expect(try pool.map(Array(0..<20)) == (0..<20).map { $0 * 2 })
    let after = try #require(pool.workerPIDs.first.flatMap(parentPid(of:)))
    #expect(after != template && after != getpid())
  }
}
