import Scheduler

/// Places the two sides of a two-process benchmark on CPUs of their own. Left to the
/// scheduler, a ping-pong's p90 differed 3× from one run to the next on a 2-vCPU host,
/// depending on whether both processes happened to share a CPU; a threshold cannot be both
/// tight and safe on such a figure.
public enum BenchmarkCPUs {
  /// The CPUs this process may run on, read once in the parent (a forked child uses the
  /// copy, without loading a topology).
  public static let allowed: [Int] = {
    let cpus = (try? Topology.current().binding(.process).indices) ?? []
    return cpus.isEmpty ? [0] : cpus
  }()

  /// Binds the calling thread (a forked child's only thread) to the `n`th allowed CPU,
  /// counting round.
  public static func pin(to n: Int) {
    try? Topology.bindCallingThread(to: CPUSet([allowed[n % allowed.count]]))
  }

  /// Runs `body` with the calling thread bound to the `n`th allowed CPU, then lets it run
  /// anywhere again.
  public static func on<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
    pin(to: n)
    defer { try? Topology.bindCallingThread(to: CPUSet(allowed)) }
    return try body()
  }
}
