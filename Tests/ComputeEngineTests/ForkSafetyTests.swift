import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

@testable import ComputeEngine

#if canImport(Glibc)
  import Glibc
#endif

/// Workers forked while other threads of the parent keep the Swift runtime's caches busy:
/// none may stall. The runs with busy threads happen in the helper program (a test runner
/// whose threads churned would poison every other test that forks meanwhile); there a stall
/// is caught by a watchdog, so that it fails its test instead of hanging the suite.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ForkSafetyTests {
  /// Maps that each kill both workers until 1000 were replaced, while two threads keep
  /// building new generic types: no map stalls (the previous design stalled after 154).
  @Test func aThousandReplacementsWhileOtherThreadsBuildTypes() async throws {
    let (status, figures) = try await onOwnThread { try runHelperForFigures(["stress-replacements", "fork"]) }
    #expect(status == 0)
    #expect(figures["stalled"] == 0 && figures["wrong"] == 0, "\(figures)")
    #expect((figures["replaced"] ?? 0) >= 1000, "\(figures)")
    #expect((figures["rounds"] ?? 0) > 100, "the other threads kept building types: \(figures)")
  }

  /// The report that opened the issue: a task over the timeout gets its worker replaced while
  /// another thread formats values; the next map used to hang 9 times in 10.
  @Test func aTimedOutWorkerIsReplacedWhileAnotherThreadFormatsValues() async throws {
    let (status, figures) = try await onOwnThread { try runHelperForFigures(["stress-timeouts", "fork"]) }
    #expect(status == 0)
    #expect(figures == ["timedOut": 5, "stalled": 0, "wrong": 0])
  }

  @Test func parallelMapWhileOtherThreadsBuildTypes() async throws {
    let (status, figures) = try await onOwnThread { try runHelperForFigures(["stress-parallel-map", "fork"]) }
    #expect(status == 0)
    #expect(figures == ["stalled": 0, "wrong": 0])
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
    let stalls = try SharedValue(0, lock: false)
    let pool = try killablePool(stalls: stalls)
    defer { pool.terminate() }
    let firstTemplate = try #require(pool.workerPIDs.first.flatMap(parentPid(of:)))
    pool.dispatcher.setStartBound(.milliseconds(300))
    stalls.add(1)
    let started = ContinuousClock.now
    let (results, rescued) = try withWatchdog(.seconds(20), rescue: { pool.terminate() }) {
      try pool.mapResults([-1] + Array(1..<20), chunkSize: 1)
    }
    #expect(!rescued, "the map waited on the stuck worker")
    guard case .failure(.workerDied(_, .signaled(SIGKILL))) = results[0] else {
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

  /// `waitUntilReady` waits for every worker's loop: not ready while a replacement is stuck
  /// before it, ready again once the stuck one is replaced; never ready once terminated.
  @Test func readyMeansEveryWorkerReachedItsLoop() throws {
    let stalls = try SharedValue(0, lock: false)
    let pool = try killablePool(stalls: stalls)
    #expect(pool.waitUntilReady())
    pool.dispatcher.setStartBound(.seconds(2))
    stalls.add(1)
    let victim = try #require(pool.workerPIDs.first)
    kill(victim, SIGKILL)
    #expect(eventually { !pool.workerPIDs.contains(victim) && pool.workerPIDs.count == 2 })
    #expect(!pool.waitUntilReady(timeout: .milliseconds(300)), "a replacement stuck before its loop")
    #expect(pool.waitUntilReady(timeout: .seconds(15)), "ready once the stuck worker was replaced")
    pool.terminate()
    #expect(!pool.waitUntilReady(timeout: .milliseconds(50)))
  }

  /// The template is what forks workers: killing it kills them, and the pool heals with a new
  /// template and new workers.
  /// A worker that waits for good on a lock its fork template inherited held (here a
  /// `pthread_mutex` this process holds, which the kernel takes for one input; in the wild a
  /// lock of the Swift runtime's metadata caches that another thread held at the template's
  /// fork) is found within a fraction of a second and killed: the task it was running fails
  /// with `stuckAfterFork`, every other task runs, a worker from a new template serves, and
  /// the pool carries on. Over the claim board (shared memory) and the pushed chunks
  /// (pipes) alike.
  ///
  /// `moment`: the map comes to a fresh pool, or once the pool is ready and its thread asleep
  /// with nothing to watch (it then slept on through the work handed out, and never looked:
  /// the hang seen in full runs), its chunks on the board or pushed.
  @Test(arguments: everyLink, StuckMapMoment.allCases)
  func aWorkerStuckOnAnInheritedLockFailsItsTaskAlone(link: PoolLink, moment: StuckMapMoment) throws {
    let held = HeldMutex()
    let runs = try SharedArray(repeating: 0, count: 6, lock: true)
    // A task quota keeps a job off the board: its chunks are pushed.
    let quota = moment == .idlePoolPushedChunks ? 1000 : nil
    let pool = try linkedPool(link, placement: .cores(1), maxTasksPerWorker: quota) { (input: Int) -> Int in
      runs[input] += 1
      if input == 3 { pthread_mutex_lock(held.mutex) }
      return input * 10
    }
    defer { pool.terminate() }
    let stuck = pool.workerPIDs
    let started = ContinuousClock.now
    // Should the pool miss the stuck worker (seen twice in full runs on 7 December: the
    // pool's thread asleep with no job on the board while this thread waited on the board),
    // the pool is terminated after 30 s and the expectations below fail, rather than this
    // test waiting for ever and the suite with it.
    let returned = try Multiprocessing.Event()
    DispatchQueue.global().asyncAfter(deadline: .now() + 30) { if !returned.isSet { pool.terminate() } }
    if moment != .freshPool {
      #expect(pool.waitUntilReady())
      usleep(300_000)
    }
    let results = try pool.mapResults(Array(0..<6), chunkSize: 2)
    returned.set()
    #expect(ContinuousClock.now - started < .seconds(3), "found stuck, not waited on")
    guard case .failure(.stuckAfterFork("PoolWorker-0", let pid, let lock)) = results[3] else {
      Issue.record("task 3 should fail as stuck, not \(results[3])")
      return
    }
    #expect(stuck == [pid] && !processExists(pid))
    #expect(lock.hasPrefix(held.address + " in "), "the held mutex, by its address: \(lock)")
    for input in [0, 1, 2, 4, 5] { #expect((try? results[input].get()) == input * 10, "task \(input)") }
    // On the board each task's output is written where it lies; a pushed chunk's outputs
    // not yet sent when the worker was killed are lost with it, and those tasks run again.
    let onBoard = link == .sharedMemory && quota == nil
    let once = onBoard ? Array(runs) == Array(repeating: 1, count: 6) : runs[3] == 1 && runs.allSatisfy { $0 >= 1 }
    #expect(once, "runs per task: \(Array(runs))")
    #expect(try pool.map([4, 5]) == [40, 50], "the pool carries on")
  }

  /// A pool starts serving once its template has answered with its first worker's pid; its
  /// thread reads the others'. Its workers' pids, asked at once, are every worker's.
  @Test func aFreshPoolListsEveryWorker() throws {
    for _ in 0..<5 {
      let pool = try killablePool()
      defer { pool.terminate() }
      let pids = pool.workerPIDs
      #expect(pids.count == 2 && Set(pids).count == 2 && pids.allSatisfy { processExists($0) }, "\(pids)")
    }
  }

  /// A template killed as its pool starts, before the pool's thread has read every worker's
  /// pid from it: the workers it had not reported are settled as ended ones (or, reported,
  /// die with it), and a new template's workers serve the map.
  @Test func aTemplateKilledAsItsPoolStartsIsReplaced() throws {
    for _ in 0..<5 {
      let pool = try killablePool()
      defer { pool.terminate() }
      let template = try #require(
        pool.dispatcher.lock.withLock { pool.dispatcher.supervisor.forkTemplates?.current.serverPid })
      kill(template, SIGKILL)
      #expect(try pool.map(Array(0..<20)) == (0..<20).map { $0 * 2 })
      // A worker that died with the template is replaced once the pool's thread sees it.
      var parents: Set<Int32?> = []
      #expect(
        eventually {
          parents = Set(pool.workerPIDs.map { parentPid(of: $0) })
          return parents.count == 1 && !parents.contains(template) && !parents.contains(getpid())
            && !parents.contains(nil)
        }, "\(parents)")
    }
  }

  @Test func aKilledTemplateIsReplaced() throws {
    let pool = try killablePool()
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

/// When the map that meets a stuck worker comes (``ForkSafetyTests/aWorkerStuckOnAnInheritedLockFailsItsTaskAlone(link:moment:)``).
enum StuckMapMoment: CaseIterable, Sendable {
  /// At once, while the workers may still be starting.
  case freshPool
  /// Once the pool is ready and its thread asleep: the job goes on the claim board.
  case idlePool
  /// Likewise, with a task quota, which keeps the job off the board: its chunks are pushed.
  case idlePoolPushedChunks
}
