import BenchmarkSupport

/// The C floor of a process's start: `fork`, `_exit` and `waitpid` in a small C program
/// (`ForkFloor`, built beside this one from Scripts/fork_floor.c), which times each start
/// itself.
enum CFloor {
  /// `count` starts of the C program, each timed inside it.
  static func samples(_ count: Int) throws -> [Duration] {
    try HelperProgram.samples("ForkFloor", arguments: ["\(count)"], expected: count).map {
      .nanoseconds(Int64($0 * 1000))
    }
  }
}
