import Foundation
import Testing
import ToolSupport

/// `ExternalCommand.run`, which runs the compiler and the C and Python references beside
/// mpbench's timings without starting a thread.
@Suite(.timeLimit(.minutes(2)))
struct ExternalCommandTests {
  /// Both streams come back whole when each is larger than a pipe holds (64 KB here, 1 MB
  /// written to each in turns): a reader of one stream at a time would leave the program
  /// blocked on the other, and this test would hang into its time limit.
  @Test func bothStreamsComeBackWhole() throws {
    let script = "for i in $(seq 1 2000); do printf '%0511d\\n' $i; printf '%0511d\\n' $i >&2; done"
    let outcome = try ExternalCommand.run(["/bin/sh", "-c", script])
    #expect(outcome.status == 0)
    let lines = (1...2000).map { String(format: "%0511d", $0) }.joined(separator: "\n") + "\n"
    #expect(outcome.stdout == lines)
    #expect(outcome.stderr == lines)
  }

  /// The status is the exit status, or the number of the signal that ended the program; the
  /// environment given is added to the inherited one, and `inherits` filters what is inherited.
  @Test func statusSignalAndEnvironment() throws {
    #expect(try ExternalCommand.run(["/bin/sh", "-c", "exit 3"]).status == 3)
    #expect(try ExternalCommand.run(["/bin/sh", "-c", "kill -TERM $$"]).status == SIGTERM)
    let shown = try ExternalCommand.run(
      ["/bin/sh", "-c", "echo \"$MP_ADDED:${HOME:-none}\""], environment: ["MP_ADDED": "yes"],
      inherits: { $0 != "HOME" })
    #expect(shown.stdout == "yes:none\n")
  }

  /// The program starts with every signal's default action and none blocked, whatever this
  /// process ignores or blocks (`SIGPIPE` ignored here would stay ignored across `exec`), and
  /// with no descriptor of this process's but its standard ones.
  @Test func theProgramStartsClean() throws {
    let previous = signal(SIGPIPE, SIG_IGN)
    defer { signal(SIGPIPE, previous) }
    let outcome = try ExternalCommand.run([
      "/bin/sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status; ls /proc/self/fd",
    ])
    #expect(outcome.stdout.contains("SigBlk:\t0000000000000000"), "\(outcome.stdout)")
    // (Signals 1-31: the C library keeps its internal 32 and 33 out of what a program may reset.)
    let ignored = outcome.stdout.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }
      .flatMap { UInt64($0.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16) }
    #expect(ignored.map { $0 & 0x7fff_ffff } == 0, "\(outcome.stdout)")
    // 0, 1, 2 and the descriptor `ls` opens to list the folder.
    let descriptors = outcome.stdout.split(separator: "\n").filter { $0.allSatisfy(\.isNumber) }
    #expect(descriptors.count == 4, "\(outcome.stdout)")
  }

  /// An empty command line is refused with a failure that says so.
  @Test func anEmptyCommandIsRefused() {
    #expect {
      try ExternalCommand.run([])
    } throws: { error in
      "\(error)".contains("no program to run")
    }
  }

  /// A program that cannot be started throws a failure naming it, and leaves no descriptor
  /// open: 50 failed starts, which would leak 200 (two pipes each), leave the count where it
  /// was, give or take what tests running beside this one hold for a moment.
  @Test func aMissingProgramIsNamed() throws {
    let before = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    for _ in 0..<50 {
      #expect {
        try ExternalCommand.run(["/nonexistent/program", "x"])
      } throws: { error in
        "\(error)".contains("could not start '/nonexistent/program'")
      }
    }
    let after = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    #expect(after - before < 50, "\(before) descriptors before, \(after) after")
  }
}
