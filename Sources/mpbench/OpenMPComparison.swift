import ArgumentParser
import Foundation
import Scheduler
import ToolSupport

/// `--compare-openmp`: the project's C/OpenMP reference (Scripts/openmp_reference.c, built
/// here with `cc -O2 -fopenmp`) on the same kernel, units and size as the engine, with each
/// worker count, in the same run: a `parallel for schedule(dynamic,1)` loop whose team of
/// threads is pinned to the same CPUs as the pool's workers and lives across the runs.
final class OpenMPComparison {
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

  /// The built reference.
  let program: CReferenceProgram

  /// Builds the reference from `source` with `compiler`.
  init(source: String, compiler: String = "cc") throws {
    program = try CReferenceProgram(
      source: source, flags: ["-O2", "-fopenmp"], compiler: compiler, option: "--openmp-source")
  }

  /// The reference built elsewhere (`cc -O2 -fopenmp Scripts/openmp_reference.c`), for a
  /// machine without a C compiler: `Scripts/scaling-bundle` carries one.
  init(executable: String) throws {
    program = try CReferenceProgram(executable: executable)
  }

  /// Runs the reference on `workload` with one thread per slot, pinned to the slots' CPUs.
  func measure(_ workload: Workload, slots: [Slot], repetitions: Int, warmups: Int) throws -> Measurement {
    let places = slots.map { "{" + $0.cpus.indices.map(String.init).joined(separator: ",") + "}" }
    let run = try ExternalCommand.run(
      [
        program.executable, workload.kind.rawValue, "\(workload.units)", "\(workload.parameter)", "\(slots.count)",
        "\(repetitions)", "\(warmups)",
      ],
      environment: ["OMP_PROC_BIND": "true", "OMP_PLACES": places.joined(separator: ",")])
    guard run.status == 0 else {
      throw BenchmarkFailure("the OpenMP reference failed (status \(run.status)): \(run.stderr)")
    }
    return try JSONDecoder().decode(Measurement.self, from: Data(run.stdout.utf8))
  }
}
