import ArgumentParser

/// The benchmark executable: processes vs threads vs in-process runs, and the machine they
/// run on.
@main
struct MPBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mpbench",
    abstract: "Benchmarks worker processes against threads and in-process runs.",
    subcommands: [TopologyCommand.self]
  )
}
