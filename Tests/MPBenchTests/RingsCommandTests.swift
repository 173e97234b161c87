import Foundation
import Testing

/// `mpbench rings` runs a C ring of the same design beside its batched figure, in turns, and
/// sets the one against the other.
@Suite(.timeLimit(.minutes(2)))
struct RingsCommandTests {
  static let source = repositoryPath("Scripts/spsc_floor.c")

  static let batchedOnly = ["rings", "--filter", "batches of 64", "--items", "2000000", "--repetitions", "3"]

  /// The filter leaves the batched figure; the C ring is built and run beside it, and each of
  /// our runs is set against the C ring's run after it.
  @Test func theCRingRunsBesideTheBatchedFigure() throws {
    let run = try runExecutable("mpbench", Self.batchedOnly + ["--c-floor-source", Self.source, "--json"])
    #expect(run.status == 0, "\(run.stderr)")
    let figures = try JSONDecoder().decode([Figure].self, from: Data(run.stdout.utf8))
    #expect(
      figures.map(\.name) == [
        "SPSC, batches of 64", "C ring, same job (Scripts/spsc_floor.c)", "SPSC, batches of 64 / C ring",
      ])
    #expect(figures.allSatisfy { $0.min > 0 && $0.min <= $0.median && $0.median <= $0.max })
    guard figures.count == 3 else { return }
    let (ours, cRing, ratio) = (figures[0], figures[1], figures[2])
    #expect(ours.unit == "M/s" && cRing.unit == "M/s" && ratio.unit == "x")
    // Each ratio is one of ours over one of the C ring's.
    #expect(ratio.min >= ours.min / cRing.max * 0.999 && ratio.max <= ours.max / cRing.min * 1.001)
  }

  /// `--min-batched-ratio` makes the comparison a check: a bound SlotRing cannot meet (a
  /// hundred times the C ring of the same design) fails the run and says by how much, after
  /// the report; a loose one passes; a bound without the C ring, or a filter that leaves no
  /// figure, is refused.
  @Test func aBatchedRatioUnderTheBoundFailsTheRun() throws {
    let arguments = Self.batchedOnly + ["--c-floor-source", Self.source]
    let failing = try runExecutable("mpbench", arguments + ["--min-batched-ratio", "100", "--json"])
    #expect(failing.status == 1, "\(failing.stderr)")
    let figures = try JSONDecoder().decode([Figure].self, from: Data(failing.stdout.utf8))
    let ratio = try #require(figures.last { $0.name == "SPSC, batches of 64 / C ring" })
    let message = String(format: "batched SPSC / C ring is %.2fx, under --min-batched-ratio 100", ratio.median)
    #expect(failing.stderr.contains(message))
    let passing = try runExecutable("mpbench", arguments + ["--min-batched-ratio", "0.001"])
    #expect(passing.status == 0, "\(passing.stderr)")
    #expect(passing.stdout.contains("SPSC, batches of 64 / C ring"))
    let refused = try runExecutable("mpbench", ["rings", "--no-c-floor", "--min-batched-ratio", "1"])
    #expect(refused.status == 64 && refused.stderr.contains("--min-batched-ratio needs the C floor"))
    let nothing = try runExecutable("mpbench", ["rings", "--filter", "no such figure", "--no-c-floor"])
    #expect(nothing.status == 64 && nothing.stderr.contains("no figure's name contains 'no such figure'"))
  }
}
