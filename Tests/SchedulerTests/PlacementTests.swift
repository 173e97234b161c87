import Foundation
import Scheduler
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Placement on synthetic topologies. hwloc multiplies every level of a synthetic
/// description, so `package:2 numa:2 core:4 pu:2` has 2 × 2 × 4 = 16 cores and 32 PUs.
@Suite struct PlacementTests {
  let numa = try! Topology(.synthetic("package:2 numa:2 core:4 pu:2"))

  /// A set of CPUs holds each index once, ascending, from an array (the concrete initialiser)
  /// or any other sequence of indices alike, and prints in the kernel's list syntax.
  @Test func aCPUSetSortsAndMergesItsIndices() {
    let fromArray = CPUSet([5, 1, 3, 1, 2, 5, 0])
    #expect(fromArray.indices == [0, 1, 2, 3, 5])
    #expect(CPUSet(Set([5, 1, 3, 2, 0])) == fromArray)
    #expect(CPUSet([3, 2, 1, 0, 5].lazy.map { $0 }) == fromArray)
    #expect(fromArray.description == "0-3,5")
    #expect(CPUSet([Int]()).indices.isEmpty && CPUSet([7, 7, 7]).indices == [7])
  }

  @Test func syntheticTopologyHasItsShape() {
    #expect(numa.packages.count == 2)
    #expect(numa.numaNodes.count == 4)
    #expect(numa.cores.count == 16)
    #expect(numa.processingUnits.count == 32)
    #expect(numa.allowedCPUs == CPUSet(0..<32))
    #expect(!numa.isThisSystem)
    #expect(numa.cores[5].cpus == [10, 11])
    #expect(numa.cores[5].package == 0 && numa.cores[5].numaNode == 1)
    #expect(numa.packages[1].cores == Array(8..<16))
    #expect(numa.packages[1].numaNodes == [2, 3])
  }

  /// A placement resolved once is handed on as it is: a prefix of its slots, CPUs checked.
  @Test func resolvedSlotsAreKeptAsTheyAre() throws {
    let spread = try numa.placement(.cores(4, .spread))
    let prefix = Array(spread.slots.prefix(2))
    let again = try numa.placement(.slots(prefix))
    #expect(again.slots == prefix)
    #expect(again.policy == .slots(prefix), "the policy is the one given, slots and all")
    #expect(again.policy.description == "cpus:" + prefix.map { String($0.cpus.indices[0]) }.joined(separator: ","))
    #expect(
      try numa.placement(PlacementPolicy(parsing: again.policy.description)).slots == prefix, "its form reads back")
    let coded = try JSONDecoder().decode(Placement.self, from: JSONEncoder().encode(again))
    #expect(coded == again, "a placement and its policy come back whole from a coder")
    #expect(throws: SchedulerError.emptyCPUList) { try numa.placement(.slots([])) }
    let elsewhere = try Topology(.synthetic("package:1 core:64 pu:1")).placement(.cpus([40]))
    #expect(throws: SchedulerError.unknownCPU(40, existing: CPUSet(0..<32))) {
      try numa.placement(.slots(elsewhere.slots))
    }
  }

  @Test func physicalCoresGivesOneSlotPerCoreOnItsFirstPU() throws {
    let placement = try numa.placement()
    #expect(placement.count == 16)
    #expect(Set(placement.slots.map(\.core)).count == 16)
    #expect(placement.slots.map { $0.cpus.indices } == (0..<16).map { [2 * $0] })
    #expect(Set(placement.slots.map(\.package)) == [0, 1])
  }

  @Test func eightCoresOverTwoPackages() throws {
    let topology = try Topology(.synthetic("package:2 core:4 pu:2"))
    let placement = try topology.placement(.physicalCores)
    #expect(topology.cores.count == 8 && topology.processingUnits.count == 16)
    #expect(placement.count == 8)
    #expect(Set(placement.slots.map(\.core)).count == 8)
    #expect(placement.slots.filter { $0.package == 0 }.count == 4)
    #expect(placement.slots.filter { $0.package == 1 }.count == 4)
  }

  @Test func logicalCPUsGivesEveryPU() throws {
    let placement = try numa.placement(.logicalCPUs)
    #expect(placement.slots.map { $0.cpus.indices } == (0..<32).map { [$0] })
    #expect(placement.slots[3].core == 1)
  }

  @Test func twoSpreadCoresLandOnTwoPackages() throws {
    let placement = try numa.placement(.cores(2, .spread))
    #expect(placement.slots.map(\.package) == [0, 1])
    #expect(placement.slots.map(\.core) == [0, 8])
  }

  @Test func twoCompactCoresLandOnOnePackageAndNode() throws {
    let placement = try numa.placement(.cores(2, .compact))
    #expect(placement.slots.map(\.package) == [0, 0])
    #expect(placement.slots.map(\.numaNode) == [0, 0])
    #expect(placement.slots.map(\.core) == [0, 1])
  }

  @Test func fourSpreadCoresCoverEveryNUMANode() throws {
    let placement = try numa.placement(.cores(4))
    #expect(placement.slots.map(\.numaNode) == [0, 2, 1, 3])
    #expect(placement.slots.map(\.package) == [0, 1, 0, 1])
  }

  @Test func allSpreadCoresAreDistinct() throws {
    let placement = try numa.placement(.cores(16, .spread))
    #expect(Set(placement.slots.map(\.core)).count == 16)
  }

  @Test func explicitCPUListKeepsItsOrder() throws {
    let placement = try numa.placement(.cpus([7, 0, 16]))
    #expect(placement.slots.map { $0.cpus.indices } == [[7], [0], [16]])
    #expect(placement.slots.map(\.core) == [3, 0, 8])
    #expect(placement.slots.map(\.package) == [0, 0, 1])
  }

  @Test func twoCoreMachineLikeThisOne() throws {
    let topology = try Topology(.synthetic("core:2 pu:1"))
    #expect(topology.packages.count == 1)
    #expect(topology.cores.map(\.cpus) == [[0], [1]])
    #expect(try topology.placement().slots.map { $0.cpus.indices } == [[0], [1]])
    #expect(try topology.placement(.logicalCPUs).count == 2)
    #expect(try topology.placement(.cores(2, .spread)).slots == topology.placement(.cores(2, .compact)).slots)
    #expect(try topology.placement(.cores(1)).slots.map(\.core) == [0])
  }

  @Test func restrictionRemovesDisallowedCPUs() throws {
    let topology = try Topology(.synthetic("core:4 pu:2"), restrictedTo: CPUSet([1, 2, 3]))
    #expect(topology.allowedCPUs == CPUSet([1, 2, 3]))
    #expect(topology.existingCPUs == CPUSet(0..<8))
    #expect(topology.cores.map(\.cpus) == [[1], [2, 3]])
    #expect(try topology.placement().slots.map { $0.cpus.indices } == [[1], [2]])
    #expect(throws: SchedulerError.cpuNotAllowed(0, allowed: CPUSet([1, 2, 3]))) {
      try topology.placement(.cpus([0]))
    }
    #expect(throws: SchedulerError.tooManyCores(requested: 3, available: 2)) {
      try topology.placement(.cores(3))
    }
  }

  @Test func xmlRoundTripKeepsTheShape() throws {
    let path = "/tmp/mp-topology-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).xml"
    defer { unlink(path) }
    try numa.exportXML(to: path)
    let loaded = try Topology(.xml(path: path))
    #expect(loaded.cores == numa.cores)
    #expect(loaded.numaNodes.map(\.cpus) == numa.numaNodes.map(\.cpus))
    #expect(try loaded.placement(.cores(2)).slots.map(\.package) == [0, 1])
  }
}
