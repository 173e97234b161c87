import Foundation
import Multiprocessing
import Testing

@testable import ComputeEngine

#if canImport(Glibc)
  import Glibc
#endif

/// A job alone in a pool of `BitwiseCopyable` values goes on the claim board. A worker killed
/// at each step of the claim protocol costs exactly what the protocol says: the task it was
/// running fails, every other task completes, and no task runs twice.
@Suite(.timeLimit(.minutes(2))) struct ClaimBoardTests {
  /// A one-worker pool whose kernel counts each input's runs in `runs` (and kills its worker
  /// on input `killAt`), and whose first worker to reach `step` of the board protocol kills
  /// itself there (a test kernel's hook: nothing of it is in the workers' messages).
  static func armedPool(runs: SharedArray<Int>, dieAt step: BoardStep?, killAt: Int = -1) throws -> ProcessPool<
    Int, Int
  > {
    let deaths = try SharedValue(step == nil ? 0 : 1, lock: nil)
    let kernel = PoolKernel<Int, Int>(
      "armed",
      onBoardStep: { reached in
        if reached == step, deaths.add(-1) > 0 { kill(getpid(), SIGKILL) }
      }
    ) { input in
      runs[input] += 1
      if input == killAt { kill(getpid(), SIGKILL) }
      return input * 10
    }
    return try ProcessPool(placement: .cores(1), kernel: kernel)
  }

  @Test(arguments: [BoardStep.claimed, .betweenTasks, .beforeDone, .afterDone])
  func aWorkerKilledAtAStepLosesNoTaskAndRunsNoneTwice(step: BoardStep) throws {
    let runs = try SharedArray(repeating: 0, count: 8, lock: true)
    let pool = try Self.armedPool(runs: runs, dieAt: step)
    defer { pool.terminate() }
    let armed = pool.workerPIDs
    let started = ContinuousClock.now
    let results = try pool.mapResults(Array(0..<8), chunkSize: 4)
    #expect(ContinuousClock.now - started < .seconds(5))
    #expect(pool.workerPIDs != armed, "the armed worker died and was replaced")
    #expect(results.map { try? $0.get() } == (0..<8).map { $0 * 10 })
    #expect(Array(runs) == Array(repeating: 1, count: 8), "runs per task: \(Array(runs))")
  }

  @Test func aWorkerKilledInATaskFailsThatTaskAlone() throws {
    let runs = try SharedArray(repeating: 0, count: 8, lock: true)
    let pool = try Self.armedPool(runs: runs, dieAt: nil, killAt: 5)
    defer { pool.terminate() }
    let results = try pool.mapResults(Array(0..<8), chunkSize: 4)
    guard case .failure(.workerDied(_, .signaled(SIGKILL))) = results[5] else {
      Issue.record("task 5 should fail with its worker's death, not \(results[5])")
      return
    }
    for input in 0..<8 where input != 5 { #expect((try? results[input].get()) == input * 10) }
    #expect(Array(runs) == Array(repeating: 1, count: 8), "runs per task: \(Array(runs))")
    // The pool carries on: the next job finds a new worker.
    #expect(try pool.map([1, 2]) == [10, 20])
  }

  /// Two workers, many small chunks, a death in the middle: the job completes and every task
  /// but the one running ran exactly once.
  @Test func manyChunksAcrossTwoWorkersSurviveADeath() throws {
    let count = 400
    let runs = try SharedArray(repeating: 0, count: count, lock: true)
    let pool = try ProcessPool<Int, Int>(placement: .cores(2)) { input in
      _ = try runs.withLock { $0[input] += 1 }
      if input == 137 { kill(getpid(), SIGKILL) }
      return input + 1
    }
    defer { pool.terminate() }
    let results = try pool.mapResults(Array(0..<count), chunkSize: 1)
    #expect(results.enumerated().allSatisfy { $0.offset == 137 || (try? $0.element.get()) == $0.offset + 1 })
    #expect(Array(runs) == Array(repeating: 1, count: count))
  }

  /// A job larger than the board goes through it in rounds; a death in a later round fails
  /// only its task, and every output lands in its place.
  @Test func aJobLargerThanTheBoardGoesInRounds() throws {
    let count = 150_000
    let pool = try ProcessPool<Int, Int> { input in
      if input == 100_003 { kill(getpid(), SIGKILL) }
      return input &* 3
    }
    defer { pool.terminate() }
    let results = try pool.mapResults(Array(0..<count))
    guard case .failure(.workerDied) = results[100_003] else {
      Issue.record("task 100003 should fail with its worker's death, not \(results[100_003])")
      return
    }
    var wrong = 0
    for (input, result) in results.enumerated() where input != 100_003 && (try? result.get()) != input &* 3 {
      wrong += 1
    }
    #expect(wrong == 0)
    #expect(try pool.map(Array(0..<100_000)).last == 99_999 &* 3)
  }

  /// A kernel's thrown error reaches the caller from the board too, and the others complete.
  @Test func aThrownErrorFailsItsTaskOnTheBoard() throws {
    struct Odd: Error, CustomStringConvertible { var description: String { "odd input" } }
    let pool = try ProcessPool<Int, Int> { input in
      if input % 2 == 1 { throw Odd() }
      return input
    }
    defer { pool.terminate() }
    let results = try pool.mapResults(Array(0..<10), chunkSize: 3)
    for (input, result) in results.enumerated() {
      if input % 2 == 1 {
        #expect(throws: PoolError.kernelFailed("odd input")) { try result.get() }
      } else {
        #expect((try? result.get()) == input)
      }
    }
  }

  /// Failures travel through a ring of 64 KiB that only the pool empties. An `async` map has
  /// no caller collecting, and the pool's thread, asleep since the last job, had no timeout:
  /// workers whose failures filled the ring waited for it forever. They now wake it before
  /// each failure. (Here 3,000 failures of ~230 bytes, ten times the ring, synchronous and
  /// `async`; if the job hangs, a watchdog terminates the pool after 20 s, which ends it.)
  @Test(arguments: [false, true])
  func failuresThatOverflowTheirRingAllArrive(async: Bool) async throws {
    struct Refused: Error, CustomStringConvertible {
      let input: Int
      var description: String { "refused \(input) " + String(repeating: "x", count: 200) }
    }
    let pool = try ProcessPool<Int, Int>(placement: .cores(2)) { throw Refused(input: $0) }
    defer { pool.terminate() }
    try await Task.sleep(for: .milliseconds(100))  // the pool's thread asleep, nothing out
    let watchdog = Task {
      try await Task.sleep(for: .seconds(20))
      pool.terminate()
    }
    defer { watchdog.cancel() }
    let inputs = Array(0..<3000)
    // (The blocking map called from a closure that is not `async`: here it would be the other.)
    let blocking = { () throws -> [Result<Int, PoolError>] in try pool.mapResults(inputs) }
    let results = async ? try await pool.mapResults(inputs) : try blocking()
    let wrong = results.enumerated().filter { input, result in
      guard case .failure(let error) = result else { return true }
      return error != .kernelFailed(Refused(input: input).description)
    }
    #expect(results.count == inputs.count && wrong.isEmpty, "\(wrong.count) wrong, the first: \(wrong.first as Any)")
  }
}
