import ArgumentParser
import Foundation
import Scheduler
import ToolSupport

/// `--compare-python`: the project's Python reference (Scripts/mpbench_reference.py) and
/// this engine on the same kernels and sizes, in the same run.
struct PythonComparison {
  /// Python's and our figures for one kernel and mode.
  struct Entry: Codable {
    let kernel: String
    /// serial, pool (multiprocessing.Pool / forked ProcessPool) or threads.
    let mode: String
    let workers: Int
    let pythonMedian: Double
    /// Our wall for the same job: the wall of `swiftRounds` jobs in a row ÷ swiftRounds.
    let swiftMedian: Double
    /// How many times over we ran the job, so that the run lasts long enough to time.
    let swiftRounds: Int
    /// Python's wall over ours.
    let ratio: Double
    let pythonSpeedup: Double
    let swiftSpeedup: Double
  }

  /// The comparison's outcome.
  struct Result: Codable {
    let pythonVersion: String
    let units: Int
    let parameters: [String: Int]
    let entries: [Entry]

    func printTable() {
      print("\nPython \(pythonVersion) reference: the same kernels, unit sizes and checksums (\(units) units)")
      print("  (Swift runs each job many times in a row to be timed well; its wall is divided back.)")
      print("  kernel        mode      workers   Python s    Swift s   Python/Swift   speedup Python   speedup Swift")
      for entry in entries {
        let numbers = String(
          format: "%7d %10.4f %10.5f %13.1f× %15.2f× %15.2f×", entry.workers, entry.pythonMedian, entry.swiftMedian,
          entry.ratio, entry.pythonSpeedup, entry.swiftSpeedup)
        print(
          "  " + entry.kernel.padding(toLength: 14, withPad: " ", startingAt: 0)
            + entry.mode.padding(toLength: 9, withPad: " ", startingAt: 0) + numbers)
      }
    }
  }

  /// The rows the script prints.
  private struct PythonOutput: Decodable {
    struct Row: Decodable {
      let kernel: String
      let mode: String
      let workers: Int
      let median: Double
      let checksum: UInt64
    }
    let python: String
    let rows: [Row]
  }

  let python: String
  let script: String
  let workers: Int
  let repetitions: Int
  let slots: [Slot]
  /// Sizes Python finishes in seconds: the reference kernel at KERNEL.md's py size per unit.
  let units = 16
  let parameters: [KernelKind: Int] = [.monteCarlo: 65_536, .allocation: 20_000, .imbalanced: 4096]

  func run(progress: Progress) throws -> Result {
    let kinds: [KernelKind] = [.monteCarlo, .allocation, .imbalanced]
    progress.total += 1 + kinds.count * 3 * repetitions
    progress.step("Python reference (multiprocessing.Pool and threads)", 0)
    let output = try runScript()
    var entries: [Entry] = []
    for kind in kinds {
      // Python's sizes take a few milliseconds here: a timed run does the same job `rounds`
      // times over, so that a serial run lasts about 0.15 s.
      let workload = Workload(kind, units: units, parameter: parameters[kind]!)
      let trial = try ScalingRunner(workload: workload, mode: .serial, slots: [slots[0]])
        .measure(repetitions: 1, reference: nil) { _ in }
      let rounds = max(1, Int((0.15 / max(trial.walls[0], 1e-6)).rounded()))
      var swiftSerial = 0.0
      var reference: UInt64?
      for (name, mode) in [("serial", ScalingMode.serial), ("pool", .poolFork), ("threads", .threadsPinned)] {
        let count = mode == .serial ? 1 : workers
        guard let theirs = output.rows.first(where: { $0.kernel == kind.rawValue && $0.mode == name }) else {
          throw BenchmarkFailure("the Python reference printed no \(kind.rawValue) \(name) row")
        }
        let measured = try ScalingRunner(
          workload: workload, mode: mode, slots: Array(slots.prefix(count)), rounds: rounds
        )
        .measure(repetitions: repetitions, reference: reference) {
          progress.step("Swift side of the Python comparison: \(kind.rawValue) \(name)", $0)
        }
        guard trial.checksum == theirs.checksum else {
          throw BenchmarkFailure(
            "\(kind.rawValue): Python's checksum \(theirs.checksum) differs from ours, \(trial.checksum)")
        }
        reference = measured.checksum
        let ours = Statistics(measured.walls).median / Double(rounds)
        if mode == .serial { swiftSerial = ours }
        let pythonSerial = output.rows.first { $0.kernel == kind.rawValue && $0.mode == "serial" }!.median
        entries.append(
          Entry(
            kernel: kind.rawValue, mode: name, workers: count, pythonMedian: theirs.median, swiftMedian: ours,
            swiftRounds: rounds,
            ratio: theirs.median / ours, pythonSpeedup: pythonSerial / theirs.median, swiftSpeedup: swiftSerial / ours))
      }
    }
    return Result(
      pythonVersion: output.python, units: units,
      parameters: Dictionary(uniqueKeysWithValues: parameters.map { ($0.key.rawValue, $0.value) }), entries: entries)
  }

  private func runScript() throws -> PythonOutput {
    try ExternalCommand.runPythonReference(
      PythonOutput.self, python: python, script: script, option: "--python-script",
      arguments: [
        "--workers", "\(workers)", "--repetitions", "\(repetitions)", "--units", "\(units)", "--mc-samples",
        "\(parameters[.monteCarlo]!)", "--alloc-words", "\(parameters[.allocation]!)", "--imbalanced-base",
        "\(parameters[.imbalanced]!)",
      ])
  }
}
