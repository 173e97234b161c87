import Foundation

/// A program of this package built beside the benchmark executable (`ForkFloor`,
/// `FirstPool`), run to take figures that only a fresh process can give: each prints its
/// samples, one number a line.
public enum HelperProgram {
  /// Runs program `name` with `arguments` and returns the numbers it printed; throws unless
  /// it exits with 0 and prints `expected` of them.
  public static func samples(_ name: String, arguments: [String], expected: Int) throws -> [Double] {
    let program = Foundation.Process()
    program.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
      .deletingLastPathComponent().appendingPathComponent(name)
    program.arguments = arguments
    let output = Pipe()
    program.standardOutput = output
    try program.run()
    let printed = output.fileHandleForReading.readDataToEndOfFile()
    program.waitUntilExit()
    let samples = String(decoding: printed, as: UTF8.self).split(separator: "\n").compactMap { Double($0) }
    guard program.terminationStatus == 0, samples.count == expected else {
      throw HelperProgramFailure(
        name: name, status: program.terminationStatus, samples: samples.count, expected: expected)
    }
    return samples
  }
}

/// A helper program failed or printed the wrong number of samples.
public struct HelperProgramFailure: Error, CustomStringConvertible {
  var name: String
  var status: Int32
  var samples: Int
  var expected: Int
  /// The program, how it ended and what it printed.
  /// The program, how it ended and what it printed.
  public var description: String { "\(name) exited with \(status) after \(samples) of \(expected) samples" }
}
