import Multiprocessing

/// The entry points mpbench's spawned and fork-server children run.
enum BenchEntryPoints {
  /// Does nothing: the cost of a process's start and end alone.
  static let empty = EntryPoint<Int>("empty") { _ in }

  /// Every entry point, registered first thing in `main`.
  static let all: [any AnyEntryPoint] = [empty, Workload.poolKernel]
}
