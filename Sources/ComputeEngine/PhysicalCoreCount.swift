import Scheduler

/// The number of physical cores this process may use: the worker count of a default pool.
///
/// - Throws: a ``SchedulerError`` when the machine's topology cannot be loaded.
public func physicalCoreCount() throws -> Int {
  try Topology().cores.count
}
