/// Where one worker runs: a set of CPUs and the hardware it belongs to.
public struct Slot: Sendable, Hashable, Codable {
  /// The CPUs (operating-system indices) a worker in this slot is bound to.
  public let cpus: CPUSet
  /// The logical index of the physical core that holds the slot.
  public let core: Int
  /// The logical index of the package that holds the slot.
  public let package: Int
  /// The logical index of the slot's NUMA node, when known.
  public let numaNode: Int?
}

/// The ordered list of slots a policy gives on a topology: worker `i` gets `slots[i]`.
public struct Placement: Sendable, Hashable, Codable {
  /// The policy the placement was computed from (its `description` is the command-line form).
  public let policy: PlacementPolicy
  /// The slots, one per worker.
  public let slots: [Slot]

  /// How many workers the placement holds.
  public var count: Int { slots.count }
}

extension Topology {
  /// The placement `policy` gives on this topology.
  ///
  /// - Throws: ``SchedulerError/zeroCores`` or ``SchedulerError/tooManyCores(requested:available:)``
  ///   for a bad ``PlacementPolicy/cores(_:_:)`` count; ``SchedulerError/emptyCPUList``,
  ///   ``SchedulerError/duplicateCPU(_:)``, ``SchedulerError/unknownCPU(_:existing:)`` or
  ///   ``SchedulerError/cpuNotAllowed(_:allowed:)`` for a bad ``PlacementPolicy/cpus(_:)`` list
  ///   or ``PlacementPolicy/slots(_:)``.
  public func placement(_ policy: PlacementPolicy = .physicalCores) throws -> Placement {
    let slots: [Slot]
    switch policy {
    case .physicalCores:
      slots = cores.map(firstPUSlot)
    case .logicalCPUs:
      slots = processingUnits.map(slot)
    case .cores(let count, let distribution):
      guard count > 0 else { throw SchedulerError.zeroCores }
      guard count <= cores.count else {
        throw SchedulerError.tooManyCores(requested: count, available: cores.count)
      }
      let order = distribution == .spread ? spreadOrder() : cores
      slots = order.prefix(count).map(firstPUSlot)
    case .cpus(let list):
      guard !list.isEmpty else { throw SchedulerError.emptyCPUList }
      var seen = Set<Int>()
      slots = try list.map { cpu in
        guard seen.insert(cpu).inserted else { throw SchedulerError.duplicateCPU(cpu) }
        try checkAllowed(cpu)
        // checkAllowed guarantees the PU exists: the topology holds every allowed CPU.
        return slot(processingUnits.first { $0.osIndex == cpu }!)
      }
    case .slots(let given):
      guard !given.isEmpty else { throw SchedulerError.emptyCPUList }
      for slot in given {
        guard !slot.cpus.isEmpty else { throw SchedulerError.emptyCPUList }
        for cpu in slot.cpus { try checkAllowed(cpu) }
      }
      slots = given
    }
    return Placement(policy: policy, slots: slots)
  }

  /// Cores ordered round-robin over packages, and within each package round-robin over its
  /// NUMA nodes, so that any prefix is spread as widely as it can be.
  func spreadOrder() -> [Core] {
    Self.interleave(
      packages.map { package in
        let members = package.cores.map { cores[$0] }
        let groups = Dictionary(grouping: members) { $0.numaNode ?? -1 }
        return Self.interleave(groups.keys.sorted().map { groups[$0]! })
      })
  }

  /// `[[a, b], [c, d, e]]` → `[a, c, b, d, e]`.
  static func interleave<T>(_ lists: [[T]]) -> [T] {
    var result: [T] = []
    let longest = lists.map(\.count).max() ?? 0
    for position in 0..<longest {
      for list in lists where position < list.count { result.append(list[position]) }
    }
    return result
  }

  private func firstPUSlot(_ core: Core) -> Slot {
    Slot(cpus: CPUSet([core.cpus[0]]), core: core.index, package: core.package, numaNode: core.numaNode)
  }

  private func slot(_ unit: ProcessingUnit) -> Slot {
    Slot(cpus: CPUSet([unit.osIndex]), core: unit.core, package: unit.package, numaNode: unit.numaNode)
  }
}
