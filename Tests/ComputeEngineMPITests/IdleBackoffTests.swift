import Foundation
import Scheduler
import Synchronization
import Testing

@testable import ComputeEngineMPI

#if canImport(Glibc)
  import Glibc
#endif

/// A rank's polling loop spins after each message, but not at the expense of a thread that
/// shares its CPU (the rank's local pool, or the driver's local share).
@Suite(.timeLimit(.minutes(3))) struct IdleBackoffTests {
  @Test func aSpinningLoopLeavesItsCPUToAThreadThatWantsIt() throws {
    // A loop still inside its spin (a second) polls for half a second on CPU 0, beside a
    // thread that computes there all the while. Without yielding it would take about half
    // of that CPU (0.25 s).
    let spinnerCPU = Mutex(Duration.zero)
    let done = DispatchSemaphore(value: 0)
    let deadline = ContinuousClock.now + .milliseconds(500)
    let spinner = Thread {
      try? Topology.bindCallingThread(to: CPUSet([0]))
      var backoff = IdleBackoff(spin: .seconds(1))
      while ContinuousClock.now < deadline { backoff.idle() }
      spinnerCPU.withLock { $0 = Self.threadCPUTime() }
      done.signal()
    }
    let busy = Thread {
      try? Topology.bindCallingThread(to: CPUSet([0]))
      while ContinuousClock.now < deadline {}
      done.signal()
    }
    spinner.start()
    busy.start()
    done.wait()
    done.wait()
    let used = spinnerCPU.withLock { $0 }
    #expect(used < .milliseconds(80), "CPU time a spinning loop took beside a busy thread in 0.5 s: \(used)")
  }

  /// The calling thread's CPU time.
  static func threadCPUTime() -> Duration {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
  }
}
