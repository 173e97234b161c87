import ArgumentParser
import ComputeEngine
import Kernels
import ToolSupport

/// The kernels of the scaling suite.
enum KernelKind: String, CaseIterable, Codable, ExpressibleByArgument {
  case monteCarlo = "monte-carlo"
  case triad
  case allocation
  case contendedPacked = "contended-packed"
  case contendedPadded = "contended-padded"
  case imbalanced

  /// What the kernel's per-unit parameter counts.
  var parameterName: String {
    switch self {
    case .monteCarlo: "samples"
    case .triad: "elements"
    case .allocation: "words"
    case .contendedPacked, .contendedPadded: "increments"
    case .imbalanced: "base samples"
    }
  }

  /// Whether units need memory shared before the workers start, which spawned and
  /// fork-server workers do not have.
  var needsForkedMemory: Bool { self == .contendedPacked || self == .contendedPadded }
}

/// One unit of work as a pool input: which kernel, which unit, and the kernel's parameter.
struct WorkItem: BitwiseCopyable, Sendable {
  var kind: Int
  var unit: Int
  var parameter: Int
}

/// A kernel with its size: `units` units of `parameter` each.
struct Workload: Sendable {
  let kind: KernelKind
  let units: Int
  let parameter: Int
  /// The shared counters of a contended kernel.
  let counters: ContendedCounters?

  init(_ kind: KernelKind, units: Int, parameter: Int) {
    self.kind = kind
    self.units = units
    self.parameter = parameter
    counters =
      switch kind {
      case .contendedPacked: ContendedCounters(packed: true)
      case .contendedPadded: ContendedCounters(packed: false)
      default: nil
      }
  }

  /// Unit `k` of this workload.
  func run(_ k: Int) -> UInt64 {
    switch kind {
    case .monteCarlo: MonteCarloPi.unit(UInt64(k), samples: parameter)
    case .triad: Triad.unit(k, elements: parameter)
    case .allocation: AllocationHeavy.unit(k, words: parameter)
    case .contendedPacked, .contendedPadded: counters!.unit(k, increments: parameter)
    case .imbalanced: Imbalanced.unit(k, baseSamples: parameter)
    }
  }

  /// The pool inputs, one per unit.
  var items: [WorkItem] {
    let code = KernelKind.allCases.firstIndex(of: kind)!
    return (0..<units).map { WorkItem(kind: code, unit: $0, parameter: parameter) }
  }

  /// Gets ready for a run: a contended kernel's counters start from zero.
  func prepare() {
    counters?.reset()
  }

  /// Throws unless `checksum` is this workload's result: the formula where there is one
  /// (triad, contended), else the serial run's `reference` (and the reference kernel's
  /// checksum from KERNEL.md at its native size).
  func verify(_ checksum: UInt64, reference: UInt64?, mode: String) throws {
    var expected = reference
    switch kind {
    case .triad: expected = (0..<units).reduce(0) { $0 &+ Triad.expected($1, elements: parameter) }
    case .contendedPacked, .contendedPadded:
      expected = UInt64(units * parameter)
      guard counters!.total == expected else {
        throw BenchmarkFailure("\(kind.rawValue), \(mode): the counters hold \(counters!.total), not \(expected!)")
      }
    case .monteCarlo where units == MonteCarloPi.Size.native.units && parameter == MonteCarloPi.Size.native.samples:
      expected = MonteCarloPi.Size.native.checksum
    default: break
    }
    if let expected, checksum != expected {
      throw BenchmarkFailure("\(kind.rawValue), \(mode): checksum \(checksum), expected \(expected): a wrong result")
    }
  }

  /// The kernel spawned and fork-server pool workers run: every kind but the contended ones.
  static let poolKernel = PoolKernel<WorkItem, UInt64>("mpbench.work-item") { item in
    let kind = KernelKind.allCases[item.kind]
    guard !kind.needsForkedMemory else { throw BenchmarkFailure("\(kind.rawValue) needs forked workers") }
    return Workload(kind, units: 0, parameter: item.parameter).run(item.unit)
  }
}
