import ComputeEngine
import Foundation
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Idle workers spin for the pool's spin window, then sleep: an idle pool costs no CPU once
/// the window is over.
@Suite(.timeLimit(.minutes(1))) struct SpinWindowTests {
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

  @Test(arguments: [Duration.milliseconds(-1), .seconds(2)])
  func aWindowOutOfRangeIsRefused(window: Duration) {
    #expect(throws: PoolError.invalidArgument("spinWindow must be between 0 and 1 s, not \(window)")) {
      try ProcessPool<Int, Int>(placement: .cores(1), spinWindow: window) { $0 }
    }
  }

}
