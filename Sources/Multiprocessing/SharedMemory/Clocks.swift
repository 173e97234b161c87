#if canImport(Glibc)
  import Glibc
#endif

// The clocks whose readings processes compare through shared memory: for the pool, the load
// generator and mpbench (package visibility).

/// Nanoseconds of the monotonic clock, comparable between processes.
package func monotonicNanoseconds() -> Int {
  clockNanoseconds(CLOCK_MONOTONIC)
}

/// The reading of `clock` in nanoseconds.
package func clockNanoseconds(_ clock: clockid_t) -> Int {
  var now = timespec()
  clock_gettime(clock, &now)
  return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

extension Duration {
  /// The duration in whole nanoseconds, to compare with the clock readings above.
  package var nanoseconds: Int {
    Int(components.seconds) * 1_000_000_000 + Int(components.attoseconds / 1_000_000_000)
  }
}
