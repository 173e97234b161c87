import CHwloc
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// The hardware a placement is computed on: packages, NUMA nodes, physical cores, processing
/// units (logical CPUs) and caches, as hwloc sees them.
///
/// Load the real machine with ``init(_:restrictedTo:)`` and its default source, or a
/// synthetic description or an XML export for tests and what-if planning. Only CPUs this
/// process may use (its affinity mask from `taskset` or `sched_setaffinity`, and its cgroup
/// cpuset) are offered: the others are removed when the topology loads.
///
/// A topology is immutable once loaded and may be shared between threads.
public final class Topology: @unchecked Sendable {
  // @unchecked: the hwloc handle is never modified after init; hwloc documents concurrent
  // read-only use and binding calls on a loaded topology as thread-safe.

  /// Where a topology description comes from.
  public enum Source: Sendable, Hashable, CustomStringConvertible {
    /// The machine this process runs on.
    case thisSystem
    /// An hwloc synthetic description such as `package:2 numa:2 core:4 pu:2`.
    case synthetic(String)
    /// An XML file written by `lstopo --of xml` or `hwloc_topology_export_xml`.
    case xml(path: String)

    /// A short phrase naming the source, for messages.
    public var description: String {
      switch self {
      case .thisSystem: "this system"
      case .synthetic(let spec): "synthetic '\(spec)'"
      case .xml(let path): "XML file '\(path)'"
      }
    }
  }

  /// Where this topology came from.
  public let source: Source
  /// Whether the topology describes the machine this process runs on, so that binding
  /// through it works. `HWLOC_XMLFILE` or `HWLOC_SYNTHETIC` in the environment can make a
  /// ``Source/thisSystem`` load describe another machine; this says so.
  public let isThisSystem: Bool
  /// Every CPU the machine has, including those this process may not use.
  public let existingCPUs: CPUSet
  /// The CPUs this process may use; the only ones the topology offers.
  public let allowedCPUs: CPUSet
  /// The packages (sockets), in logical order.
  public let packages: [Package]
  /// The NUMA nodes, in logical order.
  public let numaNodes: [NUMANode]
  /// The physical cores, in logical order (grouped by package, then NUMA node).
  public let cores: [Core]
  /// The processing units (logical CPUs), in logical order.
  public let processingUnits: [ProcessingUnit]
  /// One entry per cache level and kind, from L1 upwards; empty where hwloc knows none.
  public let caches: [Cache]

  let handle: hwloc_topology_t

  /// Loads a topology.
  ///
  /// This system is discovered once per user and boot and then read back from the XML that
  /// discovery left in the user's cache directory, with what this process may use read from
  /// the system each time (see <doc:SchedulerAndPlacement> for the file and how to turn it off).
  ///
  /// - Parameters:
  ///   - source: the machine to describe; the real one by default.
  ///   - restrictedTo: CPUs to keep, on top of this process's own restrictions; useful to
  ///     model a `taskset` on a synthetic topology.
  /// - Throws: ``SchedulerError/invalidSyntheticDescription(_:)``,
  ///   ``SchedulerError/cannotLoadXML(path:reason:)``, ``SchedulerError/unknownCPU(_:existing:)``
  ///   when `restrictedTo` names a CPU the topology lacks, or ``SchedulerError/hwlocFailed(call:errno:)``.
  public convenience init(_ source: Source = .thisSystem, restrictedTo: CPUSet? = nil) throws {
    try self.init(source, restrictedTo: restrictedTo, cache: source == .thisSystem ? .forThisProcess : nil)
  }

  /// Loads a topology, this system's from `cache` when one is given (see ``TopologyCache``).
  init(_ source: Source, restrictedTo: CPUSet?, cache: TopologyCache?) throws {
    let handle = try Self.loaded(source, cache: cache)
    var loaded = false
    defer { if !loaded { hwloc_topology_destroy(handle) } }

    let thisSystem = hwloc_topology_is_thissystem(handle) != 0
    let existing = CPUSet(bitmap: hwloc_topology_get_complete_cpuset(handle))
    var allowed = CPUSet(bitmap: hwloc_topology_get_topology_cpuset(handle))
      .intersection(CPUSet(bitmap: hwloc_topology_get_allowed_cpuset(handle)))
    if thisSystem {
      allowed = allowed.intersection(try Topology.binding(handle, scope: .process))
    }
    if let restrictedTo {
      for cpu in restrictedTo where !existing.contains(cpu) {
        throw SchedulerError.unknownCPU(cpu, existing: existing)
      }
      allowed = allowed.intersection(restrictedTo)
    }
    guard !allowed.isEmpty else { throw SchedulerError.emptyCPUList }
    if allowed != CPUSet(bitmap: hwloc_topology_get_topology_cpuset(handle)) {
      let bitmap = allowed.makeBitmap()
      defer { hwloc_bitmap_free(bitmap) }
      let flags = UInt(HWLOC_RESTRICT_FLAG_REMOVE_CPULESS.rawValue)
      guard hwloc_topology_restrict(handle, bitmap, flags) == 0 else {
        throw SchedulerError.hwlocFailed(call: "hwloc_topology_restrict", errno: Errno(rawValue: errno))
      }
    }

    let scan = TopologyScan(handle)
    self.source = source
    self.isThisSystem = thisSystem
    self.existingCPUs = existing
    self.allowedCPUs = allowed
    self.packages = scan.packages
    self.numaNodes = scan.numaNodes
    self.cores = scan.cores
    self.processingUnits = scan.processingUnits
    self.caches = scan.caches
    self.handle = handle
    loaded = true
  }

  /// Distances, memory attributes and CPU kinds are not used here; skipping them saves a
  /// third of the load time (about 1 ms), which every pool's start pays.
  static let skippedParts = UInt(
    HWLOC_TOPOLOGY_FLAG_NO_DISTANCES.rawValue | HWLOC_TOPOLOGY_FLAG_NO_MEMATTRS.rawValue
      | HWLOC_TOPOLOGY_FLAG_NO_CPUKINDS.rawValue)

  /// Leaves out hwloc's x86 backend. It re-reads with CPUID what Linux's sysfs already gives
  /// (cores, caches); in a virtual machine every CPUID traps to the hypervisor, which makes it
  /// another 0.7 ms of each load here. Without it the topology is the same.
  static func skipX86Backend(_ handle: hwloc_topology_t) {
    hwloc_topology_set_components(handle, UInt(HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST.rawValue), "x86")
  }

  /// A loaded hwloc topology of `source`; this system's from `cache` when it holds it (or can
  /// be given it). A cached file hwloc refuses is removed, and the machine discovered.
  private static func loaded(_ source: Source, cache: TopologyCache?) throws -> hwloc_topology_t {
    HwlocPlugins.trimmed
    var maybeHandle: hwloc_topology_t?
    guard hwloc_topology_init(&maybeHandle) == 0, let handle = maybeHandle else {
      throw SchedulerError.hwlocFailed(call: "hwloc_topology_init", errno: Errno(rawValue: errno))
    }
    var done = false
    defer { if !done { hwloc_topology_destroy(handle) } }
    var flags = skippedParts
    var machine: [UInt8]?
    switch source {
    case .thisSystem:
      machine = cache.flatMap { $0.read() ?? $0.discoverAndStore() }
      if machine != nil {
        // What this process may use comes from the system, not from the file.
        flags |= UInt(
          HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM.rawValue | HWLOC_TOPOLOGY_FLAG_THISSYSTEM_ALLOWED_RESOURCES.rawValue)
      } else {
        skipX86Backend(handle)
      }
    case .synthetic(let spec):
      guard hwloc_topology_set_synthetic(handle, spec) == 0 else {
        throw SchedulerError.invalidSyntheticDescription(spec)
      }
    case .xml(let path):
      if let problem = Self.unreadable(path) { throw SchedulerError.cannotLoadXML(path: path, reason: problem) }
      guard hwloc_topology_set_xml(handle, path) == 0 else {
        throw SchedulerError.cannotLoadXML(path: path, reason: XMLDiagnosis.reason(for: path))
      }
    }
    hwloc_topology_set_flags(handle, flags)
    let status =
      machine.map { xml in
        xml.withUnsafeBufferPointer { buffer in
          buffer.withMemoryRebound(to: CChar.self) { characters in
            hwloc_topology_set_xmlbuffer(handle, characters.baseAddress, Int32(characters.count)) == 0
              ? hwloc_topology_load(handle) : -1
          }
        }
      } ?? hwloc_topology_load(handle)
    guard status == 0 else {
      if machine != nil, let cache {
        cache.remove()
        return try loaded(source, cache: nil)
      }
      if case .xml(let path) = source {
        throw SchedulerError.cannotLoadXML(path: path, reason: XMLDiagnosis.reason(for: path))
      }
      throw SchedulerError.hwlocFailed(call: "hwloc_topology_load", errno: Errno(rawValue: errno))
    }
    done = true
    return handle
  }

  deinit {
    hwloc_topology_destroy(handle)
  }

  /// Writes this topology (as restricted to the allowed CPUs) to an XML file that
  /// ``Source/xml(path:)`` and `lstopo --input` read back.
  ///
  /// - Throws: ``SchedulerError/hwlocFailed(call:errno:)`` when the file cannot be written.
  public func exportXML(to path: String) throws {
    guard hwloc_topology_export_xml(handle, path, 0) == 0 else {
      throw SchedulerError.hwlocFailed(call: "hwloc_topology_export_xml(\(path))", errno: Errno(rawValue: errno))
    }
  }

  /// Throws unless `cpu` (an operating-system index) is a CPU this process may use.
  ///
  /// - Throws: ``SchedulerError/unknownCPU(_:existing:)`` for a CPU the machine lacks,
  ///   ``SchedulerError/cpuNotAllowed(_:allowed:)`` for one outside this process's CPUs.
  public func checkAllowed(_ cpu: Int) throws {
    guard allowedCPUs.contains(cpu) else {
      if existingCPUs.contains(cpu) {
        throw SchedulerError.cpuNotAllowed(cpu, allowed: allowedCPUs)
      }
      throw SchedulerError.unknownCPU(cpu, existing: existingCPUs)
    }
  }
}

extension Topology: CustomStringConvertible {
  /// A one-line summary: counts of packages, NUMA nodes, cores and PUs, and the allowed CPUs.
  public var description: String {
    "\(source): \(packages.count) package(s), \(numaNodes.count) NUMA node(s), "
      + "\(cores.count) core(s), \(processingUnits.count) PU(s); allowed CPUs \(allowedCPUs)"
  }
}

extension Topology {
  /// Why a topology file cannot be read, or nil when it can.
  static func unreadable(_ path: String) -> String? {
    var status = stat()
    guard stat(path, &status) == 0 else {
      return errno == ENOENT ? "the file does not exist" : "it cannot be read (\(Errno(rawValue: errno)))"
    }
    guard status.st_mode & S_IFMT == S_IFREG else { return "it is not a regular file" }
    guard access(path, R_OK) == 0 else { return "it cannot be read (\(Errno(rawValue: errno)))" }
    return nil
  }
}
