import Foundation
import ToolSupport

/// One of the project's C reference programs (`Scripts/*.c`): built here with `cc` into a
/// temporary directory that goes with this object, or built elsewhere (for a machine without
/// a C compiler: `Scripts/scaling-bundle` carries them).
final class CReferenceProgram {
  /// The built program.
  let executable: String
  /// The temporary directory the program was built in; nil for one built elsewhere.
  private let directory: URL?

  /// Builds `source` with `compiler` and `flags` into a temporary directory. `option` names
  /// the command-line option that points at the source, for the error when it is missing.
  init(source: String, flags: [String], compiler: String = "cc", option: String) throws {
    guard FileManager.default.fileExists(atPath: source) else {
      throw LateUsageError("no C reference at '\(source)': run from the repository root or pass \(option)")
    }
    let name = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mpbench-\(name)-\(getpid())")
    self.directory = directory
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    executable = directory.appendingPathComponent(name).path
    let build = try ExternalCommand.run(["/usr/bin/env", compiler] + flags + ["-o", executable, source])
    guard build.status == 0 else {
      let command = ([compiler] + flags + [source]).joined(separator: " ")
      throw BenchmarkFailure("'\(command)' failed (status \(build.status)): \(build.stderr)")
    }
  }

  /// A program built elsewhere.
  init(executable: String) throws {
    guard FileManager.default.isExecutableFile(atPath: executable) else {
      throw LateUsageError("no C reference program at '\(executable)'")
    }
    self.executable = executable
    directory = nil
  }

  deinit {
    if let directory { try? FileManager.default.removeItem(at: directory) }
  }
}
