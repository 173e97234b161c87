import Foundation
import Scheduler

/// This rank's share of its node when several ranks run there: the launcher says how many
/// ranks share the node and which one this is (Open MPI's `OMPI_COMM_WORLD_LOCAL_RANK` and
/// `…_LOCAL_SIZE`, Slurm's `SLURM_LOCALID` and `SLURM_NTASKS_PER_NODE`). Read from the
/// environment because the local pool starts before MPI does.
struct NodeShare: Equatable {
  /// This rank among the node's ranks.
  var index: Int
  /// The ranks on the node.
  var count: Int

  /// The share the launcher's environment describes (the whole node when it says nothing).
  init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    func number(_ names: String...) -> Int? { names.lazy.compactMap { environment[$0].flatMap { Int($0) } }.first }
    let count = number("OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE") ?? 1
    let index = number("OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID") ?? 0
    (self.index, self.count) = count > 1 && (0..<count).contains(index) ? (index, count) : (0, 1)
  }

  /// This rank's slots of `policy` on `machine` (this one by default). A count of cores,
  /// `.cores(n)`, is per rank: the rank gets `n` cores of its own, after those of the node's
  /// lower ranks (wrapping round when the node has fewer than ranks × `n`). Any other policy
  /// describes the node, and its ranks take turns over its slots (every `count`-th from
  /// `index`) instead of all binding to the first ones; a rank beyond the slots gets one.
  func placement(_ policy: PlacementPolicy, on machine: Topology? = nil) throws -> PlacementPolicy {
    guard count > 1 else { return policy }
    let topology = try machine ?? Topology.current()
    if case .cores(let perRank, let distribution) = policy {
      let cores = try topology.placement(.physicalCores).count
      guard perRank >= 1, perRank <= cores else { return policy }  // refused as it is, with its message
      let all = try topology.placement(.cores(cores, distribution)).slots
      return .slots((0..<perRank).map { all[(index * perRank + $0) % all.count] })
    }
    let slots = try topology.placement(policy).slots
    guard !slots.isEmpty else { return policy }
    let mine = slots.indices.filter { $0 % count == index }.map { slots[$0] }
    return .slots(mine.isEmpty ? [slots[index % slots.count]] : mine)
  }
}
