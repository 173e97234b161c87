import ArgumentParser
import Foundation
import LoadGeneration
import Scheduler
import ToolSupport

#if canImport(Glibc)
  import Glibc
#endif

/// `mpbench load`: how closely mpload's generator holds each CPU at 25, 50, 75 and 100 %,
/// measured from outside with `/proc/stat`.
struct LoadCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "load",
    abstract: "Measure the load generator's accuracy per CPU from /proc/stat at 25, 50, 75 and 100 %."
  )

  @OptionGroup var output: OutputOptions
  var json: Bool { output.json }

  @Option(help: "Seconds measured at each level (after half a second to settle).")
  var seconds = 3.0

  @Option(help: "CPUs: all or physical.")
  var cpus = "all"

  func validate() throws {
    guard seconds >= 0.5 else { throw ValidationError("--seconds must be at least 0.5, not \(seconds)") }
    guard ["all", "physical"].contains(cpus) else {
      throw ValidationError("--cpus takes all or physical, not '\(cpus)'")
    }
  }

  /// One level's outcome.
  struct Level: Encodable {
    let target: Double
    /// Each CPU's load from /proc/stat, by CPU: the generator's and anything else's.
    let loads: [Int: Double]
    /// Each CPU's load from the generator's own worker alone (its CPU time over the wall time).
    let ownLoads: [Int: Double]
    /// What /proc/stat saw beyond the generator's own load, by CPU: other processes' work.
    let foreignLoads: [Int: Double]
    /// The generator's largest distance from the target, in percentage points: its accuracy.
    let worstError: Double
    /// The largest distance of /proc/stat's view from the target, in percentage points.
    let worstSystemError: Double

    /// A level from each CPU's load as /proc/stat saw it and as the generator's worker used it.
    init(target: Double, loads: [Int: Double], ownLoads: [Int: Double]) {
      self.target = target
      self.loads = loads
      self.ownLoads = ownLoads
      foreignLoads = loads.reduce(into: [:]) { result, entry in
        if let own = ownLoads[entry.key] { result[entry.key] = max(0, entry.value - own) }
      }
      worstError = ownLoads.values.map { abs($0 - target) * 100 }.max() ?? .infinity
      worstSystemError = loads.values.map { abs($0 - target) * 100 }.max() ?? .infinity
    }

    /// The CPUs that ran more than ``LoadCommand/foreignThreshold`` of other processes' work.
    var cpusWithForeignLoad: [Int] {
      foreignLoads.filter { $0.value > LoadCommand.foreignThreshold }.keys.sorted()
    }
  }

  /// The generator's own load missed the target.
  struct MissedTarget: Error, CustomStringConvertible {
    let level: Level
    var description: String {
      String(
        format: "the generator missed its ±%.0f-point target: %.2f points off at %.0f%% (its own load, "
          + "CPU time ÷ wall time)", LoadCommand.target, level.worstError, level.target * 100)
    }
  }

  /// How far the generator's own load may be from the target, in percentage points.
  static let target = 3.0
  /// Foreign load above this (fraction of a CPU) makes the /proc/stat view not the generator's.
  static let foreignThreshold = 0.03

  func run() throws {
    let machine = try Topology.current()
    let selected =
      cpus == "all"
      ? machine.allowedCPUs.indices : try machine.placement(.physicalCores).slots.map { $0.cpus.indices[0] }
    var levels: [Level] = []
    for target in [0.25, 0.5, 0.75, 1.0] {
      let generator = try LoadGenerator(cpus: selected, profile: .constant(target))
      try generator.start()
      usleep(500_000)
      let (before, ownBefore, startedAt) = (try CPUTimes.read(), generator.sample(), ContinuousClock.now)
      usleep(UInt32(seconds * 1e6))
      let (after, ownAfter, wall) = (try CPUTimes.read(), generator.sample(), ContinuousClock.now - startedAt)
      generator.stop()
      guard generator.failedWorkers.isEmpty else { throw BenchmarkFailure("a load worker died") }
      var (loads, own): ([Int: Double], [Int: Double]) = ([:], [:])
      for (index, cpu) in selected.enumerated() {
        own[cpu] = (ownAfter[index].cpuTime - ownBefore[index].cpuTime) / wall
        if let now = after[cpu], let then = before[cpu], let load = now.load(since: then) { loads[cpu] = load }
      }
      levels.append(Level(target: target, loads: loads, ownLoads: own))
    }
    if json {
      print(try prettyJSON(levels))
    } else {
      printTable(levels, cpus: selected)
    }
    let worst = levels.max { $0.worstError < $1.worstError }!
    guard worst.worstError <= Self.target else { throw MissedTarget(level: worst) }
  }

  private func printTable(_ levels: [Level], cpus selected: [Int]) {
    print(
      String(
        format: "load per CPU over %.1f s at each level: the generator's own (CPU time ÷ wall), and /proc/stat's "
          + "(target ±%.0f points, on the generator's own)", seconds, Self.target))
    print(
      "  target  " + selected.map { String(format: "  own %-3d /proc %-3d", $0, $0) }.joined() + "  worst error")
    for level in levels {
      let cells = selected.map { cpu in
        let own = level.ownLoads[cpu].map { String(format: "%7.1f%%", $0 * 100) } ?? "     n/a"
        let system = level.loads[cpu].map { String(format: "%8.1f%%", $0 * 100) } ?? "      n/a"
        return own + "  " + system
      }
      print(
        String(format: "  %5.0f%%  ", level.target * 100) + cells.joined(separator: "   ")
          + String(format: "  %6.2f pp", level.worstError))
    }
    for level in levels {
      for cpu in level.cpusWithForeignLoad {
        let foreign = level.foreignLoads[cpu]!
        print(
          String(
            format: "  at %.0f%%, CPU %d also ran %.1f points of other processes' work: its /proc/stat view is not "
              + "the generator's alone", level.target * 100, cpu, foreign * 100))
      }
    }
  }
}
