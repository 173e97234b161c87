import ArgumentParser
import Atomics
import ComputeEngine
import Dispatch
import Foundation
import Multiprocessing
import Scheduler
import ToolSupport

/// How the scaling suite runs a workload's units.
enum ScalingMode: String, CaseIterable, Codable, ExpressibleByArgument {
  /// Every unit in turn on the calling thread: the baseline.
  case serial
  /// One thread per worker, each pinned to a slot, taking units from a shared counter.
  case threadsPinned = "threads-pinned"
  /// `DispatchQueue.concurrentPerform` with one iteration per worker, each taking units.
  case concurrentPerform = "concurrent-perform"
  /// A `TaskGroup` of one child task per worker, each taking units.
  case taskGroup = "task-group"
  /// A ``ProcessPool`` of forked workers, pinned.
  case poolFork = "pool-fork"
  /// The same, unpinned.
  case poolForkUnpinned = "pool-fork-unpinned"
  /// A pool of fork-server workers, pinned.
  case poolForkserver = "pool-forkserver"
  /// The same, unpinned.
  case poolForkserverUnpinned = "pool-forkserver-unpinned"
  /// A pool of spawned workers, pinned.
  case poolSpawn = "pool-spawn"
  /// The same, unpinned.
  case poolSpawnUnpinned = "pool-spawn-unpinned"
  /// `parallelMap`: workers forked for each call.
  case parallelMap = "parallel-map"

  /// The start method of a pool mode.
  var startMethod: StartMethod? {
    switch self {
    case .poolFork, .poolForkUnpinned: .fork
    case .poolForkserver, .poolForkserverUnpinned: .forkserver
    case .poolSpawn, .poolSpawnUnpinned: .spawn
    default: nil
    }
  }

  /// Whether a pool mode pins its workers.
  var pinned: Bool { ![.poolForkUnpinned, .poolForkserverUnpinned, .poolSpawnUnpinned].contains(self) }

  /// Whether the mode can run `kind` (spawned and fork-server workers share no memory
  /// with the parent beyond the rings).
  func supports(_ kind: KernelKind) -> Bool {
    !(kind.needsForkedMemory && (startMethod == .spawn || startMethod == .forkserver))
  }
}

/// Runs a workload in one mode with a given number of workers, repeatedly.
struct ScalingRunner {
  let workload: Workload
  let mode: ScalingMode
  /// Where the workers go: slot `i` for worker `i`.
  let slots: [Slot]
  /// How many times over one timed run does the whole job.
  var rounds = 1
  /// The pools' spin window.
  var spinWindow = Spin.limit

  /// The slots as a placement for pools and `parallelMap`.
  var placement: PlacementPolicy { .slots(slots) }

  /// Times `repetitions` runs after `warmups` untimed ones, checking every checksum against
  /// `reference`; returns the wall times in seconds and the checksum. A pool is started
  /// before the first run and not timed: its start is measured by `mpbench pool`.
  func measure(
    repetitions: Int, warmups: Int = 0, reference: UInt64?, progress: (Int) -> Void
  ) throws -> (walls: [Double], checksum: UInt64) {
    var pool: ProcessPool<WorkItem, UInt64>?
    if let method = mode.startMethod {
      if method == .fork {
        let workload = workload
        pool = try ProcessPool(placement: placement, pinned: mode.pinned, spinWindow: spinWindow) {
          workload.run($0.unit)
        }
      } else {
        pool = try ProcessPool(
          placement: placement, startMethod: method, pinned: mode.pinned, spinWindow: spinWindow,
          kernel: Workload.poolKernel)
      }
    }
    defer { pool?.terminate() }
    let team = mode == .threadsPinned ? try PinnedThreadTeam(slots: slots, spinWindow: spinWindow) : nil
    defer { team?.stop() }
    var walls: [Double] = []
    var checksum: UInt64 = 0
    for repetition in 0..<warmups + repetitions {
      progress(repetition)
      let started = ContinuousClock.now
      for _ in 0..<rounds {
        workload.prepare()
        checksum = try run(pool, team)
      }
      if repetition >= warmups { walls.append((ContinuousClock.now - started).microseconds / 1e6) }
      try workload.verify(checksum, reference: reference, mode: "\(mode.rawValue) × \(slots.count)")
    }
    return (walls, checksum)
  }

  private func run(_ pool: ProcessPool<WorkItem, UInt64>?, _ team: PinnedThreadTeam?) throws -> UInt64 {
    let workload = workload
    switch mode {
    case .serial:
      return (0..<workload.units).reduce(0) { $0 &+ workload.run($1) }
    case .threadsPinned:
      let shared = SharedProgress()
      team!.run { shared.work(workload) }
      return shared.sum.load(ordering: .relaxed)
    case .concurrentPerform:
      let shared = SharedProgress()
      DispatchQueue.concurrentPerform(iterations: slots.count) { _ in shared.work(workload) }
      return shared.sum.load(ordering: .relaxed)
    case .taskGroup:
      let shared = SharedProgress()
      let done = DispatchSemaphore(value: 0)
      let workers = slots.count
      Task {
        await withTaskGroup(of: Void.self) { group in
          for _ in 0..<workers { group.addTask { shared.work(workload) } }
        }
        done.signal()
      }
      done.wait()
      return shared.sum.load(ordering: .relaxed)
    case .parallelMap:
      return try parallelMap(Array(0..<workload.units), placement: placement) { workload.run($0) }.reduce(0, &+)
    default:
      return try pool!.map(workload.items).reduce(0, &+)
    }
  }
}

/// The units still to take and the sum so far, shared by the threads of one run.
final class SharedProgress: Sendable {
  let next = ManagedAtomic<Int>(0)
  let sum = ManagedAtomic<UInt64>(0)

  /// Takes units one at a time until none is left, adding their results.
  func work(_ workload: Workload) {
    while case let k = next.loadThenWrappingIncrement(ordering: .relaxed), k < workload.units {
      sum.wrappingIncrement(by: workload.run(k), ordering: .relaxed)
    }
  }
}
