import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

@testable import ComputeEngine

#if canImport(Glibc)
  import Glibc
#endif

/// Every failure the pool supervises, produced for real: the failing task reports it, the
/// others complete, and the pool carries on with a new worker.
@Suite(.timeLimit(.minutes(3))) struct SupervisionTests {
  enum Failure: Int, CaseIterable {
    case sigkill, abort, trap, exit
  }

  /// A pool whose kernel doubles its input, but fails on 13 in the given way.
  static func failingPool(_ failure: Failure, link: PoolLink) throws -> ProcessPool<Int, Int> {
    try linkedPool(link) { (value: Int) -> Int in
      if value == 13 {
        dup2(open("/dev/null", O_WRONLY), 2)  // keep crash reports out of the test log
        switch failure {
        case .sigkill: kill(getpid(), SIGKILL)
        case .abort: abort()
        case .trap: _ = [Int]()[value]
        case .exit: Glibc.exit(3)
        }
      }
      return value * 2
    }
  }

  /// SIGINT and SIGTERM (a Ctrl-C, a launcher's SIGTERM to the process group) are the
  /// parent's to answer: the workers keep serving, none is replaced.
  @Test func workersLeaveSIGINTAndSIGTERMToTheirParent() throws {
    let pool = try ProcessPool<Int, Int> { $0 * 2 }
    // Every worker in its loop (a signal during its start is its parent's to see to).
    #expect(pool.waitUntilReady(timeout: .seconds(30)))
    #expect(try pool.map(Array(0..<100)) == (0..<100).map { $0 * 2 })
    let before = pool.workerPIDs
    for pid in before {
      kill(pid, SIGINT)
      kill(pid, SIGTERM)
    }
    usleep(100_000)
    #expect(try pool.map(Array(0..<100)) == (0..<100).map { $0 * 2 })
    #expect(pool.workerPIDs == before, "no worker died")
  }

  @Test(arguments: Failure.allCases, everyLink)
  func aWorkerThatDiesFailsOnlyItsTask(failure: Failure, link: PoolLink) throws {
    let pool = try Self.failingPool(failure, link: link)
    let before = Set(pool.workerPIDs)
    let started = ContinuousClock.now
    let results = try pool.mapResults(Array(0..<40), chunkSize: 4)
    #expect(ContinuousClock.now - started < .seconds(5))
    for (index, result) in results.enumerated() where index != 13 {
      #expect((try? result.get()) == index * 2)
    }
    guard case .failure(.workerDied(let pid, let status)) = results[13] else {
      Issue.record("task 13 gave \(results[13])")
      return
    }
    #expect(before.contains(pid))
    switch failure {
    case .sigkill: #expect(status == .signaled(SIGKILL))
    case .abort: #expect(status == .signaled(SIGABRT))
    case .trap: #expect(status == .signaled(SIGILL) || status == .signaled(SIGTRAP))
    case .exit: #expect(status == .exited(3))
    }
    let message = PoolError.workerDied(pid: pid, status: status).description
    #expect(message.contains("\(pid)") && message.contains(status.description))
    #expect(eventually { Set(pool.workerPIDs).count == before.count && !Set(pool.workerPIDs).contains(pid) })
    #expect(try pool.map(Array(0..<10)) == (0..<10).map { $0 * 2 }, "the new worker serves")
  }

  /// A worker that dies while messages larger than its ring wait for it: the dispatcher,
  /// which streams such a message only to an idle worker and stops when it dies, neither hangs
  /// nor loses the other tasks.
  @Test func aWorkerDyingUnderMessagesLargerThanItsRingIsReported() throws {
    let pool = try ProcessPool<String, Int> { text in
      if text.hasPrefix("die") {
        usleep(100_000)
        kill(getpid(), SIGKILL)
      }
      return text.utf8.count
    }
    let big = String(repeating: "x", count: 9_000_000)  // over twice the 4 MiB ring
    let started = ContinuousClock.now
    let results = try pool.mapResults(["die" + big, big, big, big], chunkSize: 1)
    #expect(ContinuousClock.now - started < .seconds(10))
    guard case .failure(.workerDied(_, .signaled(SIGKILL))) = results[0] else {
      Issue.record("the dying task gave \(results[0])")
      return
    }
    #expect(results[1...].map { try? $0.get() } == [9_000_000, 9_000_000, 9_000_000])
    pool.terminate()
  }

  /// The same through the Codable channels, whose workers answer several chunks at once.
  @Test func aCodableWorkerThatDiesFailsOnlyItsTask() throws {
    let pool = try ProcessPool<String, String> { word in
      if word == "13" { kill(getpid(), SIGKILL) }
      return word + "!"
    }
    let words = (0..<60).map(String.init)
    let results = try pool.mapResults(words, chunkSize: 1)
    for (word, result) in zip(words, results) where word != "13" {
      #expect((try? result.get()) == word + "!")
    }
    guard case .failure(.workerDied(_, .signaled(SIGKILL))) = results[13] else {
      Issue.record("task 13 gave \(results[13])")
      return
    }
    #expect(try pool.map(["a", "b"]) == ["a!", "b!"], "the new worker serves")
    pool.terminate()
  }

  @Test(arguments: StartMethod.allCases)
  func aKilledWorkerIsReplacedForEveryStartMethod(method: StartMethod) throws {
    _ = Fixture.ready
    let pool = try ProcessPool(startMethod: method, kernel: PoolKernels.crash)
    let results = try pool.mapResults(Array(0..<30))
    #expect(results.enumerated().filter { (try? $0.element.get()) == $0.offset * 2 }.count == 29)
    guard case .failure(.workerDied(_, .signaled(SIGKILL))) = results[13] else {
      Issue.record("task 13 gave \(results[13])")
      return
    }
  }

  @Test(arguments: [StartMethod.spawn, .forkserver])
  func workersThatCannotStartFailTheWorkInsteadOfRespawningForever(method: StartMethod) throws {
    _ = Fixture.ready
    // Registered in this process only: the helper program the workers run does not know it,
    // so every worker exits with 70 before taking a task.
    let ghost = PoolKernel<Int, Int>("ghost-\(method)") { $0 }
    bootstrapMultiprocessing(entryPoints: [ghost])
    let pool = try ProcessPool(placement: .cores(1), startMethod: method, kernel: ghost)
    let started = ContinuousClock.now
    let results = try pool.mapResults([1, 2, 3])
    #expect(ContinuousClock.now - started < .seconds(20))
    for result in results {
      guard case .failure(.workerDied(_, .exited(70))) = result else {
        Issue.record("expected a failed start, got \(result)")
        continue
      }
    }
    pool.terminate()
  }

  @Test func kernelErrorsReachTheCallerWithTheirMessage() throws {
    struct Refused: Error, CustomStringConvertible {
      let value: Int
      var description: String { "refused \(value)" }
    }
    let pool = try ProcessPool<Int, Int> { value in
      if value % 10 == 3 { throw Refused(value: value) }
      return value
    }
    #expect(throws: PoolError.kernelFailed("refused 3")) { try pool.map(Array(0..<50)) }
    let results = try pool.mapResults(Array(0..<50))
    #expect(results.filter { if case .failure(.kernelFailed) = $0 { true } else { false } }.count == 5)
    #expect(results.compactMap { try? $0.get() }.count == 45)
    #expect(Set(pool.workerPIDs).count == pool.workerCount, "a thrown error does not cost the worker")
  }

  @Test(arguments: everyLink)
  func aTaskOverTheTimeoutIsKilledAndReplaced(link: PoolLink) throws {
    let pool = try linkedPool(link, taskTimeout: .milliseconds(300)) { (value: Int) -> Int in
      if value == 5 { sleep(30) }
      return value
    }
    let before = Set(pool.workerPIDs)
    let started = ContinuousClock.now
    let results = try pool.mapResults(Array(0..<20), chunkSize: 2)
    #expect(ContinuousClock.now - started < .seconds(10))
    guard case .failure(.taskTimedOut(let pid, .milliseconds(300))) = results[5] else {
      Issue.record("task 5 gave \(results[5])")
      return
    }
    #expect(before.contains(pid))
    #expect(results.enumerated().allSatisfy { $0.offset == 5 || (try? $0.element.get()) == $0.offset })
  }

  @Test(arguments: everyLink)
  func workersAreRecycledAfterMaxTasks(link: PoolLink) throws {
    let pool = try linkedPool(link, maxTasksPerWorker: 3) { (_: Int) -> Int32 in getpid() }
    let pids = try pool.map(Array(0..<30), chunkSize: 2)
    let counts = Dictionary(grouping: pids, by: { $0 }).mapValues(\.count)
    #expect(counts.values.allSatisfy { $0 <= 3 })
    #expect(counts.count >= 10)
  }

  @Test(arguments: StartMethod.allCases)
  func aKilledParentTakesEveryWorkerWithIt(method: StartMethod) throws {
    let (helper, stdout) = try launchHelper(["pool-parent", method.rawValue])
    let pids = readPids(stdout)
    #expect(!pids.isEmpty)
    #expect(pids.allSatisfy(processExists))
    kill(helper.processIdentifier, SIGKILL)
    helper.waitUntilExit()
    #expect(eventually(within: .seconds(1)) { !pids.contains(where: processExists) })
  }

  /// Run by the helper program, a fresh process: a pool inside a child forked from the
  /// multi-threaded test runner could deadlock on a lock another thread held at the fork.
  @Test(arguments: [StartMethod.fork, .forkserver])
  func athousandSmallMapsLeaveDescriptorsAndMemoryFlat(method: StartMethod) throws {
    let (helper, stdout) = try launchHelper(["pool-flat", method.rawValue])
    let pids = readPids(stdout)
    helper.waitUntilExit()
    #expect(helper.terminationStatus == 0, "2: wrong results; 3: descriptors grew; 4: memory grew")
    #expect(pids.count >= 1)
  }

  /// The same over the pool's second link, whose pipes a worker reopens through the pool's
  /// `/proc/PID/fd`: a thousand maps on one pool, then 200 pools made, used and joined, leave
  /// the helper's descriptors where they were.
  @Test(arguments: [StartMethod.fork, .forkserver])
  func poolsOverPipesLeaveDescriptorsFlat(method: StartMethod) throws {
    let (flat, _) = try launchHelper(["pool-flat", method.rawValue, "pipes"])
    flat.waitUntilExit()
    #expect(flat.terminationStatus == 0, "2: wrong results; 3: descriptors grew; 4: memory grew")
    let (pools, _) = try launchHelper(["descriptors", method.rawValue, "pipes"])
    pools.waitUntilExit()
    #expect(pools.terminationStatus == 0, "2: processes leaked descriptors; 3: pools did")
  }

}
