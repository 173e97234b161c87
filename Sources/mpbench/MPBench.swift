import ArgumentParser
import Multiprocessing

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
    subcommands: [
      SuiteCommand.self, TopologyCommand.self, ProcessStartCommand.self, SyncCommand.self, RingsCommand.self,
      PoolCommand.self, ScalingCommand.self, LoadCommand.self,
    ],
    defaultSubcommand: SuiteCommand.self
  )

  /// Becomes a spawned child or the fork server when started as one; otherwise parses the
  /// command line as usual.
  static func main() {
    unblockSignals()
    bootstrapMultiprocessing(entryPoints: BenchEntryPoints.all)
    main(nil)
  }
}

/// Unblocks every signal in the calling thread. A program inherits its launcher's blocked
/// signals: one started from a libdispatch worker thread (as Foundation's `Process` run from
/// async code does) has SIGINT and SIGTERM blocked, and so would its children, which then
/// cannot be stopped with SIGTERM.
func unblockSignals() {
  var none = sigset_t()
  sigemptyset(&none)
  pthread_sigmask(SIG_SETMASK, &none, nil)
}
