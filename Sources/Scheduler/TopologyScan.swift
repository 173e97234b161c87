import CHwloc

/// Reads the objects of a loaded hwloc topology into ``Topology``'s value types.
///
/// Machines where hwloc reports no package or no core object (some virtual machines) are
/// read as one package, and as one core per processing unit.
struct TopologyScan {
  var packages: [Package] = []
  var numaNodes: [NUMANode] = []
  var cores: [Core] = []
  var processingUnits: [ProcessingUnit] = []
  var caches: [Cache] = []

  init(_ handle: hwloc_topology_t) {
    let numaObjects = Self.objects(handle, HWLOC_OBJ_NUMANODE)
    numaNodes = numaObjects.enumerated().map { index, object in
      NUMANode(
        index: index,
        osIndex: Self.osIndex(object),
        cpus: CPUSet(bitmap: object.pointee.cpuset),
        memoryBytes: object.pointee.attr.map { $0.pointee.numanode.local_memory })
    }

    let packageObjects = Self.objects(handle, HWLOC_OBJ_PACKAGE)
    var coreObjects = Self.objects(handle, HWLOC_OBJ_CORE)
    if coreObjects.isEmpty { coreObjects = Self.objects(handle, HWLOC_OBJ_PU) }

    for object in coreObjects {
      let cpus = CPUSet(bitmap: object.pointee.cpuset)
      let package =
        packageObjects.firstIndex { hwloc_bitmap_isincluded(object.pointee.cpuset, $0.pointee.cpuset) != 0 }
        ?? 0
      let numa = numaNodes.firstIndex { !cpus.isEmpty && cpus.isSubset(of: $0.cpus) }
      let core = Core(
        index: cores.count, osIndex: Self.osIndex(object), package: package, numaNode: numa,
        cpus: cpus.indices)
      cores.append(core)
    }

    let packageCount = max(packageObjects.count, 1)
    packages = (0..<packageCount).map { index in
      let memberCores = cores.filter { $0.package == index }
      let numas = Set(memberCores.compactMap(\.numaNode)).sorted()
      let osIndex = packageObjects.isEmpty ? nil : Self.osIndex(packageObjects[index])
      return Package(index: index, osIndex: osIndex, cores: memberCores.map(\.index), numaNodes: numas)
    }

    for core in cores {
      for cpu in core.cpus {
        processingUnits.append(
          ProcessingUnit(osIndex: cpu, core: core.index, package: core.package, numaNode: core.numaNode))
      }
    }

    let cacheTypes: [(hwloc_obj_type_t, Int)] = [
      (HWLOC_OBJ_L1ICACHE, 1), (HWLOC_OBJ_L1CACHE, 1), (HWLOC_OBJ_L2ICACHE, 2), (HWLOC_OBJ_L2CACHE, 2),
      (HWLOC_OBJ_L3ICACHE, 3), (HWLOC_OBJ_L3CACHE, 3), (HWLOC_OBJ_L4CACHE, 4), (HWLOC_OBJ_L5CACHE, 5),
    ]
    for (type, level) in cacheTypes {
      let found = Self.objects(handle, type)
      guard let first = found.first, let attributes = first.pointee.attr?.pointee.cache else { continue }
      let kind: Cache.Kind =
        switch attributes.type {
        case HWLOC_OBJ_CACHE_DATA: .data
        case HWLOC_OBJ_CACHE_INSTRUCTION: .instruction
        default: .unified
        }
      caches.append(
        Cache(
          level: level, kind: kind, sizeBytes: attributes.size,
          lineBytes: attributes.linesize > 0 ? Int(attributes.linesize) : nil, count: found.count))
    }
  }

  /// All objects of a type, in logical order.
  private static func objects(_ handle: hwloc_topology_t, _ type: hwloc_obj_type_t) -> [hwloc_obj_t] {
    let count = hwloc_get_nbobjs_by_type(handle, type)
    guard count > 0 else { return [] }
    return (0..<UInt32(count)).compactMap { hwloc_get_obj_by_type(handle, type, $0) }
  }

  /// The OS index of an object, or nil where hwloc has none.
  private static func osIndex(_ object: hwloc_obj_t) -> Int? {
    let index = object.pointee.os_index
    return index == UInt32.max ? nil : Int(index)
  }
}
