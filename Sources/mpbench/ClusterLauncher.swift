import ArgumentParser
import Foundation
import ToolSupport

#if canImport(Glibc)
  import Glibc
#endif

/// `mpbench cluster`: runs `mpbench-cluster`, the program beside this one that holds the
/// command, in this process's place (`execv`, so that under mpirun the rank is still this
/// process). `MPBench.main` calls ``execute(_:)`` before anything is parsed when the first
/// argument is `cluster` (or the arguments are `help cluster`); the type itself only lists the
/// subcommand in mpbench's help.
///
/// The cluster command is the only one that needs Open MPI, whose libraries (libmpi, its
/// runtime, libevent) every process of a program that links them loads and every fork of it
/// copies: kept in a program of its own, they are not in mpbench's process starts, pools and
/// spawned children, which then measure what a program of the library without MPI pays.
struct ClusterLauncher: ParsableCommand {
  /// The subcommand's name.
  static let name = "cluster"

  static let configuration = CommandConfiguration(
    commandName: name,
    abstract: "Time the pool across MPI ranks (run it under mpirun, one rank per node).",
    discussion: "Runs mpbench-cluster, beside mpbench; `mpbench cluster --help` gives its options.")

  /// The program that holds the command: `mpbench-cluster` in this executable's directory.
  static var program: String {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return executable.deletingLastPathComponent().appendingPathComponent("mpbench-cluster").path
  }

  /// Replaces this process with `mpbench-cluster` and `arguments`; says why and exits with
  /// status 64 when it cannot.
  static func execute(_ arguments: [String]) -> Never {
    let program = program
    let argv = ([program] + arguments).map { strdup($0) } + [nil]
    execv(program, argv)
    let reason = String(cString: strerror(errno))
    FileHandle.standardError.write(
      Data(
        """
        Error: mpbench cluster runs \(program), which cannot be run (\(reason)): build it with \
        `swift build --product mpbench-cluster` (a plain `swift build` builds both)

        """.utf8))
    Glibc.exit(ExitCode.validationFailure.rawValue)
  }
}
