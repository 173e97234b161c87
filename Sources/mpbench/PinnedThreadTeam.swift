import Atomics
import Foundation
import Scheduler

/// Long-lived threads, each pinned to one slot, that run a job together on request: the
/// thread counterpart of a process pool, kept across runs so that each thread's memory
/// (the triad's arrays, the allocator's arenas) stays warm as a pool worker's does.
final class PinnedThreadTeam: @unchecked Sendable {
  // @unchecked: `job` is written before the start semaphores are signalled and read after;
  // the semaphores order every access.
  private var job: (@Sendable () -> Void)?
  private let starts: [DispatchSemaphore]
  private let finished = DispatchSemaphore(value: 0)
  private let pinFailures = ManagedAtomic<Int>(0)
  private var stopping = false

  /// Starts one thread per slot and waits until each is pinned (as pool workers are, through
  /// ``Topology/bindCallingThread(to:)``).
  init(slots: [Slot]) throws {
    starts = slots.map { _ in DispatchSemaphore(value: 0) }
    for (index, slot) in slots.enumerated() {
      let start = starts[index]
      let thread = Thread { [self] in
        if (try? Topology.bindCallingThread(to: slot.cpus)) == nil {
          pinFailures.wrappingIncrement(ordering: .relaxed)
        }
        finished.signal()
        while true {
          start.wait()
          if stopping { return }
          job?()
          finished.signal()
        }
      }
      thread.name = "mpbench-pinned-\(index)"
      thread.start()
    }
    for _ in slots { finished.wait() }
    guard pinFailures.load(ordering: .relaxed) == 0 else {
      stop()
      throw PinningFailed()
    }
  }

  /// The error when a thread could not be bound to its slot.
  struct PinningFailed: Error, CustomStringConvertible {
    var description: String { "a thread could not be pinned to its slot" }
  }

  /// Runs `body` on every thread at once and waits for all of them.
  func run(_ body: @escaping @Sendable () -> Void) {
    job = body
    for start in starts { start.signal() }
    for _ in starts { finished.wait() }
  }

  /// Ends the threads.
  func stop() {
    stopping = true
    for start in starts { start.signal() }
  }
}
