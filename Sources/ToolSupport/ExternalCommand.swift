import CSystemShims
import Foundation
import Multiprocessing
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

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

  /// Runs `arguments[0]` (a path) with the rest as its arguments and `environment` added to
  /// the variables of this process's that `inherits` keeps (all by default), and waits for it.
  /// Its status is its exit status, or the number of the signal that ended it.
  ///
  /// No thread is started, here or by a library: `posix_spawn`, then both pipes read as they
  /// fill (`poll`, so that neither can fill and stall the program), then `waitpid`. mpbench
  /// times forks in the process that runs these commands, and every thread a process has ever
  /// had leaves mappings (its stack, which the C library keeps for reuse, and its malloc
  /// arena) that each later fork copies: `Foundation.Process` left four threads behind (its
  /// run-loop thread, CoreFoundation's socket manager, two Dispatch threads), with which a
  /// start by the fork method took 1.3 times as long and a bare `fork` 1.5 times.
  ///
  /// - Throws: a ``BenchmarkFailure`` when `arguments` is empty or the program cannot be
  ///   started.
  package static func run(
    _ arguments: [String], environment: [String: String] = [:], inherits: (String) -> Bool = { _ in true }
  ) throws -> Outcome {
    guard let program = arguments.first else { throw BenchmarkFailure("no program to run: the arguments are empty") }
    let variables = ProcessInfo.processInfo.environment.filter { inherits($0.key) }.merging(environment) { $1 }
    let output = try FileDescriptor.pipeClosingOnExec()
    let errors: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
    do { errors = try FileDescriptor.pipeClosingOnExec() } catch {
      output.readEnd.release()
      output.writeEnd.release()
      throw error
    }
    let pid: pid_t
    do {
      defer {
        output.writeEnd.release()
        errors.writeEnd.release()
      }
      pid = try spawn(
        arguments, environment: variables.map { "\($0.key)=\($0.value)" },
        output: output.writeEnd.rawValue, errors: errors.writeEnd.rawValue)
    } catch {
      output.readEnd.release()
      errors.readEnd.release()
      throw BenchmarkFailure("could not start '\(program)': \(error)")
    }
    let (stdout, stderr) = readBoth(output.readEnd, errors.readEnd)
    let status: Int32
    switch SystemCall.reap(pid) {
    case .exited(let code): status = code
    case .signaled(let signal): status = signal
    case nil: throw BenchmarkFailure("'\(program)' ended unreaped: process \(pid) was not this process's child")
    }
    return Outcome(
      status: status, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
  }

  /// Starts `arguments[0]` with `environment` (`NAME=value` strings), its standard output and
  /// error on the descriptors given (`cs_spawn_with_output`: every other descriptor closed, the
  /// signal mask empty and every signal's action the default: mpbench ignores `SIGPIPE`, and an
  /// ignored signal would stay ignored across `exec`).
  private static func spawn(
    _ arguments: [String], environment: [String], output: Int32, errors: Int32
  ) throws(Errno) -> pid_t {
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid: pid_t = 0
    _ = try SystemCall.shim { cs_spawn_with_output(arguments[0], argv, envp, output, errors, &pid) }
    return pid
  }

  /// Reads both pipes to their ends, whichever has data first, and closes them. A failed
  /// `poll` (never expected: both descriptors are open) ends the reading with what came.
  private static func readBoth(_ first: FileDescriptor, _ second: FileDescriptor) -> (Data, Data) {
    var collected = [first.rawValue: Data(), second.rawValue: Data()]
    var open = [first.rawValue, second.rawValue]
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while !open.isEmpty {
      let ready = SystemCall.pollReadable(open, timeout: nil)
      if ready.isEmpty { break }
      for descriptor in ready {
        let count = buffer.withUnsafeMutableBytes { try? FileDescriptor(rawValue: descriptor).readSome(into: $0) }
        if let count, count > 0 {
          collected[descriptor]?.append(contentsOf: buffer[0..<count])
        } else {
          open.removeAll { $0 == descriptor }
        }
      }
    }
    first.release()
    second.release()
    return (collected[first.rawValue] ?? Data(), collected[second.rawValue] ?? Data())
  }
}
