import ArgumentParser
import ToolSupport

/// `mpbench suite` (the default): every measurement the engine has so far, in one run.
struct SuiteCommand: ParsableCommand, RepeatedMeasurement {
  static let configuration = CommandConfiguration(
    commandName: "suite",
    abstract: "Run the machine summary and every benchmark in one go (the default, about 2 minutes).",
    // ArgumentParser does not wrap the usage line it builds: this one fits 80 columns.
    usage: """
      mpbench suite [--repetitions <repetitions>] [--plot <plot>]
                    [--no-python] [--no-openmp]
      """
  )

  @OptionGroup var measurement: RepetitionOptions<SuiteCommand>
  static let defaultRepetitions = 5
  var repetitions: Int { measurement.repetitions }

  @Option(help: "Write the scaling chart (speedup against workers) to this SVG file.")
  var plot: String?

  @Flag(help: "Leave out the comparison with the Python reference.")
  var noPython = false

  @Flag(help: "Leave out the comparisons with the C references, OpenMP's and the fork floor (need cc with OpenMP).")
  var noOpenmp = false

  func validate() throws {
    if let plot { try OutputPath.checkWritable(plot, option: "--plot") }
  }

  func run() throws {
    func section(_ title: String) { print("\n== \(title) ==") }
    section("machine")
    try TopologyCommand.parse([]).run()
    section("process start + join")
    try ProcessStartCommand.parse(["--repetitions", "200"] + (noOpenmp ? ["--no-c-floor"] : [])).run()
    section("synchronisation")
    try SyncCommand.parse(["--repetitions", "\(repetitions)"]).run()
    section("rings")
    try RingsCommand.parse(["--repetitions", "\(repetitions)", "--items", "4000000"]).run()
    section("process pool")
    try PoolCommand.parse(["--repetitions", "\(repetitions)"]).run()
    section("processes vs threads vs serial run(), every kernel")
    var scaling = ["--repetitions", "3"]
    if let plot { scaling += ["--plot", plot] }
    if !noPython { scaling.append("--compare-python") }
    if !noOpenmp { scaling.append("--compare-openmp") }
    try ScalingCommand.parse(scaling).run()
    section("load generator accuracy (mpload's engine)")
    try LoadCommand.parse([]).run()
  }
}
