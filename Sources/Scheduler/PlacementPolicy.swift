/// How worker slots are laid out over a ``Topology``.
public enum PlacementPolicy: Sendable, Hashable, Codable, CustomStringConvertible {
  /// How ``cores(_:_:)`` chooses among the cores.
  public enum Distribution: String, Sendable, Hashable, Codable, CaseIterable {
    /// Round-robin over packages, then over the NUMA nodes of each package, so that the
    /// chosen cores share as few caches and memory controllers as possible.
    case spread
    /// The first cores in logical order, filling one package (and NUMA node) before the next.
    case compact
  }

  /// One slot per physical core (the default). A slot is the core's first PU, not the whole
  /// core: a worker then stays on one hardware thread, so its caches stay warm, where it runs
  /// is deterministic (`sched_getcpu()` equals the slot), and the sibling hardware threads are
  /// left to the operating system and other work instead of being shared by one worker.
  case physicalCores
  /// One slot per processing unit (logical CPU), hardware threads included.
  case logicalCPUs
  /// `n` slots on `n` distinct physical cores (each the core's first PU), chosen by distribution.
  case cores(Int, Distribution = .spread)
  /// One slot per listed CPU (operating-system indices), in the order given.
  case cpus([Int])
  /// These slots, as an earlier ``Topology/placement(_:)`` gave them (or a prefix of them):
  /// a placement resolved once and handed on, rather than computed again.
  case slots([Slot])

  /// Parses the command-line form: `physical-cores`, `logical-cpus`,
  /// `cores:N[:spread|compact]` or `cpus:LIST` (LIST as in `0-3,8`, kept in the order given).
  ///
  /// - Throws: ``SchedulerError/invalidSyntax(_:expected:)`` naming the forms above.
  public init(parsing text: String) throws {
    let expected = "physical-cores, logical-cpus, cores:N[:spread|compact] or cpus:LIST"
    let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
    switch (parts[0], parts.count) {
    case ("physical-cores", 1):
      self = .physicalCores
    case ("logical-cpus", 1):
      self = .logicalCPUs
    case ("cores", 2):
      let fields = parts[1].split(separator: ":", omittingEmptySubsequences: false)
      guard (1...2).contains(fields.count), let count = Int(fields[0]) else {
        throw SchedulerError.invalidSyntax(text, expected: expected)
      }
      var distribution = Distribution.spread
      if fields.count == 2 {
        guard let parsed = Distribution(rawValue: String(fields[1])) else {
          throw SchedulerError.invalidSyntax(text, expected: expected)
        }
        distribution = parsed
      }
      self = .cores(count, distribution)
    case ("cpus", 2):
      var cpus: [Int] = []
      for part in parts[1].split(separator: ",", omittingEmptySubsequences: false) {
        cpus += try CPUSet(parsing: String(part)).indices
      }
      self = .cpus(cpus)
    default:
      throw SchedulerError.invalidSyntax(text, expected: expected)
    }
  }

  /// The command-line form, which ``init(parsing:)`` reads back (``slots(_:)`` as the list of
  /// its slots' CPUs).
  public var description: String {
    switch self {
    case .physicalCores: "physical-cores"
    case .logicalCPUs: "logical-cpus"
    case .cores(let count, let distribution): "cores:\(count):\(distribution.rawValue)"
    case .cpus(let cpus): "cpus:" + cpus.map(String.init).joined(separator: ",")
    case .slots(let slots): "cpus:" + slots.flatMap(\.cpus.indices).map(String.init).joined(separator: ",")
    }
  }
}
