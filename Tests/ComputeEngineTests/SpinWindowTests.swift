import ComputeEngine
import Foundation
import Scheduler
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Idle workers spin for the pool's spin window, then sleep: an idle pool costs no CPU once
/// the window is over, and a spinning worker leaves its CPU to any thread that wants it.
@Suite(.timeLimit(.minutes(3))) struct SpinWindowTests {
  @Test func anIdlePoolUsesNoCPUAfterItsWindow() throws {
    let pool = try ProcessPool<Int, Int>(placement: .cores(1), spinWindow: .milliseconds(50)) { $0 + 1 }
    defer { pool.terminate() }
    #expect(try pool.map(Array(0..<100)) == Array(1...100))
    usleep(150_000)  // past the window
    let workers = pool.workerPIDs
    let before = try workers.map { try cpuTicks(of: $0) }
    usleep(1_000_000)
    let used = zip(try workers.map { try cpuTicks(of: $0) }, before).map { $0 - $1 }
    #expect(used.allSatisfy { $0 <= 3 }, "CPU ticks (1/100 s) of idle workers over 1 s: \(used)")
    #expect(try pool.map([41]) == [42], "a sleeping worker wakes for the next job")
  }

  /// With a typed-slot pool (`Int`) and a byte-ring one (`String`, `Codable`).
  @Test(arguments: [false, true])
  func aSpinningWorkerLeavesItsCPUToAThreadThatWantsIt(codable: Bool) throws {
    let worker: Int32
    let terminate: () -> Void
    // The worker then spins for a second.
    if codable {
      let pool = try ProcessPool<String, String>(placement: .cpus([0]), spinWindow: .seconds(1)) { $0 + "!" }
      #expect(try pool.map(["a"]) == ["a!"])
      (worker, terminate) = (try #require(pool.workerPIDs.first), pool.terminate)
    } else {
      let pool = try ProcessPool<Int, Int>(placement: .cpus([0]), spinWindow: .seconds(1)) { $0 + 1 }
      #expect(try pool.map([1]) == [2])
      (worker, terminate) = (try #require(pool.workerPIDs.first), pool.terminate)
    }
    defer { terminate() }
    let before = try cpuTicks(of: worker)
    // Half a second of work on the worker's CPU, well inside its window. Spinning without
    // yielding, the worker would take about half of that CPU (25 ticks).
    let done = DispatchSemaphore(value: 0)
    let busy = Thread {
      try? Topology.bindCallingThread(to: CPUSet([0]))
      let end = ContinuousClock.now + .milliseconds(500)
      while ContinuousClock.now < end {}
      done.signal()
    }
    busy.start()
    done.wait()
    let used = try cpuTicks(of: worker) - before
    #expect(used <= 8, "CPU ticks (1/100 s) a spinning worker took from a busy thread on its CPU in 0.5 s: \(used)")
  }

  @Test(arguments: [Duration.milliseconds(-1), .seconds(2)])
  func aWindowOutOfRangeIsRefused(window: Duration) {
    #expect(throws: PoolError.invalidArgument("spinWindow must be between 0 and 1 s, not \(window)")) {
      try ProcessPool<Int, Int>(placement: .cores(1), spinWindow: window) { $0 }
    }
  }

}
