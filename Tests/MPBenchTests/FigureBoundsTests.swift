import Foundation
import Testing

/// `--max NAME=VALUE` and `--min NAME=VALUE` (`mpbench pool`, `sync`, `rings`): a bound on a
/// figure's median fails the run when missed, after the figures are printed.
@Suite(.timeLimit(.minutes(3))) struct FigureBoundsTests {
  static let sync = ["sync", "--operations", "2000", "--repetitions", "1", "--json"]

  @Test func aMissedBoundFailsTheRunAndSaysWhich() throws {
    let failing = try runExecutable(
      "mpbench",
      Self.sync + [
        "--max", "Lock acquire+release, uncontended=0.000001", "--min", "atomic increments=1e12", "--max",
        "ping-pong=1e9",
      ])
    #expect(failing.status == 1, "\(failing.stderr)")
    let figures = try JSONDecoder().decode([Figure].self, from: Data(failing.stdout.utf8))
    let lock = try #require(figures.first { $0.name == "Lock acquire+release, uncontended" })
    let atomic = try #require(figures.first { $0.name == "SharedValue atomic increments, 2 processes" })
    #expect(
      failing.stderr.contains(
        "Lock acquire+release, uncontended: \(String(format: "%g", lock.median)) ns, over --max 1e-06"),
      "\(failing.stderr)")
    #expect(
      failing.stderr.contains(
        "SharedValue atomic increments, 2 processes: \(String(format: "%g", atomic.median)) M/s, under --min 1e+12"),
      "\(failing.stderr)")
    // The bound it kept is not named.
    #expect(!failing.stderr.contains("ping-pong"), "\(failing.stderr)")
  }

  /// Bounds that hold pass; a whole name is taken as it is, though another figure's name
  /// contains it too; the Lock over RLock ratio is the two medians' quotient.
  @Test func boundsThatHoldPass() throws {
    let passing = try runExecutable(
      "mpbench",
      Self.sync + [
        "--max", "Lock / RLock=1e9", "--min", "atomic=0", "--min", "SharedValue locked increments, 2 processes, Lock=0",
      ])
    #expect(passing.status == 0, "\(passing.stderr)")
    let figures = try JSONDecoder().decode([Figure].self, from: Data(passing.stdout.utf8))
    let twoProcesses = "SharedValue locked increments, 2 processes"
    let plain = try #require(figures.first { $0.name == "\(twoProcesses), Lock" })
    let recursive = try #require(figures.first { $0.name == "\(twoProcesses), RLock (default)" })
    let ratio = try #require(figures.first { $0.name == "\(twoProcesses), Lock / RLock" })
    #expect(abs(ratio.median - plain.median / recursive.median) < 1e-9 * ratio.median)
  }

  /// A name that fits several figures or none is a mistake in the command line (status 64),
  /// said with the figures it could mean; so is a bound that is not NAME=NUMBER.
  @Test func aBoundThatNamesNoSingleFigureIsRefused() throws {
    let several = try runExecutable("mpbench", Self.sync + ["--min", "2 processes, Lock=1"])
    #expect(several.status == 64, "\(several.stderr)")
    #expect(several.stderr.contains("--min '2 processes, Lock': 2 figures' names contain it"), "\(several.stderr)")
    let none = try runExecutable("mpbench", Self.sync + ["--max", "no such figure=1"])
    #expect(none.status == 64, "\(none.stderr)")
    #expect(
      none.stderr.contains("--max 'no such figure': no figure's name contains it")
        && none.stderr.contains("'Event ping-pong round trip, 2 processes'"), "\(none.stderr)")
    for malformed in ["=1", "Lock=fast", "Lock", "Lock=inf"] {
      let refused = try runExecutable("mpbench", ["sync", "--max", malformed])
      #expect(refused.status == 64 && refused.stderr.contains("is invalid for '--max <NAME=VALUE>'"), "\(malformed)")
    }
  }
}
