import ArgumentParser
import Foundation
import Kernels
import LoadGeneration
import Multiprocessing
import Scheduler
import ToolSupport

#if canImport(Glibc)
  import Glibc
#endif

/// `mpbench scaling`: each kernel in each mode with 1…N workers — serial `run()`, threads,
/// process pools and `parallelMap` — timed, checked and set side by side.
struct ScalingCommand: ParsableCommand, RepeatedMeasurement {
  static let configuration = CommandConfiguration(
    commandName: "scaling",
    abstract: "Compare processes, threads and serial runs on every kernel, 1 to N workers.",
    discussion: """
      Every run's checksum is verified: a wrong result fails the command. Speedup is the \
      serial median over the mode's median, measured in the same run; efficiency is speedup \
      over workers; overhead per task is (wall × workers − serial wall) ÷ units.
      """
  )

  @OptionGroup var measurement: RepetitionOptions<ScalingCommand>
  static let defaultRepetitions = 3
  var repetitions: Int { measurement.repetitions }
  @OptionGroup var output: OutputOptions
  var json: Bool { output.json }

  @Option(parsing: .upToNextOption, help: "Kernels to run (default: all).")
  var kernels: [KernelKind] = KernelKind.allCases

  @Option(parsing: .upToNextOption, help: "Modes to run (default: all; serial always runs).")
  var modes: [ScalingMode] = ScalingMode.allCases

  @Option(help: "Worker counts, as 1,2,4 (default: 1 to the physical cores; past 8, 1, 2, 4, … and that count).")
  var workers: String?

  @Flag(help: "Go up to the logical CPUs (hardware threads) instead of the physical cores.")
  var logical = false

  @Option(help: "Untimed runs before the timed ones (first touches of memory, warm caches).")
  var warmups = 1

  @Option(help: "Work units per kernel (default: 4 × the largest worker count, at least 8).")
  var units: Int?

  @Option(help: "Multiplies each unit's work (for the triad, its array size: below 1 the arrays may fit in cache).")
  var scale = 1.0

  @Option(help: "Write a chart of speedup against workers to this SVG file.")
  var plot: String?

  @Flag(help: "Also run the project's Python reference (multiprocessing.Pool, threads) and print the ratios.")
  var comparePython = false

  @Option(help: "The Python interpreter for --compare-python.")
  var python = "python3"

  @Option(help: "The Python reference script for --compare-python.")
  var pythonScript = "Scripts/mpbench_reference.py"

  @Option(help: "The pools' spin window, as 0, 50us, 1ms (default: the pool's, 20us).")
  var spinWindow: String?

  @Flag(
    help: """
      Also run the C/OpenMP reference (a schedule(dynamic,1) loop, pinned like the pool) on monte-carlo \
      and imbalanced, and print each mode's speedup over OpenMP's.
      """)
  var compareOpenmp = false

  @Option(help: "The OpenMP reference's source for --compare-openmp (built with cc -O2 -fopenmp).")
  var openmpSource = "Scripts/openmp_reference.c"

  @Option(
    help: """
      A built OpenMP reference for --compare-openmp, instead of building its source (for a machine \
      without a C compiler; Scripts/scaling-bundle carries one).
      """)
  var openmpExecutable: String?

  @Option(
    help: """
      Split the repetitions into this many blocks, each of which runs every mode (and the \
      references) in turn, so that a slow spell of a shared host weighs on every mode alike.
      """)
  var interleave = 1

  @Option(
    help: """
      With --compare-openmp: fail (status 1) when a mode's speedup is under this fraction of \
      OpenMP's on the same job, as 0.95.
      """)
  var minOpenmpRatio: Double?

  func validate() throws {
    guard warmups >= 0 else { throw ValidationError("--warmups must not be negative, not \(warmups)") }
    if let minOpenmpRatio {
      guard compareOpenmp else { throw ValidationError("--min-openmp-ratio needs --compare-openmp") }
      guard minOpenmpRatio > 0 else {
        throw ValidationError("--min-openmp-ratio must be positive, not \(minOpenmpRatio)")
      }
    }
    guard scale > 0 else { throw ValidationError("--scale must be positive, not \(scale)") }
    guard interleave >= 1, interleave <= repetitions else {
      throw ValidationError("--interleave takes 1 to --repetitions (\(repetitions)) blocks, not \(interleave)")
    }
    if let units, units < 1 { throw ValidationError("--units must be positive, not \(units)") }
    if let plot { try OutputPath.checkWritable(plot, option: "--plot") }
    if let workers { _ = try Self.parseCounts(workers) }
    _ = try parsedSpinWindow()
  }

  /// `--spin-window` as a duration (the pools' default, ``Spin/limit``, when not given).
  func parsedSpinWindow() throws -> Duration {
    guard let text = spinWindow else { return Spin.limit }
    guard let window = try? parseDuration(text), window <= .seconds(1) else {
      throw ValidationError("--spin-window takes 0 or a duration up to 1s such as 50us or 2ms, not '\(text)'")
    }
    return window
  }

  static func parseCounts(_ text: String) throws -> [Int] {
    let counts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) > 0 }) else {
      throw ValidationError("--workers takes positive counts separated by commas, as 1,2,4, not '\(text)'")
    }
    return counts.map { $0! }
  }

  func run() throws {
    let machine = try Topology.current()
    let physical = try machine.placement(.physicalCores).slots
    let siblings = try machine.placement(.logicalCPUs).slots.filter { slot in !physical.contains(slot) }
    let available = logical ? physical + siblings : physical
    let counts = try workers.map(Self.parseCounts) ?? Self.defaultCounts(upTo: available.count)
    if let largest = counts.max(), largest > available.count {
      throw LateUsageError("\(largest) workers asked for, but this machine offers \(available.count)")
    }
    let unitCount = units ?? max(8, 4 * (counts.max() ?? 1))
    let lastLevelCache = Int(
      machine.caches.filter { $0.kind != .instruction }.max { $0.level < $1.level }?.sizeBytes ?? 0)
    let workloads = kernels.map {
      Workload($0, units: unitCount, parameter: Self.parameter($0, scale: scale, lastLevelCache: lastLevelCache))
    }
    let parallelModes = modes.filter { $0 != .serial }
    // Built before anything is measured: a missing compiler fails at once.
    let openmp =
      compareOpenmp
      ? try openmpExecutable.map { try OpenMPComparison(executable: $0) } ?? OpenMPComparison(source: openmpSource)
      : nil
    let openmpWorkloads = openmp == nil ? [] : workloads.filter { OpenMPComparison.kernels.contains($0.kind) }
    let progress = Progress(
      total: workloads.reduce(0) { sum, workload in
        sum + (warmups * interleave + repetitions)
          * (1 + counts.count * parallelModes.filter { $0.supports(workload.kind) }.count)
      } + openmpWorkloads.count * counts.count * interleave)

    let window = try parsedSpinWindow()
    var walls = workloads.map { _ in WorkloadWalls() }
    for block in 0..<interleave {
      // The repetitions split into `interleave` blocks, each running every mode in turn.
      let blockRepetitions = repetitions / interleave + (block < repetitions % interleave ? 1 : 0)
      for (index, workload) in workloads.enumerated() {
        let serial = try ScalingRunner(workload: workload, mode: .serial, slots: [available[0]])
          .measure(repetitions: blockRepetitions, warmups: warmups, reference: walls[index].checksum) {
            progress.step("\(workload.kind.rawValue): serial", $0, warmups: warmups)
          }
        walls[index].serial += serial.walls
        walls[index].checksum = serial.checksum
        for mode in parallelModes where mode.supports(workload.kind) {
          for count in counts {
            let runner = ScalingRunner(
              workload: workload, mode: mode, slots: Array(available.prefix(count)), spinWindow: window)
            let measured = try runner.measure(
              repetitions: blockRepetitions, warmups: warmups, reference: serial.checksum
            ) {
              progress.step("\(workload.kind.rawValue): \(mode.rawValue) × \(count)", $0, warmups: warmups)
            }
            walls[index].parallel[WorkloadWalls.Key(mode: mode, workers: count), default: []] += measured.walls
          }
        }
        guard let openmp, openmpWorkloads.contains(where: { $0.kind == workload.kind }) else { continue }
        for count in counts {
          progress.step("\(workload.kind.rawValue): OpenMP × \(count)", 0)
          let measured = try openmp.measure(
            workload, slots: Array(available.prefix(count)), repetitions: blockRepetitions, warmups: warmups)
          guard measured.checksum == serial.checksum else {
            throw BenchmarkFailure(
              "\(workload.kind.rawValue): the OpenMP reference's checksum \(measured.checksum) differs from ours, "
                + "\(serial.checksum)")
          }
          walls[index].openmp[count, default: ([], [])].parallel += measured.parallel
          walls[index].openmp[count, default: ([], [])].serial += measured.serial
        }
      }
    }

    var report = ScalingReport(
      machine: machine.description, units: unitCount, repetitions: repetitions,
      parameters: Dictionary(uniqueKeysWithValues: workloads.map { ($0.kind.rawValue, $0.parameter) }))
    for (workload, walls) in zip(workloads, walls) {
      let serialMedian = Statistics(walls.serial).median
      report.add(workload, .serial, workers: 1, walls: walls.serial, serial: serialMedian)
      for mode in parallelModes where mode.supports(workload.kind) {
        for count in counts {
          let key = WorkloadWalls.Key(mode: mode, workers: count)
          report.add(workload, mode, workers: count, walls: walls.parallel[key] ?? [], serial: serialMedian)
        }
      }
      for count in counts {
        guard let openmp = walls.openmp[count] else { continue }
        // OpenMP's speedup is over C's own serial run, taken beside it.
        report.add(
          workload.kind.rawValue, mode: ScalingReport.openmpMode, workers: count, units: workload.units,
          walls: openmp.parallel, serial: Statistics(openmp.serial).median)
      }
    }
    if comparePython {
      report.python = try PythonComparison(
        python: python, script: pythonScript, workers: counts.max() ?? 1, repetitions: repetitions,
        slots: Array(available.prefix(counts.max() ?? 1))
      ).run(progress: progress)
    }
    progress.finish()

    if let plot {
      do { try ScalingChart(report: report).svg().write(toFile: plot, atomically: true, encoding: .utf8) } catch {
        throw BenchmarkFailure("cannot write the chart to \(plot): \(error.localizedDescription)")
      }
    }
    if json {
      print(try prettyJSON(report))
    } else {
      report.printTable()
      if let plot { print("\nchart: \(plot)") }
    }
    if let minOpenmpRatio {
      let short = report.openmpRatios.filter { $0.ratio < minOpenmpRatio }
      guard short.isEmpty else {
        let named = short.map { "\($0.mode) × \($0.workers) on \($0.kernel) \(String(format: "%.3f", $0.ratio))" }
        throw BenchmarkFailure(
          "under --min-openmp-ratio \(minOpenmpRatio) of OpenMP's speedup: \(named.joined(separator: ", "))")
      }
    }
  }

  /// Every count from 1 to `limit` up to 8 workers; beyond, 1, 2, 4, … and `limit`.
  static func defaultCounts(upTo limit: Int) -> [Int] {
    guard limit > 8 else { return Array(1...max(1, limit)) }
    var counts: [Int] = []
    var count = 1
    while count < limit {
      counts.append(count)
      count *= 2
    }
    return counts + [limit]
  }

  /// Each kernel's per-unit work at scale 1: about 15–25 ms a unit on this project's
  /// machine; the triad's three arrays take 1.2 times the last-level cache.
  static func parameter(_ kind: KernelKind, scale: Double, lastLevelCache: Int) -> Int {
    let base =
      switch kind {
      case .monteCarlo: 1 << 23
      case .triad: Triad.elements(lastLevelCacheBytes: lastLevelCache * 6 / 10)
      case .allocation: 60_000
      case .contendedPacked, .contendedPadded: 1 << 21
      case .imbalanced: 1 << 20
      }
    return max(1, Int(Double(base) * scale))
  }
}
