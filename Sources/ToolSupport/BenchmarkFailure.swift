/// A measurement that went wrong — a wrong checksum, a lost item, a dead worker, a reference
/// that failed: mpbench prints it and exits with status 1, without a usage line (the command
/// line was fine; a `ValidationError` is for one that was not).
package struct BenchmarkFailure: Error, CustomStringConvertible {
  package let description: String

  package init(_ description: String) { self.description = description }
}

/// A mistake in the command line found only while running (a reference file that is not
/// there, more workers than the machine has, a topology file hwloc cannot load): said with
/// status 64, as a usage error, but without a usage line — ArgumentParser would print the top
/// command's, not the one used.
package struct LateUsageError: Error, CustomStringConvertible {
  package let description: String

  package init(_ description: String) { self.description = description }
}
