import ComputeEngine

/// A cluster pool's driver is a ``ParallelPool``: code written for a local ``ProcessPool``
/// runs across the ranks inside ``ClusterPool/serve(driver:)`` (without a journal; the maps
/// that take one are the cluster's own).
extension ClusterPool: ParallelPool {
  /// Applies the kernel to every input across the ranks, outputs in input order (driver
  /// only): ``map(_:chunkSize:journal:)`` without a journal.
  public func map(_ inputs: [Input], chunkSize: Int?) throws -> [Output] {
    try map(inputs, chunkSize: chunkSize, journal: nil)
  }

  /// Each input's result across the ranks, in input order (driver only):
  /// ``mapResults(_:chunkSize:journal:)`` without a journal.
  public func mapResults(_ inputs: [Input], chunkSize: Int?) throws -> [Swift.Result<Output, PoolError>] {
    try mapResults(inputs, chunkSize: chunkSize, journal: nil)
  }
}
