#if canImport(Glibc)
  import Glibc
#endif

/// The number of logical CPUs in the machine, as Python's `multiprocessing.cpu_count()`.
///
/// It counts every online CPU, not only those this process may use; the scheduler's
/// `Topology` gives the usable physical cores.
public func cpuCount() -> Int {
  max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1)
}
