import ArgumentParser

/// A command that runs a small C program of its own job beside its figures, in the same run
/// (`Scripts/*.c`).
protocol CFloorMeasurement {
  /// The C program's source, from the repository root.
  static var cFloorSource: String { get }
  /// `--c-floor`'s help: what the C program does.
  static var cFloorHelp: String { get }
}

/// `--c-floor`, `--c-floor-source` and `--c-floor-executable`, shared by the commands that
/// run a C program beside their figures.
struct CFloorOptions<Command: CFloorMeasurement>: ParsableArguments {
  @Flag(inversion: .prefixedNo, help: ArgumentHelp(Command.cFloorHelp))
  var cFloor = true

  @Option(help: "The C program's source (built with cc -O2).")
  var cFloorSource = Command.cFloorSource

  @Option(help: "A built C program, instead of building its source (for a machine without a C compiler).")
  var cFloorExecutable: String?

  /// The C program, built or found; nil with `--no-c-floor`.
  func program() throws -> CReferenceProgram? {
    guard cFloor else { return nil }
    if let cFloorExecutable { return try CReferenceProgram(executable: cFloorExecutable) }
    return try CReferenceProgram(source: cFloorSource, flags: ["-O2"], option: "--c-floor-source")
  }
}
