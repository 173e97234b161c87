import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

@testable import ComputeEngine

#if canImport(Glibc)
  import Glibc
#endif

/// A pool's initializer runs once in each worker before its first task (and in each
/// replacement); one that throws or crashes fails the pool's start, with its message.
@Suite(.timeLimit(.minutes(2))) struct PoolInitializerTests {
  struct MissingTable: Error, CustomStringConvertible {
    var description: String { "the table file is missing" }
  }

  @Test(arguments: everyLink)
  func theInitializerRunsOnceInEachWorkerBeforeItsTasks(link: PoolLink) throws {
    let runs = try SharedValue(0, lock: false)
    let pool: ProcessPool<Int, Int> = try linkedPool(
      link, placement: .cores(2),
      initializer: {
        runs.add(1)
        workerTable = (0..<100).map { $0 * $0 }
      }
    ) { workerTable[$0] }
    defer { pool.terminate() }
    #expect(runs.load() == pool.workerCount, "once per worker, before the pool is returned")
    #expect(try pool.map(Array(0..<100)) == (0..<100).map { $0 * $0 })
    #expect(runs.load() == pool.workerCount, "not again per task")
    // A replacement runs it too.
    let first = pool.workerPIDs[0]
    kill(first, SIGKILL)
    let deadline = ContinuousClock.now + .seconds(5)
    while runs.load() < pool.workerCount + 1, ContinuousClock.now < deadline { usleep(1000) }
    #expect(runs.load() == pool.workerCount + 1)
    #expect(try pool.map(Array(0..<100)) == (0..<100).map { $0 * $0 })
  }

  @Test(arguments: [StartMethod.spawn, .forkserver])
  func aRegisteredKernelsInitializerRunsWithEveryStartMethod(method: StartMethod) throws {
    _ = Fixture.ready
    let pool = try ProcessPool(startMethod: method, kernel: PoolKernels.initialized)
    defer { pool.terminate() }
    #expect(try pool.map(Array(0..<100)) == (0..<100).map { $0 * $0 })
    #expect(workerTable.isEmpty, "the table was built in the workers only")
  }

  @Test func anInitializerThatThrowsFailsThePoolsStart() throws {
    // Each worker notes its pid before it throws: none may outlive the failed start.
    let pids = try SharedArray(repeating: Int32(0), count: 64)
    let noted = try SharedValue(0, lock: false)
    let started = ContinuousClock.now
    #expect(throws: PoolError.initializerFailed("the table file is missing")) {
      _ = try ProcessPool<Int, Int>(
        initializer: {
          pids[noted.add(1) % 64] = getpid()
          throw MissingTable()
        }
      ) { $0 }
    }
    #expect(ContinuousClock.now - started < .seconds(5))
    let workers = Array(pids).filter { $0 != 0 }
    #expect(!workers.isEmpty)
    for pid in workers { #expect(kill(pid, 0) == -1 && errno == ESRCH, "worker \(pid) is still there") }
  }

  @Test func anInitializerThatCrashesFailsThePoolsStart() throws {
    let started = ContinuousClock.now
    do {
      _ = try ProcessPool<Int, Int>(initializer: { kill(getpid(), SIGKILL) }) { $0 }
      Issue.record("the pool started")
    } catch PoolError.initializerFailed(let message) {
      #expect(message.contains("killed by signal 9"), "\(message)")
    }
    #expect(ContinuousClock.now - started < .seconds(5))
  }

  /// A replacement whose initializer throws does not respawn for ever, nor hold the work:
  /// the live worker does it.
  @Test func aReplacementWhoseInitializerThrowsLeavesTheWorkToTheOthers() throws {
    let failing = try SharedValue(0, lock: false)
    let pool = try ProcessPool<Int, Int>(
      placement: .cores(2),
      initializer: { if failing.load() != 0 { throw MissingTable() } }
    ) { $0 + 1 }
    defer { pool.terminate() }
    failing.value = 1
    kill(pool.workerPIDs[0], SIGKILL)
    let started = ContinuousClock.now
    #expect(try pool.map(Array(0..<1000)) == (1...1000).map { $0 })
    #expect(ContinuousClock.now - started < .seconds(5))
  }
}
