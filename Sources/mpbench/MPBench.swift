import ArgumentParser
import Foundation
import Multiprocessing
import ToolSupport

#if canImport(Glibc)
  import Glibc
#endif

/// The benchmark executable: processes vs threads vs in-process runs, and the machine they
/// run on.
@main
struct MPBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mpbench",
    abstract: "Benchmarks worker processes against threads and in-process runs.",
    version: swiftMultiprocessingVersion,
    subcommands: [
      SuiteCommand.self, TopologyCommand.self, ProcessStartCommand.self, SyncCommand.self, RingsCommand.self,
      PoolCommand.self, ScalingCommand.self, LoadCommand.self, ClusterLauncher.self,
    ],
    defaultSubcommand: SuiteCommand.self
  )

  /// Becomes a spawned child or the fork server when started as one; otherwise parses the
  /// command line as usual.
  static func main() {
    let arguments = Array(CommandLine.arguments.dropFirst())
    // `mpbench process-start`'s spawn floor: this binary's start and exit, and nothing else.
    if arguments == [ProcessStartCommand.bareStart] { Glibc.exit(0) }
    unblockSignals()
    // `mpbench cluster` is another program's (it alone loads Open MPI): it runs in this one's
    // place, with the signal mask just cleared.
    if arguments.first == ClusterLauncher.name { ClusterLauncher.execute(Array(arguments.dropFirst())) }
    if arguments == ["help", ClusterLauncher.name] { ClusterLauncher.execute(["--help"]) }
    bootstrapMultiprocessing(entryPoints: BenchEntryPoints.all)
    // `mpbench pool`'s first pool of a process: a fresh run of this binary times its first pool.
    if arguments == [PoolCommand.firstPoolProbe] {
      do { try PoolCommand.timeFirstPool() } catch { exit(withError: error) }
      Glibc.exit(0)
    }
    // Scripts/child-start-order's profile: the pools whose children it lays out together.
    if arguments == [PoolCommand.childStartsToProfile] {
      do { try PoolCommand.runChildStartsToProfile() } catch { exit(withError: error) }
      Glibc.exit(0)
    }
    if let message = unknownSubcommand(arguments) {
      FileHandle.standardError.write(Data((message + "\n").utf8))
      Glibc.exit(ExitCode.validationFailure.rawValue)
    }
    runAsRoot()
  }

  /// What to say when the first argument looks like a subcommand (a word, not an option) but
  /// names none: the default subcommand would otherwise take it as an unexpected argument of
  /// its own.
  static func unknownSubcommand(_ arguments: [String]) -> String? {
    guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
    let names = configuration.subcommands.map { $0._commandName }
    guard !names.contains(first), first != "help" else { return nil }
    let closest = names.min { editDistance(first, $0) < editDistance(first, $1) }!
    let hint = editDistance(first, closest) <= max(2, closest.count / 3) ? ", did you mean '\(closest)'?" : ""
    return "Error: unknown subcommand '\(first)'\(hint) (subcommands: \(names.joined(separator: ", ")))"
  }

  /// The Levenshtein distance between two words.
  static func editDistance(_ a: String, _ b: String) -> Int {
    let (a, b) = (Array(a), Array(b))
    // previous[j]: the distance from the first i - 1 characters of a to the first j of b.
    var previous = Array(0...b.count)
    for (i, character) in a.enumerated() {
      var current = [i + 1]
      for (j, other) in b.enumerated() {
        current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (character == other ? 0 : 1)))
      }
      previous = current
    }
    return previous[b.count]
  }
}
