import SystemPackage

/// An error from loading a topology, computing a placement or binding to CPUs.
///
/// Each case's ``description`` names the mistake and, where it helps, what would be valid.
public enum SchedulerError: Error, Sendable, Equatable, CustomStringConvertible {
  /// hwloc could not parse a synthetic topology description.
  case invalidSyntheticDescription(String)
  /// hwloc could not load a topology from an XML file; `reason` says why (missing, unreadable,
  /// or not hwloc's XML).
  case cannotLoadXML(path: String, reason: String)
  /// An hwloc call failed with `errno`.
  case hwlocFailed(call: String, errno: Errno)
  /// A placement asked for zero cores.
  case zeroCores
  /// A placement asked for more cores than the topology offers.
  case tooManyCores(requested: Int, available: Int)
  /// An explicit CPU list was empty.
  case emptyCPUList
  /// An explicit CPU list named a CPU twice.
  case duplicateCPU(Int)
  /// A CPU index that the machine does not have.
  case unknownCPU(Int, existing: CPUSet)
  /// A CPU that exists but that this process may not use (taskset, cgroup cpuset).
  case cpuNotAllowed(Int, allowed: CPUSet)
  /// A CPU list or placement policy that could not be parsed.
  case invalidSyntax(String, expected: String)
  /// Binding was asked of a topology that does not describe this machine.
  case notThisSystem(source: String)
  /// The kernel refused a binding.
  case bindingFailed(cpus: CPUSet, errno: Errno)

  /// The system call's error beneath this one, or nil when no system call failed.
  public var underlyingErrno: Errno? {
    switch self {
    case .hwlocFailed(_, let errno), .bindingFailed(_, let errno): errno
    default: nil
    }
  }

  /// A message that names the mistake.
  public var description: String {
    switch self {
    case .invalidSyntheticDescription(let spec):
      return "invalid synthetic topology description '\(spec)' "
        + "(expected levels like 'package:2 numa:2 core:4 pu:2')"
    case .cannotLoadXML(let path, let reason):
      return "cannot load a topology from the XML file '\(path)': \(reason)"
    case .hwlocFailed(let call, let errno):
      return "\(call) failed: \(errno)"
    case .zeroCores:
      return "a placement needs at least one core, but 0 were requested"
    case .tooManyCores(let requested, let available):
      return "\(requested) cores were requested, but only \(available) are available"
    case .emptyCPUList:
      return "the CPU list is empty: name at least one CPU"
    case .duplicateCPU(let cpu):
      return "CPU \(cpu) appears more than once in the CPU list"
    case .unknownCPU(let cpu, let existing):
      return "CPU \(cpu) does not exist on this topology (CPUs: \(existing))"
    case .cpuNotAllowed(let cpu, let allowed):
      return "CPU \(cpu) is not allowed for this process (allowed CPUs: \(allowed))"
    case .invalidSyntax(let text, let expected):
      return "cannot parse '\(text)': expected \(expected)"
    case .notThisSystem(let source):
      return "cannot bind through a topology that does not describe this machine (\(source)); "
        + "load Topology() for binding"
    case .bindingFailed(let cpus, let errno):
      return "binding to CPUs \(cpus) failed: \(errno)"
    }
  }
}
