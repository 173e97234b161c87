/// A processor package (socket) of a ``Topology``.
public struct Package: Sendable, Hashable, Codable {
  /// The package's logical index in the topology (0, 1, …).
  public let index: Int
  /// The operating system's index for the package, when known.
  public let osIndex: Int?
  /// Logical indices of the package's physical cores.
  public let cores: [Int]
  /// Logical indices of the NUMA nodes whose CPUs lie in the package.
  public let numaNodes: [Int]
}

/// A NUMA node (a memory bank and the CPUs closest to it) of a ``Topology``.
public struct NUMANode: Sendable, Hashable, Codable {
  /// The node's logical index in the topology.
  public let index: Int
  /// The operating system's index for the node.
  public let osIndex: Int?
  /// The CPUs local to the node.
  public let cpus: CPUSet
  /// The node's local memory in bytes, when known.
  public let memoryBytes: UInt64?
}

/// A physical core of a ``Topology``: one or more processing units (hardware threads) that
/// share the core's execution units and private caches.
public struct Core: Sendable, Hashable, Codable {
  /// The core's logical index in the topology (0, 1, …, in package/NUMA order).
  public let index: Int
  /// The operating system's index for the core, when known (unique within a package only).
  public let osIndex: Int?
  /// The logical index of the package that holds the core.
  public let package: Int
  /// The logical index of the NUMA node the core belongs to, when known.
  public let numaNode: Int?
  /// The operating-system indices of the core's processing units, first PU first.
  public let cpus: [Int]
}

/// A processing unit (logical CPU, hardware thread) of a ``Topology``.
public struct ProcessingUnit: Sendable, Hashable, Codable {
  /// The operating-system index: the CPU number `taskset` and `sched_getcpu()` use.
  public let osIndex: Int
  /// The logical index of the core that holds this PU.
  public let core: Int
  /// The logical index of the package that holds this PU.
  public let package: Int
  /// The logical index of this PU's NUMA node, when known.
  public let numaNode: Int?
}

/// One level of CPU cache of a ``Topology``.
public struct Cache: Sendable, Hashable, Codable {
  /// What a cache holds.
  public enum Kind: String, Sendable, Hashable, Codable {
    /// Instructions and data.
    case unified
    /// Data only.
    case data
    /// Instructions only.
    case instruction
  }

  /// The cache level: 1 for L1, 2 for L2, …
  public let level: Int
  /// What the cache holds.
  public let kind: Kind
  /// The size of one cache of this level in bytes.
  public let sizeBytes: UInt64
  /// The cache line size in bytes, when known.
  public let lineBytes: Int?
  /// How many caches of this level the topology has.
  public let count: Int

  /// A short name such as `L1d`, `L1i` or `L3`.
  public var name: String {
    switch kind {
    case .unified: "L\(level)"
    case .data: "L\(level)d"
    case .instruction: "L\(level)i"
    }
  }
}
