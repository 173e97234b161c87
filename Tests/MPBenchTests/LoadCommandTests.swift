import Testing

@testable import mpbench

/// `mpbench load` judges the generator on its own load, and says when other processes' work
/// makes /proc/stat's view of a CPU not the generator's.
@Suite struct LoadCommandTests {
  @Test func foreignLoadIsSeparatedFromTheGenerators() throws {
    // CPU 0 also ran a busy loop: /proc/stat saw it full while the generator held 25 %.
    let level = LoadCommand.Level(target: 0.25, loads: [0: 1.0, 1: 0.255], ownLoads: [0: 0.251, 1: 0.249])
    #expect(abs(level.worstError - 0.1) < 1e-9, "judged on the generator's own load")
    #expect(abs(level.worstSystemError - 75) < 1e-9)
    #expect(abs(level.foreignLoads[0]! - 0.749) < 1e-9 && abs(level.foreignLoads[1]! - 0.006) < 1e-9)
    #expect(level.cpusWithForeignLoad == [0])
  }

  @Test func aMissIsAnErrorThatSaysByHowMuch() throws {
    let level = LoadCommand.Level(target: 1.0, loads: [0: 1.0], ownLoads: [0: 0.5])
    #expect(level.worstError > LoadCommand.target && level.foreignLoads[0] == 0.5)
    #expect(
      LoadCommand.MissedTarget(level: level).description
        == "the generator missed its ±3-point target: 50.00 points off at 100% (its own load, CPU time ÷ wall time)")
  }
}
