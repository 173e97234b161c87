import Foundation
import Multiprocessing
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A worker's crash is one line on standard error, not the runtime's backtrace, and the
/// process still dies of its signal.
@Suite(.timeLimit(.minutes(3))) struct CrashReportTests {
  /// A forked child whose standard error goes to a file, with the one-line report labelled
  /// `label` installed, that then crashes with `crash`: the child, ended, and what it wrote.
  static func crashedChild(
    _ label: String, _ crash: @escaping () -> Void
  ) throws -> (child: Multiprocessing.Process, report: String) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(getpid()).txt").path
    defer { unlink(path) }
    let child = try forked {
      let file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
      dup2(file, 2)
      CrashReport.installOneLine(label: label, respectingEnvironment: false)
      crash()
    }
    try child.join()
    return (child, try String(contentsOfFile: path, encoding: .utf8))
  }

  @Test func aTrapIsOneLineAndTheSameSignal() throws {
    let (child, report) = try Self.crashedChild("CrashTest") { _ = [Int]()[1] }
    let status = try #require(try child.terminationStatus)
    #expect([TerminationStatus.signaled(SIGILL), .signaled(SIGTRAP)].contains(status))
    let lines = report.split(separator: "\n")
    let pid = try #require(try child.pid)
    #expect(lines.contains { $0 == "CrashTest (pid \(pid)) crashed: signal \(-(status.exitCode))" }, "\(report)")
    #expect(lines.count <= 2, "the runtime's one-line message and ours, no backtrace: \(report)")
    #expect(!report.contains("Backtracing"))
  }

  @Test func aSegmentationFaultIsOneLineToo() throws {
    let (child, report) = try Self.crashedChild("SegvTest") { raise(SIGSEGV) }
    #expect(try child.terminationStatus == .signaled(SIGSEGV))
    #expect(report == "SegvTest (pid \(try child.pid ?? 0)) crashed: signal \(SIGSEGV)\n")
  }
}
