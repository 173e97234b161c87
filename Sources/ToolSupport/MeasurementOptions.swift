import ArgumentParser

/// A measuring command's number of repetitions when `--repetitions` is not given.
package protocol RepeatedMeasurement {
  /// The default of `--repetitions`.
  static var defaultRepetitions: Int { get }
}

/// `--repetitions`, shared by every command that repeats a measurement and reports its median.
package struct RepetitionOptions<Command: RepeatedMeasurement>: ParsableArguments {
  @Option(help: "Repetitions of each measurement (the median is reported).")
  package var repetitions: Int = Command.defaultRepetitions

  package init() {}

  package func validate() throws {
    guard repetitions > 0 else { throw ValidationError("--repetitions must be at least 1, not \(repetitions)") }
  }
}

/// `--json`, shared by every command that can print its results as JSON.
package struct OutputOptions: ParsableArguments {
  @Flag(help: "Print JSON instead of text.")
  package var json = false

  package init() {}
}
