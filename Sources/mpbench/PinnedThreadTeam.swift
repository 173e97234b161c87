import Atomics
import Foundation
import Multiprocessing
import Scheduler
import SystemCalls

/// Long-lived threads, each pinned to one slot, that run a job together on request: the
/// thread counterpart of a process pool, kept across runs so that each thread's memory
/// (the triad's arrays, the allocator's arenas) stays warm as a pool worker's does.
///
/// It waits as the pool does: an idle thread spins politely (`Spin.untilYielding`)
/// for the spin window before it sleeps on a futex, and the caller of ``run(_:)`` spins so
/// for at least 5 ms (as a pool's caller waits for a job on its claim board) before it sleeps
/// until the last thread wakes it. As a pool's caller skips its pause phase for a job that
/// will take longer than 20 µs, this caller does after a run that took longer; and the
/// thread that ends a run yields its CPU to a caller that may be queued behind it.
final class PinnedThreadTeam: @unchecked Sendable {
  // @unchecked: `job` and `stopping` are written before `generation` is bumped and read by
  // a thread after it sees the bump; the sequentially consistent words order every access.
  private var job: (@Sendable () -> Void)?
  private var stopping = false
  private let spinWindow: Duration
  private let count: Int
  /// Four futex words: the job's generation, the threads asleep on it, the threads still
  /// running the job, and whether the caller sleeps on that count.
  private let words = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 8)
  private var generation: FutexWord { FutexWord(words) }
  private var sleepers: FutexWord { FutexWord(words + 4) }
  private var running: FutexWord { FutexWord(words + 8) }
  private var callerSleeps: FutexWord { FutexWord(words + 12) }

  /// How long the caller of ``run(_:)`` spins at least before it sleeps.
  static let callerSpin = Duration.milliseconds(5)
  /// How long the last run took: the next is expected to take as long.
  private var lastRunNanoseconds = 0

  /// Starts one thread per slot and waits until each is pinned (as pool workers are, through
  /// ``Topology/bindCallingThread(to:)``).
  init(slots: [Slot], spinWindow: Duration = Spin.limit) throws {
    (self.spinWindow, count) = (spinWindow, slots.count)
    words.initializeMemory(as: UInt32.self, repeating: 0, count: 4)
    let pinned = DispatchSemaphore(value: 0)
    let failures = ManagedAtomic(0)
    for (index, slot) in slots.enumerated() {
      startThread(named: "mpbench-pin-\(index)") { [self] in
        if (try? Topology.bindCallingThread(to: slot.cpus)) == nil { failures.wrappingIncrement(ordering: .relaxed) }
        pinned.signal()
        serve()
      }
    }
    for _ in slots { pinned.wait() }
    guard failures.load(ordering: .relaxed) == 0 else {
      stop()
      throw PinningFailed()
    }
  }

  deinit {
    words.deallocate()
  }

  /// The error when a thread could not be bound to its slot.
  struct PinningFailed: Error, CustomStringConvertible {
    var description: String { "a thread could not be pinned to its slot" }
  }

  /// A thread's loop: waits for each new generation, runs its job, counts itself done.
  private func serve() {
    var seen: UInt32 = 0
    while true {
      if !Spin.untilYielding(limit: spinWindow, { generation.load() != seen }) {
        // Announced before the last look, so that a bump after it sees a sleeper to wake.
        sleepers.add(1)
        while generation.load() == seen { generation.wait(whileEqualTo: seen, until: nil) }
        sleepers.subtract(1)
      }
      seen = generation.load()
      if stopping { return }
      job?()
      if running.subtract(1) == 1 {
        if callerSleeps.load() != 0 { running.wake() } else { SystemCall.yieldProcessor() }
      }
    }
  }

  /// Runs `body` on every thread at once and waits for all of them.
  func run(_ body: @escaping @Sendable () -> Void) {
    let started = monotonicNanoseconds()
    defer { lastRunNanoseconds = monotonicNanoseconds() - started }
    job = body
    running.store(UInt32(count))
    publish()
    let pausing = Spin.pausing(forExpectedWait: .nanoseconds(lastRunNanoseconds))
    if Spin.untilYielding(limit: max(spinWindow, Self.callerSpin), pausing: pausing, { running.load() == 0 }) { return }
    callerSleeps.store(1)
    while case let left = running.load(), left != 0 { running.wait(whileEqualTo: left, until: nil) }
    callerSleeps.store(0)
  }

  /// Ends the threads.
  func stop() {
    stopping = true
    publish()
  }

  /// Starts the next generation and wakes the threads asleep on it.
  private func publish() {
    generation.add(1)
    if sleepers.load() != 0 { generation.wake() }
  }
}
