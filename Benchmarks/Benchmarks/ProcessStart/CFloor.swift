import Foundation

/// The C floor of a process's start: `fork`, `_exit` and `waitpid` in a small C program
/// (`ForkFloor`, built beside this one from Scripts/fork_floor.c), which times each start
/// itself.
enum CFloor {
  /// The program.
  static let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("ForkFloor")

  /// `count` starts of the C program, each timed inside it.
  static func samples(_ count: Int) throws -> [Duration] {
    let program = Foundation.Process()
    program.executableURL = executable
    program.arguments = ["\(count)"]
    let output = Pipe()
    program.standardOutput = output
    try program.run()
    let printed = output.fileHandleForReading.readDataToEndOfFile()
    program.waitUntilExit()
    let samples = String(decoding: printed, as: UTF8.self).split(separator: "\n").compactMap { Double($0) }
    guard program.terminationStatus == 0, samples.count == count else {
      throw CFloorFailure(status: program.terminationStatus, samples: samples.count, expected: count)
    }
    return samples.map { .nanoseconds(Int64($0 * 1000)) }
  }
}

/// The C floor's program failed or printed the wrong number of samples.
struct CFloorFailure: Error, CustomStringConvertible {
  var status: Int32
  var samples: Int
  var expected: Int
  var description: String { "the C floor (ForkFloor) exited with \(status) after \(samples) of \(expected) samples" }
}
