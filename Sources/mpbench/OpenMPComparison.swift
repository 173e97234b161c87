import ArgumentParser
import Foundation
import Scheduler

/// `--compare-openmp`: the project's C/OpenMP reference (Scripts/openmp_reference.c, built
/// here with `cc -O2 -fopenmp`) on the same kernel, units and size as the engine, with each
/// worker count, in the same run: a `parallel for schedule(dynamic,1)` loop whose team of
/// threads is pinned to the same CPUs as the pool's workers and lives across the runs.
struct OpenMPComparison {
  /// What one run of the reference measured.
  struct Measurement: Decodable {
    let checksum: UInt64
    let threads: Int
    /// C's serial walls, one per repetition, each taken just before the parallel one.
    let serial: [Double]
    let parallel: [Double]
  }

  /// The kernels the reference implements.
  static let kernels: Set<KernelKind> = [.monteCarlo, .imbalanced]

  let source: String
  let compiler: String
  /// The built reference.
  let executable: String

  /// Builds the reference from `source` with `compiler` into a temporary directory.
  init(source: String, compiler: String = "cc") throws {
    guard FileManager.default.fileExists(atPath: source) else {
      throw LateUsageError("no OpenMP reference at '\(source)': run from the repository root or pass --openmp-source")
    }
    self.source = source
    self.compiler = compiler
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mpbench-openmp-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    executable = directory.appendingPathComponent("openmp_reference").path
    let build = try Self.run(["/usr/bin/env", compiler, "-O2", "-fopenmp", "-o", executable, source])
    guard build.status == 0 else {
      throw BenchmarkFailure("'\(compiler) -O2 -fopenmp \(source)' failed (status \(build.status)): \(build.stderr)")
    }
  }

  /// Runs the reference on `workload` with one thread per slot, pinned to the slots' CPUs.
  func measure(_ workload: Workload, slots: [Slot], repetitions: Int, warmups: Int) throws -> Measurement {
    let places = slots.map { "{" + $0.cpus.indices.map(String.init).joined(separator: ",") + "}" }
    let run = try Self.run(
      [
        executable, workload.kind.rawValue, "\(workload.units)", "\(workload.parameter)", "\(slots.count)",
        "\(repetitions)", "\(warmups)",
      ],
      environment: ["OMP_PROC_BIND": "true", "OMP_PLACES": places.joined(separator: ",")])
    guard run.status == 0 else {
      throw BenchmarkFailure("the OpenMP reference failed (status \(run.status)): \(run.stderr)")
    }
    return try JSONDecoder().decode(Measurement.self, from: Data(run.stdout.utf8))
  }

  /// Runs `arguments` and returns its status and output.
  private static func run(
    _ arguments: [String], environment: [String: String] = [:]
  ) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let (out, err) = (Pipe(), Pipe())
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
      process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self)
    )
  }
}
