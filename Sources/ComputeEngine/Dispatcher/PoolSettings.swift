import Multiprocessing
import Scheduler

/// What a pool was asked for: where its workers go, how they start, and their limits. Fixed
/// once the pool has started; the dispatcher and its parts read it.
struct PoolSettings {
  let startMethod: StartMethod
  /// The workers' slots and their CPUs.
  let placement: Placement
  /// Whether workers bind to their slots.
  let pinned: Bool
  let taskTimeout: Duration?
  let maxTasksPerWorker: Int?
  /// How long workers (for tasks) and a caller collecting its results (for results) spin
  /// before sleeping; the pool's thread keeps ``Spin/limit``: spinning longer there starves
  /// the workers on a machine whose cores they fill.
  let spinWindow: Duration
}
