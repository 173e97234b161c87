import Foundation
import ToolSupport

/// What the scaling suite measured: one row per kernel, mode and worker count.
struct ScalingReport: Encodable {
  /// One kernel in one mode with one worker count.
  struct Row: Encodable {
    let kernel: String
    let mode: String
    let workers: Int
    /// Wall seconds: median, min, max over the repetitions.
    let median: Double
    let min: Double
    let max: Double
    /// The serial median over this median.
    let speedup: Double
    /// Speedup over workers.
    let efficiency: Double
    /// (wall × workers − serial wall) ÷ units, in microseconds: the work a worker spends
    /// beyond the serial work, per task.
    let overheadPerTaskMicroseconds: Double
  }

  let machine: String
  let units: Int
  let repetitions: Int
  /// Each kernel's per-unit parameter.
  let parameters: [String: Int]
  private(set) var rows: [Row] = []
  /// The Python comparison, when asked for.
  var python: PythonComparison.Result?

  init(machine: String, units: Int, repetitions: Int, parameters: [String: Int]) {
    self.machine = machine
    self.units = units
    self.repetitions = repetitions
    self.parameters = parameters
  }

  /// The mode of the C/OpenMP reference's rows (`--compare-openmp`).
  static let openmpMode = "openmp-c"

  /// One mode's speedup over OpenMP's, on the same kernel with the same workers in this run.
  struct OpenMPRatio: Encodable {
    let kernel: String
    let mode: String
    let workers: Int
    /// This mode's speedup ÷ OpenMP's speedup (each over its own serial run).
    let ratio: Double
  }

  mutating func add(_ workload: Workload, _ mode: ScalingMode, workers: Int, walls: [Double], serial: Double) {
    add(
      workload.kind.rawValue, mode: mode.rawValue, workers: workers, units: workload.units, walls: walls, serial: serial
    )
  }

  mutating func add(_ kernel: String, mode: String, workers: Int, units: Int, walls: [Double], serial: Double) {
    let stats = Statistics(walls)
    let speedup = serial / stats.median
    rows.append(
      Row(
        kernel: kernel, mode: mode, workers: workers, median: stats.median, min: stats.min,
        max: stats.max, speedup: speedup, efficiency: speedup / Double(workers),
        overheadPerTaskMicroseconds: (stats.median * Double(workers) - serial) / Double(units) * 1e6))
  }

  /// Every parallel mode's speedup over OpenMP's, where OpenMP ran.
  var openmpRatios: [OpenMPRatio] {
    rows.compactMap { row in
      guard row.mode != Self.openmpMode, row.mode != ScalingMode.serial.rawValue,
        let openmp = rows.first(where: {
          $0.mode == Self.openmpMode && $0.kernel == row.kernel && $0.workers == row.workers
        })
      else { return nil }
      return OpenMPRatio(kernel: row.kernel, mode: row.mode, workers: row.workers, ratio: row.speedup / openmp.speedup)
    }
  }

  private enum CodingKeys: String, CodingKey {
    case machine, units, repetitions, parameters, rows, python, openmpRatios
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(machine, forKey: .machine)
    try container.encode(units, forKey: .units)
    try container.encode(repetitions, forKey: .repetitions)
    try container.encode(parameters, forKey: .parameters)
    try container.encode(rows, forKey: .rows)
    try container.encodeIfPresent(python, forKey: .python)
    if !openmpRatios.isEmpty { try container.encode(openmpRatios, forKey: .openmpRatios) }
  }

  /// The kernels in the order they ran.
  var kernels: [String] { rows.map(\.kernel).reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }

  /// Prints one table per kernel, and the Python comparison.
  func printTable() {
    print("machine: \(machine)")
    print("\(units) units per kernel, median/min/max of \(repetitions) runs; every checksum verified")
    for kernel in kernels {
      let kind = KernelKind(rawValue: kernel)
      print("\n\(kernel) (\(parameters[kernel] ?? 0) \(kind?.parameterName ?? "") per unit)")
      print(
        "  mode".padding(toLength: 28, withPad: " ", startingAt: 0)
          + "workers   median s      min s      max s   speedup  efficiency  overhead µs/task")
      for row in rows where row.kernel == kernel {
        let numbers = String(
          format: "%7d %10.4f %10.4f %10.4f %8.2f× %10.0f%% %17.1f", row.workers, row.median, row.min, row.max,
          row.speedup, row.efficiency * 100, row.overheadPerTaskMicroseconds)
        print("  \(row.mode)".padding(toLength: 28, withPad: " ", startingAt: 0) + numbers)
      }
      let ratios = openmpRatios.filter { $0.kernel == kernel }
      if !ratios.isEmpty {
        print("  speedup ÷ OpenMP's speedup (same workers, this run):")
        for ratio in ratios {
          print(
            "    \(ratio.mode)".padding(toLength: 28, withPad: " ", startingAt: 0)
              + String(format: "%7d %10.2f", ratio.workers, ratio.ratio))
        }
      }
    }
    python?.printTable()
  }
}
