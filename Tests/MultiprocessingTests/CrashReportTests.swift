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
  @Test func aTrapIsOneLineAndTheSameSignal() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(getpid()).txt").path
    defer { unlink(path) }
    let child = try forked {
      let file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
      dup2(file, 2)
      CrashReport.installOneLine(label: "CrashTest", respectingEnvironment: false)
      _ = [Int]()[1]
    }
    try child.join()
    let status = try #require(try child.terminationStatus)
    #expect([TerminationStatus.signaled(SIGILL), .signaled(SIGTRAP)].contains(status))
    let report = try String(contentsOfFile: path, encoding: .utf8)
    let lines = report.split(separator: "\n")
    let pid = try #require(try child.pid)
    #expect(lines.contains { $0 == "CrashTest (pid \(pid)) crashed: signal \(-(status.exitCode))" }, "\(report)")
    #expect(lines.count <= 2, "the runtime's one-line message and ours, no backtrace: \(report)")
    #expect(!report.contains("Backtracing"))
  }

  @Test func aSegmentationFaultIsOneLineToo() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("segv-\(getpid()).txt").path
    defer { unlink(path) }
    let child = try forked {
      let file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
      dup2(file, 2)
      CrashReport.installOneLine(label: "SegvTest", respectingEnvironment: false)
      raise(SIGSEGV)
    }
    try child.join()
    #expect(try child.terminationStatus == .signaled(SIGSEGV))
    let report = try String(contentsOfFile: path, encoding: .utf8)
    #expect(report == "SegvTest (pid \(try child.pid ?? 0)) crashed: signal \(SIGSEGV)\n")
  }
}
