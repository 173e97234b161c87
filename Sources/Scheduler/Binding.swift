import CHwloc
import CSystemShims
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// What a CPU binding applies to.
public enum BindingScope: Sendable, Hashable {
  /// Every thread of the calling process (the whole process, for a single-threaded worker).
  case process
  /// The calling thread only.
  case thread

  var hwlocFlags: Int32 {
    switch self {
    case .process: Int32(HWLOC_CPUBIND_PROCESS.rawValue)
    case .thread: Int32(HWLOC_CPUBIND_THREAD.rawValue)
    }
  }
}

extension Topology {
  /// Restricts the calling thread or process to `cpus`.
  ///
  /// - Throws: ``SchedulerError/notThisSystem(source:)`` when this topology does not
  ///   describe this machine (a synthetic or XML topology would silently bind nothing),
  ///   ``SchedulerError/emptyCPUList``, ``SchedulerError/unknownCPU(_:existing:)`` or
  ///   ``SchedulerError/cpuNotAllowed(_:allowed:)`` for a bad CPU, and
  ///   ``SchedulerError/bindingFailed(cpus:errno:)`` when the kernel refuses.
  public func bind(_ scope: BindingScope = .thread, to cpus: CPUSet) throws {
    guard isThisSystem else { throw SchedulerError.notThisSystem(source: source.description) }
    guard !cpus.isEmpty else { throw SchedulerError.emptyCPUList }
    for cpu in cpus { try checkAllowed(cpu) }
    // A thread binds the way every worker does; a whole process through hwloc, which
    // binds each of its threads.
    guard scope == .process else { return try Topology.bindCallingThread(to: cpus) }
    let bitmap = cpus.makeBitmap()
    defer { hwloc_bitmap_free(bitmap) }
    guard hwloc_set_cpubind(handle, bitmap, scope.hwlocFlags) == 0 else {
      throw SchedulerError.bindingFailed(cpus: cpus, errno: Errno(rawValue: errno))
    }
  }

  /// Binds the calling thread or process to a placement slot's CPUs.
  public func bind(_ scope: BindingScope = .thread, to slot: Slot) throws {
    try bind(scope, to: slot.cpus)
  }

  /// The CPUs the calling thread or process is bound to now, read back from the kernel.
  ///
  /// - Throws: ``SchedulerError/notThisSystem(source:)`` for a topology of another machine.
  public func binding(_ scope: BindingScope = .thread) throws -> CPUSet {
    guard isThisSystem else { throw SchedulerError.notThisSystem(source: source.description) }
    return try Topology.binding(handle, scope: scope)
  }

  /// Restricts the calling thread (the whole process, for a single-threaded worker) to
  /// `cpus` straight through the kernel, without loading a topology: what a freshly started
  /// worker does with its placement slot.
  ///
  /// - Throws: ``SchedulerError/emptyCPUList`` or ``SchedulerError/bindingFailed(cpus:errno:)``.
  public static func bindCallingThread(to cpus: CPUSet) throws {
    guard !cpus.isEmpty else { throw SchedulerError.emptyCPUList }
    let indices = cpus.indices.map(Int32.init)
    do {
      _ = try indices.withUnsafeBufferPointer { indices in
        Result { () throws(Errno) in
          try SystemCall.shim { cs_sched_setaffinity(0, indices.baseAddress, Int32(indices.count)) }
        }
      }.get()
    } catch {
      throw SchedulerError.bindingFailed(cpus: cpus, errno: error)
    }
  }

  static func binding(_ handle: hwloc_topology_t, scope: BindingScope) throws -> CPUSet {
    guard let bitmap = hwloc_bitmap_alloc() else {
      throw SchedulerError.hwlocFailed(call: "hwloc_bitmap_alloc", errno: .noMemory)
    }
    defer { hwloc_bitmap_free(bitmap) }
    guard hwloc_get_cpubind(handle, bitmap, scope.hwlocFlags) == 0 else {
      throw SchedulerError.hwlocFailed(call: "hwloc_get_cpubind", errno: Errno(rawValue: errno))
    }
    return CPUSet(bitmap: bitmap)
  }
}
