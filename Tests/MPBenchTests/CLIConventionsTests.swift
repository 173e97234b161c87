import Foundation
import Kernels
import Testing

@testable import mpbench

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
