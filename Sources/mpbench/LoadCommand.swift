import ArgumentParser
import Foundation
import LoadGeneration
import Scheduler

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
    /// Each CPU's load from /proc/stat, by CPU.
    let loads: [Int: Double]
    /// The largest distance from the target, in percentage points.
    let worstError: Double
  }

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
      let before = try CPUTimes.read()
      usleep(UInt32(seconds * 1e6))
      let after = try CPUTimes.read()
      generator.stop()
      guard generator.failedWorkers.isEmpty else { throw ValidationError("a load worker died") }
      var loads: [Int: Double] = [:]
      for cpu in selected {
        if let now = after[cpu], let then = before[cpu], let load = now.load(since: then) { loads[cpu] = load }
      }
      let worst = loads.values.map { abs($0 - target) * 100 }.max() ?? .infinity
      levels.append(Level(target: target, loads: loads, worstError: worst))
    }
    if json {
      print(try prettyJSON(levels))
      return
    }
    print(String(format: "load per CPU from /proc/stat over %.1f s at each level (target ±3 points)", seconds))
    print("  target  " + selected.map { String(format: "  CPU %-3d", $0) }.joined() + "  worst error")
    for level in levels {
      let cells = selected.map { cpu in level.loads[cpu].map { String(format: "%8.1f%%", $0 * 100) } ?? "      n/a" }
      print(
        String(format: "  %5.0f%%  ", level.target * 100) + cells.joined()
          + String(format: "  %6.2f pp", level.worstError))
    }
  }
}
