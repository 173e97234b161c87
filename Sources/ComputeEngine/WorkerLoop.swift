import Foundation
import Multiprocessing
import Scheduler
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// What a worker needs to start: its channels, the control block, its slot and its limits.
/// A spawned or fork-server worker receives it as its entry point's arguments.
struct WorkerPlan: Codable, Sendable {
  var channels: Data
  var control: SharedMemory.Handle
  var slot: Int
  /// The CPUs to bind to; empty for an unpinned pool.
  var cpus: [Int]
  var chunkSize: Int
  var maxTasks: Int?
  /// How long the worker spins waiting for tasks before it sleeps, in nanoseconds.
  var spinNanoseconds: Int
  /// The dispatcher's process and the write end of its doorbell pipe there.
  var doorbellPid: Int32
  var doorbellFD: Int32
  /// Whether the worker was forked from the pool's process or its fork template, and so
  /// holds the doorbell descriptor itself.
  var forked: Bool
  /// Whether the pool has a task timeout (the worker then records when tasks start).
  var timed: Bool
  /// Whether the worker gets stuck before its loop, as one that inherited a held lock would
  /// (for the tests of the start bound).
  var stallsForTesting = false
}

/// The worker's side: bind to the slot, then serve tasks until the channels close.
enum WorkerLoop {
  /// Runs until the channels close or the task quota is used up.
  static func run<Input, Output>(
    plan: WorkerPlan, channels: WorkerChannels<Input, Output>, control: PoolControl,
    kernel: (Input) throws -> Output
  ) throws {
    if !plan.cpus.isEmpty { try Topology.bindCallingThread(to: CPUSet(plan.cpus)) }
    let doorbell =
      plan.forked
      ? FileDescriptor(rawValue: plan.doorbellFD)
      : try FileDescriptor.openClosingOnExec("/proc/\(plan.doorbellPid)/fd/\(plan.doorbellFD)", flags: O_WRONLY)
    let status = control.status(plan.slot, timed: plan.timed)
    while plan.stallsForTesting { pause() }
    status.reportedIn = true
    try channels.serve(
      chunkSize: plan.chunkSize, maxTasks: plan.maxTasks, spin: .nanoseconds(plan.spinNanoseconds), status: status,
      kernel: kernel
    ) {
      if control.header(.dispatcherSleeping).value != 0 { doorbell.ring() }
    }
  }
}
