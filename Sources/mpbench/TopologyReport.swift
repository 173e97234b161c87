import Foundation
import Scheduler
import ToolSupport

/// A topology and a placement, rendered as a compact `lstopo`-like tree or as JSON.
struct TopologyReport: Encodable {
  /// One worker slot in the JSON form.
  struct SlotEntry: Encodable {
    let slot: Int
    let cpus: [Int]
    let core: Int
    let package: Int
    let numaNode: Int?
  }

  let source: String
  let isThisSystem: Bool
  let allowedCPUs: [Int]
  let packages: [Package]
  let numaNodes: [NUMANode]
  let cores: [Core]
  let caches: [Cache]
  let policy: String
  let slots: [SlotEntry]

  init(topology: Topology, placement: Placement) {
    source = topology.source.description
    isThisSystem = topology.isThisSystem
    allowedCPUs = topology.allowedCPUs.indices
    packages = topology.packages
    numaNodes = topology.numaNodes
    cores = topology.cores
    caches = topology.caches
    policy = placement.policy.description
    slots = placement.slots.enumerated().map { index, slot in
      SlotEntry(slot: index, cpus: slot.cpus.indices, core: slot.core, package: slot.package, numaNode: slot.numaNode)
    }
  }

  func json() throws -> String {
    try prettyJSON(self)
  }

  func text() -> String {
    var out = "Machine: \(source)\(isThisSystem ? "" : " (not this machine)")\n"
    out += "Allowed CPUs: \(CPUSet(allowedCPUs)) — \(packages.count) package(s), "
    out += "\(numaNodes.count) NUMA node(s), \(cores.count) core(s), \(cores.map(\.cpus.count).reduce(0, +)) PU(s)\n"
    if !caches.isEmpty {
      out += "Caches: " + caches.map { "\($0.name) \(Self.bytes($0.sizeBytes)) ×\($0.count)" }.joined(separator: ", ")
      out += "\n"
    }
    for package in packages {
      out += "Package L#\(package.index)\(package.osIndex.map { " (P#\($0))" } ?? "")\n"
      let packageCores = package.cores.map { cores[$0] }
      let unplaced = packageCores.filter { $0.numaNode == nil }
      for numaIndex in package.numaNodes {
        let node = numaNodes[numaIndex]
        let memory = node.memoryBytes.map { ", \(Self.bytes($0))" } ?? ""
        out += "  NUMANode L#\(node.index)\(node.osIndex.map { " (P#\($0)\(memory))" } ?? "")\n"
        for core in packageCores where core.numaNode == numaIndex { out += Self.line(core, indent: "    ") }
      }
      for core in unplaced { out += Self.line(core, indent: "  ") }
    }
    out += "Placement \(policy): \(slots.count) slot(s)\n"
    for slot in slots {
      out += "  slot \(slot.slot): CPU \(CPUSet(slot.cpus))  core L#\(slot.core)  package L#\(slot.package)"
      out += slot.numaNode.map { "  NUMA L#\($0)" } ?? ""
      out += "\n"
    }
    return out
  }

  private static func line(_ core: Core, indent: String) -> String {
    let pus = core.cpus.map { "P#\($0)" }.joined(separator: " ")
    return "\(indent)Core L#\(core.index): PU \(pus)\n"
  }

  private static func bytes(_ count: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(count)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    return value == value.rounded() ? "\(Int(value)) \(units[unit])" : String(format: "%.1f %@", value, units[unit])
  }
}
