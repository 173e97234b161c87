/// A measurement that went wrong — a wrong checksum, a lost item, a dead worker, a reference
/// that failed: mpbench prints it and exits with status 1, without a usage line (the command
/// line was fine; a `ValidationError` is for one that was not).
struct BenchmarkFailure: Error, CustomStringConvertible {
  let description: String

  init(_ description: String) { self.description = description }
}
