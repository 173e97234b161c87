import Foundation

/// The result of running one of the package's executables.
struct Run {
  let status: Int32
  let stdout: String
  let stderr: String
}

/// Where this package's executables are built: beside the test bundle.
let buildDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()

/// The path of `relative` (`Scripts/ab`) in this repository, found from this file's.
func repositoryPath(_ relative: String) -> String {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent(relative).path
}

/// Runs `body` with a new, empty folder named after `prefix`, this process and a UUID, and
/// removes the folder and what `body` left in it afterwards.
func withTemporaryDirectory<T>(_ prefix: String, _ body: (String) throws -> T) throws -> T {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(getpid())-\(UUID())").path
  try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(atPath: directory) }
  return try body(directory)
}

/// Runs an executable of this package (in ``buildDirectory``), or the program at an absolute
/// path, with `arguments`.
func runExecutable(_ name: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Run {
  let process = Foundation.Process()
  process.executableURL =
    name.hasPrefix("/") ? URL(fileURLWithPath: name) : buildDirectory.appendingPathComponent(name)
  process.arguments = arguments
  if let environment { process.environment = environment }
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let stdout = out.fileHandleForReading.readDataToEndOfFile()
  let stderr = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return Run(
    status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
    stderr: String(decoding: stderr, as: UTF8.self))
}

/// One figure of the list that `mpbench pool`, `sync` and `rings` print with `--json`.
struct Figure: Decodable {
  let name: String
  let unit: String
  let median: Double
  let min: Double
  let max: Double
}
