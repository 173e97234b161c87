import ArgumentParser

/// A measuring command's number of repetitions when `--repetitions` is not given.
protocol RepeatedMeasurement {
  /// The default of `--repetitions`.
  static var defaultRepetitions: Int { get }
}

/// `--repetitions`, shared by every command that repeats a measurement and reports its median.
struct RepetitionOptions<Command: RepeatedMeasurement>: ParsableArguments {
  @Option(help: "Repetitions of each measurement (the median is reported).")
  var repetitions: Int = Command.defaultRepetitions

  func validate() throws {
    guard repetitions > 0 else { throw ValidationError("--repetitions must be at least 1, not \(repetitions)") }
  }
}

/// `--json`, shared by every command that can print its results as JSON.
struct OutputOptions: ParsableArguments {
  @Flag(help: "Print JSON instead of text.")
  var json = false
}
