import Foundation
import Kernels
import Testing

@testable import mpbench
@testable import mpbench_cluster

/// Mistakes a command line makes are named before anything runs.
@Suite(.timeLimit(.minutes(2)))
struct CLIConventionsTests {
  @Test(arguments: [
    ("topolgy", "did you mean 'topology'?"), ("sclaing", "did you mean 'scaling'?"), ("xyzzy", "subcommands: suite"),
  ])
  func aMistypedSubcommandIsNamed(word: String, says: String) throws {
    let run = try runExecutable("mpbench", [word])
    #expect(run.status == 64)
    #expect(run.stderr.contains("unknown subcommand '\(word)'") && run.stderr.contains(says), "\(run.stderr)")
    #expect(run.stdout.isEmpty, "the default suite did not run: \(run.stdout)")
  }

  @Test(arguments: [["scaling"], [], ["suite"]])
  func aPlotPathThatCannotBeWrittenIsRefusedFirst(command: [String]) throws {
    let run = try runExecutable("mpbench", command + ["--plot", "/nonexistent/dir/x.svg"])
    #expect(run.status == 64)
    #expect(run.stderr.contains("the directory /nonexistent/dir does not exist"), "\(run.stderr)")
    #expect(run.stdout.isEmpty, "nothing was measured: \(run.stdout)")
  }

  /// A measurement that fails (here, a reference that does not compile) is not a usage
  /// error: status 1, the reason, and no usage line.
  @Test func aFailedMeasurementPrintsNoUsage() throws {
    let source = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(getpid()).c").path
    try "this is not C".write(toFile: source, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: source) }
    let run = try runExecutable(
      "mpbench",
      [
        "scaling", "--kernels", "monte-carlo", "--modes", "serial", "--units", "1", "--scale", "0.001",
        "--compare-openmp", "--openmp-source", source,
      ])
    #expect(run.status == 1)
    #expect(run.stderr.contains("-fopenmp \(source)' failed"), "\(run.stderr)")
    #expect(!run.stderr.contains("Usage:"), "\(run.stderr)")
  }

  /// A mistake found only while running is a usage error (64) without the top command's
  /// usage line.
  @Test(arguments: [
    (["topology", "--xml", "/nonexistent.xml"], "'/nonexistent.xml': the file does not exist"),
    (["scaling", "--workers", "4096", "--units", "1"], "4096 workers asked for"),
  ])
  func aMistakeFoundWhileRunningIsAUsageErrorWithoutTheWrongUsage(arguments: [String], says: String) throws {
    let run = try runExecutable("mpbench", arguments)
    #expect(run.status == 64)
    #expect(run.stderr.contains(says) && !run.stderr.contains("Usage:"), "\(run.stderr)")
  }

  /// `cluster --compare-mpi4py` refuses a size the reference does not have before anything
  /// runs (it used to after the whole benchmark), and defaults to the py size.
  @Test func clusterRefusesWhatTheReferenceCannotRunFirst() throws {
    let run = try runExecutable("mpbench", ["cluster", "--compare-mpi4py", "--size", "native-long"])
    #expect(run.status == 64)
    #expect(run.stderr.contains("the reference has no native-long"), "\(run.stderr)")
    #expect(run.stdout.isEmpty, "nothing ran: \(run.stdout)")
    #expect(try ClusterCommand.parse(["--compare-mpi4py"]).kernelSize == .py)
    #expect(try ClusterCommand.parse([]).kernelSize == .native)
    #expect(try ClusterCommand.parse(["--compare-mpi4py", "--size", "test"]).kernelSize == .test)
  }

  /// `mpbench cluster` is mpbench-cluster, run in mpbench's place: the one program of the two
  /// that loads Open MPI, so that mpbench's own processes (every start, pool and fork it
  /// times) do not carry it.
  @Test func theClusterCommandIsTheOnlyOneWithOpenMPI() throws {
    func libraries(_ name: String) throws -> String {
      let run = try runExecutable("/usr/bin/ldd", [buildDirectory.appendingPathComponent(name).path])
      #expect(run.status == 0, "\(run.stderr)")
      return run.stdout
    }
    #expect(try libraries("mpbench-cluster").contains("libmpi.so"))
    #expect(try !libraries("mpbench").contains("libmpi"), "mpbench loads Open MPI")
    // Its help and its mistakes are mpbench-cluster's, named as users call it.
    let help = try runExecutable("mpbench", ["cluster", "--help"])
    #expect(help.status == 0 && help.stdout.contains("--workers-per-rank"), "\(help.stdout)")
    #expect(try runExecutable("mpbench", ["help", "cluster"]).stdout == help.stdout)
    let mistake = try runExecutable("mpbench", ["cluster", "--bogus"])
    #expect(mistake.status == 64 && mistake.stderr.contains("See 'mpbench cluster --help'"), "\(mistake.stderr)")
    // Listed among mpbench's subcommands.
    #expect(try runExecutable("mpbench", ["--help"]).stdout.contains("cluster"))
  }

  /// An mpbench without mpbench-cluster beside it says so, with how to build it, as a usage
  /// error (a hard link to mpbench in a folder of its own: /proc/self/exe names the link).
  @Test func theClusterCommandWithoutItsProgramSaysHowToBuildIt() throws {
    let folder = buildDirectory.appendingPathComponent("lonely-mpbench-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let lonely = folder.appendingPathComponent("mpbench").path
    try FileManager.default.linkItem(atPath: buildDirectory.appendingPathComponent("mpbench").path, toPath: lonely)
    let run = try runExecutable(lonely, ["cluster", "--help"])
    #expect(run.status == 64, "\(run.stderr)")
    #expect(run.stderr.contains("\(folder.path)/mpbench-cluster"), "\(run.stderr)")
    #expect(run.stderr.contains("swift build --product mpbench-cluster"), "\(run.stderr)")
  }

  @Test func knownSubcommandsAndHelpStillParse() throws {
    #expect(try runExecutable("mpbench", ["help"]).stdout.contains("SUBCOMMANDS"))
    #expect(try runExecutable("mpbench", ["topology", "--json"]).status == 0)
  }
}

/// The distance behind "did you mean".
@Suite struct EditDistanceTests {
  @Test func levenshteinDistances() {
    #expect(MPBench.editDistance("topolgy", "topology") == 1)
    #expect(MPBench.editDistance("sclaing", "scaling") == 2)
    #expect(MPBench.editDistance("", "pool") == 4 && MPBench.editDistance("pool", "") == 4)
    #expect(MPBench.editDistance("kitten", "sitting") == 3)
    #expect(MPBench.editDistance("sync", "sync") == 0)
  }
}
