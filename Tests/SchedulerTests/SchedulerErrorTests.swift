import Foundation
import Testing

@testable import Scheduler

/// Bad input throws a typed error whose message names the mistake.
@Suite struct SchedulerErrorTests {
  let topology = try! Topology(.synthetic("package:2 core:4 pu:2"))

  /// Runs `body`, expecting `error`, and returns its message.
  func message(_ error: SchedulerError, _ body: () throws -> Void) -> String {
    #expect(throws: error, performing: body)
    return error.description
  }

  /// The reason loading the XML topology at `path` failed with (empty when it loaded).
  func loadFailure(_ path: String) -> String {
    do {
      _ = try Topology(.xml(path: path))
      return ""
    } catch SchedulerError.cannotLoadXML(path, let reason) {
      return reason
    } catch {
      return "\(error)"
    }
  }

  @Test func zeroCores() {
    let text = message(.zeroCores) { _ = try topology.placement(.cores(0)) }
    #expect(text.contains("0 were requested"))
  }

  @Test func moreCoresThanExist() {
    let text = message(.tooManyCores(requested: 9, available: 8)) { _ = try topology.placement(.cores(9)) }
    #expect(text.contains("9 cores") && text.contains("only 8"))
  }

  @Test func emptyCPUList() {
    let text = message(.emptyCPUList) { _ = try topology.placement(.cpus([])) }
    #expect(text.contains("empty"))
  }

  @Test func duplicateCPU() {
    let text = message(.duplicateCPU(3)) { _ = try topology.placement(.cpus([3, 1, 3])) }
    #expect(text.contains("CPU 3") && text.contains("more than once"))
  }

  @Test func unknownCPU() {
    let text = message(.unknownCPU(40, existing: CPUSet(0..<16))) { _ = try topology.placement(.cpus([40])) }
    #expect(text.contains("CPU 40 does not exist") && text.contains("0-15"))
  }

  @Test func negativeCPUIsUnknown() {
    #expect(throws: SchedulerError.unknownCPU(-1, existing: CPUSet(0..<16))) {
      try topology.placement(.cpus([-1]))
    }
  }

  @Test(arguments: ["package:two", "frobnicator:3", "core:0", ""])
  func unparsableSyntheticSpec(spec: String) {
    let text = message(.invalidSyntheticDescription(spec)) { _ = try Topology(.synthetic(spec)) }
    #expect(text.contains("invalid synthetic topology description '\(spec)'"))
  }

  /// A topology file that cannot be loaded says why: missing, not a file, or not hwloc's XML.
  @Test func anXMLFileThatCannotBeLoadedSaysWhy() throws {
    let path = "/nonexistent/topology.xml"
    let text = message(.cannotLoadXML(path: path, reason: "the file does not exist")) {
      _ = try Topology(.xml(path: path))
    }
    #expect(text == "cannot load a topology from the XML file '\(path)': the file does not exist")
    #expect(throws: SchedulerError.cannotLoadXML(path: "/tmp", reason: "it is not a regular file")) {
      try Topology(.xml(path: "/tmp"))
    }
    let broken = "/tmp/broken-topology-\(getpid()).xml"
    defer { unlink(broken) }
    // A syntax error: its line and libxml2's message.
    try "<?xml version=\"1.0\"?>\n<topology>\n  <object type=\"Machine\"\n</topology>\n".write(
      toFile: broken, atomically: true, encoding: .utf8)
    let malformed = loadFailure(broken)
    #expect(malformed.contains("it is not well-formed XML: line 4: "), "\(malformed)")
    // Mismatched tags: the line of the mismatch.
    try "<topology>\n<a>\n</b>\n</topology>\n".write(toFile: broken, atomically: true, encoding: .utf8)
    let mismatched = loadFailure(broken)
    #expect(mismatched.contains("line 3: Opening and ending tag mismatch"), "\(mismatched)")
    // Well-formed, but not a topology.
    try "<?xml version=\"1.0\"?>\n<html><body/></html>\n".write(toFile: broken, atomically: true, encoding: .utf8)
    let foreign = loadFailure(broken)
    #expect(
      foreign.hasSuffix("it is well-formed XML but not a topology hwloc can read (export one with `lstopo file.xml`)"))
  }

  @Test func restrictionToUnknownCPU() {
    #expect(throws: SchedulerError.unknownCPU(8, existing: CPUSet(0..<8))) {
      try Topology(.synthetic("core:4 pu:2"), restrictedTo: CPUSet([0, 8]))
    }
  }

  @Test func bindingThroughASyntheticTopologyIsRefused() {
    let text = message(.notThisSystem(source: "synthetic 'package:2 core:4 pu:2'")) {
      try topology.bind(.thread, to: CPUSet([0]))
    }
    #expect(text.contains("does not describe this machine"))
    #expect(throws: SchedulerError.self) { try topology.binding(.thread) }
  }
}

@Suite struct ParsingTests {
  @Test func cpuListRoundTrips() throws {
    let set = try CPUSet(parsing: "0-3,8,10-11")
    #expect(set.indices == [0, 1, 2, 3, 8, 10, 11])
    #expect(set.description == "0-3,8,10-11")
    #expect(CPUSet([5, 1, 2, 3]).description == "1-3,5")
  }

  @Test(arguments: ["", "a", "1-", "-1", "3-1", "1,,2", "1-2-3", " 1"])
  func badCPUList(text: String) {
    #expect(
      throws: SchedulerError.invalidSyntax(
        text, expected: "a CPU list such as '0-3,8' (non-negative indices and ranges)")
    ) {
      try CPUSet(parsing: text)
    }
  }

  @Test func cpuListWithADuplicate() {
    #expect(throws: SchedulerError.duplicateCPU(2)) { try CPUSet(parsing: "0-3,2") }
  }

  @Test func policiesParseAndPrint() throws {
    #expect(try PlacementPolicy(parsing: "physical-cores") == .physicalCores)
    #expect(try PlacementPolicy(parsing: "logical-cpus") == .logicalCPUs)
    #expect(try PlacementPolicy(parsing: "cores:4") == .cores(4, .spread))
    #expect(try PlacementPolicy(parsing: "cores:2:compact") == .cores(2, .compact))
    #expect(try PlacementPolicy(parsing: "cpus:3,0-1") == .cpus([3, 0, 1]))
    for policy in [PlacementPolicy.physicalCores, .logicalCPUs, .cores(3, .compact), .cpus([2, 0])] {
      #expect(try PlacementPolicy(parsing: policy.description) == policy)
    }
  }

  @Test(arguments: ["", "cores", "cores:", "cores:x", "cores:2:wide", "cpus", "physical-cores:2", "threads"])
  func badPolicy(text: String) {
    #expect(throws: SchedulerError.self) { try PlacementPolicy(parsing: text) }
    do {
      _ = try PlacementPolicy(parsing: text)
    } catch {
      #expect("\(error)".contains("cannot parse"))
    }
  }
}
