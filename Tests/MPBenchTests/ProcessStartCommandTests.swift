import Foundation
import Testing

/// `mpbench process-start` measures the library's starts beside the floors they are held to,
/// in the same run.
@Suite(.timeLimit(.minutes(2)))
struct ProcessStartCommandTests {
  struct Statistics: Decodable {
    let count: Int
    let min: Double
    let median: Double
    let max: Double
  }

  struct Report: Decodable {
    let starts: [String: Statistics]
    let forkToCFloor: Double?
    let spawnToSpawnFloor: Double?
    let threads: Int
    let mappings: Int
  }

  static let source = repositoryPath("Scripts/fork_floor.c")

  /// The C floor is built, run in turns with the library's fork, and set against it: every
  /// kind has all its samples (30 in turns of 25: two turns each).
  @Test func theCFloorRunsBesideTheFork() throws {
    let run = try runExecutable(
      "mpbench",
      ["process-start", "--methods", "fork", "--repetitions", "30", "--c-floor-source", Self.source, "--json"])
    #expect(run.status == 0, "\(run.stderr)")
    let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
    #expect(Set(report.starts.keys) == ["fork", "fork-floor", "c-floor"])
    #expect(report.starts.values.allSatisfy { $0.count == 30 && $0.min > 0 && $0.min <= $0.median })
    let fork = try #require(report.starts["fork"])
    let floor = try #require(report.starts["c-floor"])
    let ratio = try #require(report.forkToCFloor)
    // (Not compared with 1: on a loaded machine the two medians cross. A timing is a
    // benchmark's to judge: `--max-fork-ratio`.)
    #expect(abs(ratio - fork.median / floor.median) < 1e-9)
    // Building and running the C floor started no thread in mpbench, whose forks would copy
    // what each left mapped (`Foundation.Process` left four), and the report says so.
    #expect(report.threads == 1)
    #expect(report.mappings > 10)
  }

  /// `--max-fork-ratio` makes the target a check: a bound our fork cannot meet (a hundredth
  /// of the floor's time, for a fork that does what the floor does and more) fails the run and says by how much, after the
  /// report; a loose one passes; a bound without the floor is refused before anything runs.
  @Test func aForkRatioOverTheBoundFailsTheRun() throws {
    let arguments = ["process-start", "--methods", "fork", "--repetitions", "10", "--c-floor-source", Self.source]
    let failing = try runExecutable("mpbench", arguments + ["--max-fork-ratio", "0.01", "--json"])
    #expect(failing.status == 1, "\(failing.stderr)")
    let report = try JSONDecoder().decode(Report.self, from: Data(failing.stdout.utf8))
    let ratio = try #require(report.forkToCFloor)
    #expect(failing.stderr.contains(String(format: "fork / c-floor is %.2fx, over --max-fork-ratio 0.01", ratio)))
    let passing = try runExecutable("mpbench", arguments + ["--max-fork-ratio", "1000"])
    #expect(passing.status == 0, "\(passing.stderr)")
    #expect(passing.stdout.contains("fork / c-floor:"))
    let refused = try runExecutable("mpbench", ["process-start", "--no-c-floor", "--max-fork-ratio", "2"])
    #expect(refused.status == 64 && refused.stderr.contains("--max-fork-ratio needs the fork method and the C floor"))
  }

  /// `--max-spawn-ms` and `--max-forkserver-ms` make those starts' targets checks in the
  /// same way: a bound no start can meet (a microsecond) fails the run and says by how much;
  /// a loose one passes; a bound without its start method is refused before anything runs.
  @Test(arguments: ["spawn", "forkserver"])
  func aStartOverTheBoundFailsTheRun(method: String) throws {
    let option = "--max-\(method)-ms"
    let arguments = ["process-start", "--methods", method, "--repetitions", "5", "--no-c-floor"]
    let failing = try runExecutable("mpbench", arguments + [option, "0.001", "--json"])
    #expect(failing.status == 1, "\(failing.stderr)")
    let report = try JSONDecoder().decode(Report.self, from: Data(failing.stdout.utf8))
    let start = try #require(report.starts[method])
    let message = String(format: "\(method)'s median is %.2f ms, over \(option) 0.001", start.median / 1000)
    #expect(failing.stderr.contains(message), "\(failing.stderr)")
    let passing = try runExecutable("mpbench", arguments + [option, "10000"])
    #expect(passing.status == 0, "\(passing.stderr)")
    let refused = try runExecutable("mpbench", ["process-start", "--methods", "fork", option, "2.5"])
    #expect(refused.status == 64 && refused.stderr.contains("\(option) needs the \(method) method"))
  }

  /// With the spawn method, this binary's bare start (it exits at the top of `main`) runs in
  /// turns beside it, and the spawn is set against it; without it, there is no spawn floor.
  @Test func theSpawnFloorRunsBesideTheSpawn() throws {
    let run = try runExecutable(
      "mpbench", ["process-start", "--methods", "spawn", "--repetitions", "4", "--no-c-floor", "--json"])
    #expect(run.status == 0, "\(run.stderr)")
    let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
    #expect(Set(report.starts.keys) == ["spawn", "fork-floor", "spawn-floor"])
    #expect(report.starts.values.allSatisfy { $0.count == 4 && $0.min > 0 })
    let spawn = try #require(report.starts["spawn"])
    let floor = try #require(report.starts["spawn-floor"])
    let ratio = try #require(report.spawnToSpawnFloor)
    #expect(abs(ratio - spawn.median / floor.median) < 1e-9)
    // The floor's run does nothing but start: it prints nothing, and exits with 0 (checked by
    // the command, which fails otherwise).
    let bare = try runExecutable("mpbench", ["--bare-start-for-the-spawn-floor"])
    #expect(bare.status == 0 && bare.stdout.isEmpty && bare.stderr.isEmpty, "\(bare.stdout)\(bare.stderr)")
    let forkOnly = try runExecutable(
      "mpbench", ["process-start", "--methods", "fork", "--repetitions", "2", "--no-c-floor"])
    #expect(forkOnly.status == 0 && !forkOnly.stdout.contains("spawn-floor"), "\(forkOnly.stdout)")
  }

  @Test func withoutTheCFloorThereIsNoRatio() throws {
    let run = try runExecutable(
      "mpbench", ["process-start", "--methods", "fork", "--repetitions", "2", "--no-c-floor"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("fork-floor") && !run.stdout.contains("c-floor"), "\(run.stdout)")
  }

  @Test func aMissingCFloorIsNamed() throws {
    let run = try runExecutable("mpbench", ["process-start", "--c-floor-source", "/nonexistent/fork_floor.c"])
    #expect(run.status == 64)
    #expect(run.stderr.contains("no C reference at '/nonexistent/fork_floor.c'"), "\(run.stderr)")
    #expect(run.stderr.contains("--c-floor-source") && run.stdout.isEmpty, "\(run.stderr)")
  }
}
