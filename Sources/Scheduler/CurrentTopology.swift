import Synchronization

extension Topology {
  /// The machine this process runs on, loaded once and reused while the process's CPU
  /// affinity stays the same.
  ///
  /// Loading a topology reads sysfs and costs a few milliseconds; pools and one-shot maps
  /// that place workers on this machine call this instead of ``init(_:restrictedTo:)`` so
  /// that only the first of them pays. A change of the process's affinity (`taskset`,
  /// `sched_setaffinity`) since the last load makes this load again, so that the topology
  /// offers exactly the CPUs the process may use now.
  ///
  /// - Throws: what ``init(_:restrictedTo:)`` throws.
  public static func current() throws -> Topology {
    // The lock is held for the cache's read and write only, never across a load: a child
    // forked while another thread held it could never take it (its holder is not copied),
    // and a load takes milliseconds. Two threads may then both load; the last one is kept.
    let cached = CurrentTopology.cache.withLock { $0 }
    if let topology = cached.topology, topology.isThisSystem,
      (try? Topology.binding(topology.handle, scope: .process)) == cached.affinity
    {
      return topology
    }
    let topology = try Topology()
    let affinity = topology.isThisSystem ? try Topology.binding(topology.handle, scope: .process) : nil
    CurrentTopology.cache.withLock { $0 = (topology, affinity) }
    return topology
  }
}

/// The storage behind ``Topology/current()``.
private enum CurrentTopology {
  /// The last topology loaded and the process affinity at that time.
  static let cache = Mutex<(topology: Topology?, affinity: CPUSet?)>((nil, nil))
}
