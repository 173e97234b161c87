import Foundation
import Testing

@Suite(.timeLimit(.minutes(3))) struct TopologyCommandTests {
  struct Report: Decodable {
    struct Slot: Decodable {
      let slot: Int
      let cpus: [Int]
      let core: Int
      let package: Int
    }
    let isThisSystem: Bool
    let policy: String
    let slots: [Slot]
  }

  func report(_ arguments: [String]) throws -> Report {
    let run = try runExecutable("mpbench", ["topology", "--json"] + arguments)
    #expect(run.status == 0, "\(run.stderr)")
    return try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
  }

  @Test func syntheticEightCoresOverTwoPackages() throws {
    let json = try report(["--synthetic", "package:2 core:4 pu:2"])
    #expect(!json.isThisSystem)
    #expect(json.slots.count == 8)
    #expect(Set(json.slots.map(\.core)).count == 8)
    #expect(Set(json.slots.map(\.package)) == [0, 1])
    #expect(json.slots.map(\.cpus) == (0..<8).map { [2 * $0] })
  }

  @Test func syntheticNUMAMachineWithCompactPolicy() throws {
    let json = try report(["--synthetic", "package:2 numa:2 core:4 pu:2", "--policy", "cores:2:compact"])
    #expect(json.policy == "cores:2:compact")
    #expect(json.slots.map(\.package) == [0, 0])
    let spread = try report(["--synthetic", "package:2 numa:2 core:4 pu:2", "--policy", "cores:2"])
    #expect(spread.slots.map(\.package) == [0, 1])
  }

  @Test func thisMachine() throws {
    let json = try report([])
    #expect(json.isThisSystem)
    #expect(!json.slots.isEmpty)
  }

  @Test func treeOutput() throws {
    let run = try runExecutable("mpbench", ["topology", "--synthetic", "package:2 core:2 pu:2"])
    #expect(run.status == 0)
    #expect(run.stdout.contains("Package L#1"))
    #expect(run.stdout.contains("Core L#3: PU P#6 P#7"))
    #expect(run.stdout.contains("Placement physical-cores: 4 slot(s)"))
  }

  @Test(arguments: [
    (["--policy", "cores:99"], "99 cores were requested"),
    (["--policy", "bogus"], "cannot parse 'bogus'"),
    (["--policy", "cpus:5-3"], "cannot parse '5-3'"),
    (["--synthetic", "package:zero"], "invalid synthetic topology description"),
    (["--xml", "/nonexistent.xml"], "cannot load a topology from the XML file"),
    (["--synthetic", "core:2", "--xml", "x.xml"], "exclusive"),
    (["--frobnicate"], "Unknown option"),
  ])
  func argumentErrorsExitNonZeroWithAMessage(arguments: [String], message: String) throws {
    let run = try runExecutable("mpbench", ["topology"] + arguments)
    #expect(run.status != 0)
    #expect(run.stderr.contains(message), "\(run.stderr)")
  }
}
