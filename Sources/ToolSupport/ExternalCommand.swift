import Foundation

/// Another program that mpbench runs beside itself (a compiler, the C and Python references),
/// with its output collected.
package enum ExternalCommand {
  /// What a run printed and how it ended.
  package struct Outcome {
    package let status: Int32
    package let stdout: String
    package let stderr: String
  }

  /// Runs the Python reference `script` with the interpreter `python` and `arguments` — under
  /// `launcher` (as `mpirun -np 2`) when one is given, with the variables of this process's
  /// environment that `inherits` keeps — and decodes the JSON it prints.
  ///
  /// - Throws: a ``LateUsageError`` naming `option` when the script is not there (mpbench is
  ///   not run from the repository root), a ``BenchmarkFailure`` when it fails or prints
  ///   something else.
  package static func runPythonReference<Output: Decodable>(
    _ type: Output.Type, python: String, script: String, option: String, arguments: [String],
    launcher: [String] = [], inherits: (String) -> Bool = { _ in true }
  ) throws -> Output {
    guard FileManager.default.fileExists(atPath: script) else {
      throw LateUsageError("no Python reference at '\(script)': run from the repository root or pass \(option)")
    }
    let command = (launcher + [python, script]).joined(separator: " ")
    let outcome = try run(["/usr/bin/env"] + launcher + [python, script] + arguments, inherits: inherits)
    guard outcome.status == 0 else {
      throw BenchmarkFailure(
        "the Python reference '\(command)' failed with status \(outcome.status): \(outcome.stderr)")
    }
    do {
      return try JSONDecoder().decode(type, from: Data(outcome.stdout.utf8))
    } catch {
      throw BenchmarkFailure(
        "the Python reference '\(command)' printed what is not its JSON (\(error)): \(outcome.stdout)")
    }
  }

  /// Runs `arguments[0]` with the rest as its arguments and `environment` added to the
  /// variables of this process's that `inherits` keeps (all by default), and waits for it.
  /// Its standard error is read on another thread while standard output is read here, so
  /// that neither pipe can fill and stall it.
  package static func run(
    _ arguments: [String], environment: [String: String] = [:], inherits: (String) -> Bool = { _ in true }
  ) throws -> Outcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    process.environment = ProcessInfo.processInfo.environment.filter { inherits($0.key) }.merging(environment) { $1 }
    let (out, err) = (Pipe(), Pipe())
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let errors = ErrorOutput()
    let reader = Thread {
      errors.data = err.fileHandleForReading.readDataToEndOfFile()
      errors.finished.signal()
    }
    reader.start()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    errors.finished.wait()
    return Outcome(
      status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
      stderr: String(decoding: errors.data, as: UTF8.self))
  }

  /// The standard error a reader thread collects.
  private final class ErrorOutput: @unchecked Sendable {
    // @unchecked: `data` is written by the reader thread before it signals `finished`, and
    // read only after `finished.wait()`.
    var data = Data()
    let finished = DispatchSemaphore(value: 0)
  }
}
