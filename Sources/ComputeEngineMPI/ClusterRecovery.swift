/// What the pool did when ranks died during a job it survived (with ULFM; see
/// ``ClusterPool/recoveries``).
public struct ClusterRecovery: Sendable, Equatable, CustomStringConvertible {
  /// The ranks lost, as `MPI_COMM_WORLD` (the launcher) numbers them.
  public let lostRanks: [Int]
  /// The tasks handed out again, to the survivors: the chunks the lost ranks held, and those
  /// whose answers the recovery dropped. They may have run before, so a task can run twice
  /// when a rank dies (at least once, as in Dask and Ray).
  public let rerunTasks: [Range<Int>]
  /// The ranks still in the job, as `MPI_COMM_WORLD` numbers them (the driver first).
  public let survivingRanks: [Int]
  /// The index of the map (counted from 1 in this pool) during which the ranks were lost; 0
  /// between maps.
  public let job: Int

  /// One line that names the lost ranks and the tasks that ran again.
  public var description: String {
    let tasks = rerunTasks.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ")
    let lost = lostRanks.map(String.init).joined(separator: ", ")
    let surviving = survivingRanks.map(String.init).joined(separator: ", ")
    return "ClusterPool: lost rank\(lostRanks.count == 1 ? "" : "s") \(lost)"
      + (job > 0 ? " during map \(job)" : " between maps")
      + "; \(survivingRanks.count) ranks go on (\(surviving)); tasks run again: \(tasks.isEmpty ? "none" : tasks)"
  }
}
