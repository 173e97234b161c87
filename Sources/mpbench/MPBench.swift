import ArgumentParser
import Multiprocessing

/// The benchmark executable: processes vs threads vs in-process runs, and the machine they
/// run on.
@main
struct MPBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mpbench",
    abstract: "Benchmarks worker processes against threads and in-process runs.",
    subcommands: [
      SuiteCommand.self, TopologyCommand.self, ProcessStartCommand.self, SyncCommand.self, RingsCommand.self,
      PoolCommand.self, ScalingCommand.self, LoadCommand.self,
    ],
    defaultSubcommand: SuiteCommand.self
  )

  /// Becomes a spawned child or the fork server when started as one; otherwise parses the
  /// command line as usual.
  static func main() {
    bootstrapMultiprocessing(entryPoints: BenchEntryPoints.all)
    main(nil)
  }
}
