import Foundation
import Testing

/// `Scripts/ab`, the same-run A/B of two mpbench binaries, driven with two stand-ins that
/// print fixed figures and log when they run.
@Suite struct ABScriptTests {
  static let script = repositoryPath("Scripts/ab")

  /// A stand-in binary at `path` that logs `name` to `log` and prints one figure, `median`;
  /// or exits with `status` when given.
  func standIn(
    _ path: String, name: String, median: Double, log: String, status: Int32 = 0, report: String? = nil
  ) throws {
    let figure = report ?? #"[{"name": "fig", "unit": "ms", "median": \#(median), "min": 0, "max": 0}]"#
    let body =
      status == 0
      ? "#!/bin/sh\necho \(name) >> \(log)\necho '\(figure)'\n" : "#!/bin/sh\necho broken >&2\nexit \(status)\n"
    try body.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
  }

  func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Foundation.Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", Self.script] + arguments
    let (out, err) = (Pipe(), Pipe())
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, stdout, stderr)
  }

  @Test func itAlternatesABBAAndPairsEachRound() throws {
    try withTemporaryDirectory("ab") { directory in
      let log = "\(directory)/log"
      try standIn("\(directory)/base", name: "base", median: 2, log: log)
      try standIn("\(directory)/new", name: "new", median: 3, log: log)
      let result = try run(["\(directory)/base", "\(directory)/new", "--rounds", "3", "--", "pool"])
      #expect(result.status == 0, "\(result.stderr)")
      let order = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
      #expect(order == ["base", "new", "new", "base", "base", "new"], "odd rounds base first, even rounds new first")
      let row = result.stdout.split(separator: "\n").first { $0.hasPrefix("| fig (ms)") }
      #expect(row == "| fig (ms) | 2 (2–2) | 3 (3–3) | 1.5 (1.5–1.5) |", "\(result.stdout)")

      try standIn("\(directory)/broken", name: "broken", median: 0, log: log, status: 3)
      let failed = try run(["\(directory)/base", "\(directory)/broken", "--rounds", "1", "--", "pool"])
      #expect(failed.status != 0 && failed.stderr.contains("broken") && failed.stderr.contains("3"), "\(failed.stderr)")
      let misused = try run(["\(directory)/base", "--", "pool"])
      #expect(misused.status != 0 && misused.stderr.contains("usage: Scripts/ab"), "\(misused.stderr)")
    }
  }

  /// process-start's report (each kind of start, and the ratios it had) reads as figures.
  @Test func itReadsTheStartsOfProcessStart() throws {
    try withTemporaryDirectory("ab") { directory in
      func report(fork: Double, floor: Double) -> String {
        #"{"starts": {"fork": {"median": \#(fork)}, "c-floor": {"median": \#(floor)}}, "forkToCFloor": \#(fork / floor)}"#
      }
      try standIn("\(directory)/base", name: "base", median: 0, log: "/dev/null", report: report(fork: 600, floor: 150))
      try standIn("\(directory)/new", name: "new", median: 0, log: "/dev/null", report: report(fork: 450, floor: 150))
      let result = try run(["\(directory)/base", "\(directory)/new", "--rounds", "2", "--", "process-start"])
      #expect(result.status == 0, "\(result.stderr)")
      let rows = Set(result.stdout.split(separator: "\n").map(String.init))
      #expect(
        rows.contains("| start + join, fork (µs) | 600 (600–600) | 450 (450–450) | 0.75 (0.75–0.75) |"), "\(rows)")
      #expect(rows.contains("| start + join, c-floor (µs) | 150 (150–150) | 150 (150–150) | 1 (1–1) |"), "\(rows)")
      #expect(rows.contains("| fork / c-floor (ratio of medians) | 4 (4–4) | 3 (3–3) | 0.75 (0.75–0.75) |"), "\(rows)")
      // No spawn was measured: no spawn ratio.
      #expect(!result.stdout.contains("spawn"), "\(result.stdout)")
    }
  }
}
