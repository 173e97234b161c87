import Scheduler
import Testing

@testable import ComputeEngineMPI

/// How the ranks that share a node split it: a count of cores is per rank, other policies
/// describe the node and its ranks take turns over its slots.
@Suite struct NodeShareTests {
  static func share(_ index: Int, of count: Int) -> NodeShare {
    NodeShare(environment: ["OMPI_COMM_WORLD_LOCAL_RANK": "\(index)", "OMPI_COMM_WORLD_LOCAL_SIZE": "\(count)"])
  }

  static func cpus(_ policy: PlacementPolicy, on machine: Topology) throws -> [Int] {
    try machine.placement(policy).slots.flatMap(\.cpus.indices)
  }

  @Test func aCountOfCoresIsPerRank() throws {
    let machine = try Topology(.synthetic("core:8 pu:2"))
    // Two ranks of two workers each: four cores, two apiece (the help's "workers of each
    // rank's local pool"; it was two for the node, one per rank).
    let first = try Self.share(0, of: 2).placement(.cores(2, .compact), on: machine)
    let second = try Self.share(1, of: 2).placement(.cores(2, .compact), on: machine)
    #expect(try Self.cpus(first, on: machine) == [0, 2])
    #expect(try Self.cpus(second, on: machine) == [4, 6])
    // Four ranks of three on eight cores: the last ones wrap round.
    let last = try Self.share(3, of: 4).placement(.cores(3, .compact), on: machine)
    #expect(try Self.cpus(last, on: machine) == [2, 4, 6])
    // More cores per rank than the node has: refused as it is.
    #expect(throws: SchedulerError.self) {
      try machine.placement(try Self.share(1, of: 2).placement(.cores(9), on: machine))
    }
  }

  @Test func otherPoliciesAreTheNodesShared() throws {
    let machine = try Topology(.synthetic("core:4 pu:2"))
    let first = try Self.share(0, of: 2).placement(.physicalCores, on: machine)
    let second = try Self.share(1, of: 2).placement(.physicalCores, on: machine)
    #expect(try Self.cpus(first, on: machine) == [0, 4])
    #expect(try Self.cpus(second, on: machine) == [2, 6])
    #expect(try Self.share(0, of: 1).placement(.cores(3), on: machine) == .cores(3))
  }
}
