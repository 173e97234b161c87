import CSystemShims
import ComputeEngine
import Foundation
import Kernels
import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// Kernels the pool tests run under every start method.
public enum PoolKernels {
  /// A unit of the reference kernel at the test size (1000 samples).
  public static let unit = PoolKernel<Int, UInt64>("pool-unit") {
    MonteCarloPi.unit(UInt64($0), samples: MonteCarloPi.Size.test.samples)
  }
  /// The CPU the worker runs on.
  public static let cpu = PoolKernel<Int, Int32>("pool-cpu") { _ in cs_sched_getcpu() }
  /// Upper-cases a string: a `Codable` kernel.
  public static let text = PoolKernel<String, String>("pool-text") { $0.uppercased() }
  /// The same over the pool's second link, operating-system pipes.
  public static let pipedText = PoolKernel<String, String>("pool-text-piped", link: .pipes) { $0.uppercased() }
  /// Doubles its input, but SIGKILLs its worker on 13.
  public static let crash = PoolKernel<Int, Int>("pool-crash") { value in
    if value == 13 { kill(getpid(), SIGKILL) }
    return value * 2
  }

  /// Looks its input up in a table its initializer builds in each worker.
  public static let initialized = PoolKernel<Int, Int>(
    "pool-initialized", initializer: { workerTable = (0..<100).map { $0 * $0 } }
  ) { workerTable[$0] }

  /// Every kernel above.
  public static let all: [any AnyEntryPoint] = [unit, cpu, text, pipedText, crash, initialized]
}

/// The table ``PoolKernels/initialized``'s initializer builds: empty in the parent.
nonisolated(unsafe) public var workerTable: [Int] = []

/// A fork pool of two workers whose kernel doubles its input and kills its own worker on a
/// negative one.
///
/// With `stalls`, each worker's initializer takes one from it while it is positive and then
/// waits for ever, before its worker reports in, as a worker that inherited a held lock would:
/// set it once the pool runs to stall the next replacements (for the tests of the start bound).
public func killablePool(stalls: SharedValue<Int>? = nil) throws -> ProcessPool<Int, Int> {
  var initializer: (@Sendable () throws -> Void)?
  if let stalls {
    initializer = {
      while case let left = stalls.load(), left > 0 {
        if stalls.compareExchange(expected: left, desired: left - 1).exchanged {
          while true { pause() }
        }
      }
    }
  }
  return try ProcessPool<Int, Int>(placement: .cores(2, .compact), initializer: initializer) { value in
    if value < 0 { kill(getpid(), SIGKILL) }
    return value &* 2
  }
}
