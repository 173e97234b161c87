import Testing

/// The options the measuring commands share (one `@OptionGroup`): the same flag, the same
/// check before anything runs, each command's own default in its help.
@Suite(.timeLimit(.minutes(2)))
struct MeasurementOptionsTests {
  @Test(arguments: [
    ("pool", 5), ("process-start", 200), ("rings", 5), ("scaling", 3), ("suite", 5), ("sync", 5),
  ])
  func repetitionsAreCheckedBeforeRunning(command: String, defaultRepetitions: Int) throws {
    let refused = try runExecutable("mpbench", [command, "--repetitions", "0"])
    #expect(refused.status == 64, "a usage error, before anything ran")
    #expect(refused.stderr.contains("--repetitions must be at least 1, not 0"), "\(refused.stderr)")
    #expect(refused.stdout.isEmpty, "nothing was measured: \(refused.stdout)")
    let help = try runExecutable("mpbench", [command, "--help"])
    let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(flat.contains("(the median is reported). (default: \(defaultRepetitions))"), "\(help.stdout)")
  }

  @Test(arguments: ["pool", "process-start", "rings", "scaling", "sync", "load", "topology"])
  func everyReportingCommandTakesJSON(command: String) throws {
    let help = try runExecutable("mpbench", [command, "--help"])
    #expect(help.stdout.contains("--json"), "\(help.stdout)")
  }
}
