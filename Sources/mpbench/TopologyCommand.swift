import ArgumentParser
import Foundation
import Scheduler
import ToolSupport

/// `mpbench topology`: the machine as a compact tree, and the placement a policy gives.
struct TopologyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "topology",
    abstract: "Print the machine (packages, NUMA nodes, cores, PUs) and a placement.",
    // ArgumentParser does not wrap the usage line it builds: this one fits 80 columns.
    usage: """
      mpbench topology [--json] [--synthetic <synthetic>] [--xml <xml>]
                       [--policy <policy>]
      """
  )

  @OptionGroup var output: OutputOptions
  var json: Bool { output.json }

  @Option(help: "Describe a synthetic machine instead, e.g. \"package:2 numa:2 core:4 pu:2\".")
  var synthetic: String?

  @Option(help: "Load the machine from an hwloc XML file instead.")
  var xml: String?

  @Option(
    help: ArgumentHelp(
      "Placement policy.",
      valueName: "physical-cores|logical-cpus|cores:N[:spread|compact]|cpus:LIST"))
  var policy: String = "physical-cores"

  func validate() throws {
    if synthetic != nil && xml != nil {
      throw ValidationError("--synthetic and --xml are exclusive: give one of them")
    }
  }

  func run() throws {
    do {
      let parsedPolicy = try PlacementPolicy(parsing: policy)
      let source: Topology.Source =
        if let synthetic { .synthetic(synthetic) } else if let xml { .xml(path: xml) } else { .thisSystem }
      let topology = try Topology(source)
      let placement = try topology.placement(parsedPolicy)
      if json {
        print(try TopologyReport(topology: topology, placement: placement).json())
      } else {
        print(TopologyReport(topology: topology, placement: placement).text(), terminator: "")
      }
    } catch let error as SchedulerError {
      throw LateUsageError(error.description)
    }
  }
}
