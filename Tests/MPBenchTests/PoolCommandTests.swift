import Foundation
import Testing

/// `mpbench pool`'s first pool of a process: a fresh run of the binary times its own first pool.
@Suite(.timeLimit(.minutes(3))) struct PoolCommandTests {
  @Test func theFirstPoolOfAProcessIsTimedInAFreshRun() throws {
    let probe = try runExecutable("mpbench", ["--time-the-first-pool-of-this-process"])
    #expect(probe.status == 0, "\(probe.stderr)")
    let milliseconds = try #require(Double(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    #expect(milliseconds > 0 && milliseconds < 10_000)

    // Issue 29's targets as bounds: the first pool's, missed on purpose, fails the run.
    let run = try runExecutable(
      "mpbench",
      [
        "pool", "--repetitions", "1", "--size", "test", "--json", "--max",
        "first pool of a process to its first result=0.000001", "--max", "cold start=1e9", "--max",
        "page faults of a worker=1",
      ])
    #expect(run.status == 1, "\(run.stderr)")
    let figures = try JSONDecoder().decode([Figure].self, from: Data(run.stdout.utf8))
    let first = try #require(figures.first { $0.name == "first pool of a process to its first result" })
    let topology = try #require(figures.first { $0.name == "hwloc topology load (first pool of a process)" })
    // The first pool loads a topology, forks a template and a worker, and maps: more than the
    // topology's load alone.
    #expect(first.median > topology.median, "\(first.median) ms against \(topology.median) ms")
    #expect(
      run.stderr.contains(
        "first pool of a process to its first result: \(String(format: "%g", first.median)) ms, over --max 1e-06")
        && !run.stderr.contains("cold start"), "\(run.stderr)")
    // A forked worker's start faults in the pages it writes and the code it runs: tens of
    // faults at least, counted from its fork (a count carried over from the parent would be
    // thousands).
    let faults = try #require(figures.first { $0.name == "page faults of a worker, from its fork to its loop" })
    #expect(faults.median >= 10 && faults.median < 2000, "\(faults.median)")
    #expect(run.stderr.contains("page faults of a worker, from its fork to its loop: "), "\(run.stderr)")
  }

  /// The pools `Scripts/child-start-order` profiles run in a fresh run of the binary, each map
  /// checked, and end it with status 0 and nothing printed.
  @Test func theChildStartsToProfileRunInAFreshRun() throws {
    let run = try runExecutable("mpbench", ["--run-the-child-starts-to-profile"])
    #expect(run.status == 0 && run.stdout.isEmpty && run.stderr.isEmpty, "\(run.status): \(run.stderr)")
  }
}
