import Foundation
import ToolSupport

/// mpi4py.futures on the same kernel, ranks and transport as `mpbench cluster`, run by its
/// driver once its own job has ended: a second mpirun launched from inside the first, with the
/// first job's identity left out of its environment and the user's transport settings kept.
struct Mpi4pyComparison {
  /// What `Scripts/mpi4py_reference.py` prints.
  struct Report: Codable {
    var ranks: Int
    var checksumOK: Bool
    var serialSeconds: Double
    var clusterSeconds: Double
    var speedup: Double
    var perTaskMicroseconds: ClusterCommand.Report.PerTask
  }

  var python: String
  var script: String
  var ranks: Int
  var size: String
  var repetitions: Int
  /// The trivial tasks at chunk size 1 and with automatic chunks: ours, like for like.
  var singleTasks: Int
  var manyTasks: Int

  /// The MCA settings of the enclosing mpirun that a nested one should share: how the ranks
  /// reach each other, how they are placed, and where session directories go. The rest of
  /// `OMPI_MCA_*`, `OMPI_*` and `PMIX_*` names the enclosing job (its daemon, its session
  /// directory, this rank), and a nested mpirun that saw them would try to join it.
  static let sharedSettings = [
    "btl", "pml", "mtl", "plm", "rmaps_base_oversubscribe", "hwloc_base_binding_policy", "orte_tmpdir_base",
  ]

  /// Whether a variable of a rank's environment goes to the nested mpirun.
  static func inherits(_ name: String) -> Bool {
    if name.hasPrefix("OMPI_MCA_") {
      let setting = name.dropFirst("OMPI_MCA_".count)
      return sharedSettings.contains { setting == $0 || setting.hasPrefix($0 + "_") }
    }
    if name.hasPrefix("OMPI_ALLOW_RUN_AS_ROOT") { return true }
    return !name.hasPrefix("OMPI_") && !name.hasPrefix("PMIX_") && !name.hasPrefix("ORTE_")
  }

  /// Checks, before anything is timed, that the reference can run: its script is there and
  /// the interpreter has mpi4py (found missing after our run, it cost that run's figures).
  ///
  /// - Throws: a ``LateUsageError`` that says what is missing.
  static func checkAvailable(python: String, script: String) throws {
    guard FileManager.default.fileExists(atPath: script) else {
      throw LateUsageError("no mpi4py reference at '\(script)': run from the repository root or pass --mpi4py-script")
    }
    // The script says whether the interpreter has what it needs, without starting MPI.
    let probe = try ExternalCommand.run(["/usr/bin/env", python, script, "--check"], inherits: inherits)
    guard probe.status == 0 else {
      throw LateUsageError(
        "--compare-mpi4py needs mpi4py in '\(python)' ("
          + "\(probe.stderr.split(separator: "\n").last ?? "")): pass --python, or run Scripts/cluster_compare, "
          + "which installs it in .build/mpi4py-venv")
    }
  }

  /// Runs the reference under `mpirun -np ranks` and decodes its report.
  ///
  /// - Throws: a ``LateUsageError`` when the script is not there, a ``BenchmarkFailure`` when
  ///   the run fails, prints something else, or gets a wrong checksum.
  func run() throws -> Report {
    let report = try ExternalCommand.runPythonReference(
      Report.self, python: python, script: script, option: "--mpi4py-script",
      arguments: [
        "--size", size, "--repetitions", "\(repetitions)", "--single-tasks", "\(singleTasks)", "--many-tasks",
        "\(manyTasks)",
      ], launcher: ["mpirun", "-np", "\(ranks)"],
      inherits: Self.inherits)
    guard report.checksumOK else { throw BenchmarkFailure("the mpi4py reference's checksum is wrong") }
    return report
  }
}
