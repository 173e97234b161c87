/// What `mpbench scaling` measured of one workload, gathered over its interleaved blocks.
struct WorkloadWalls {
  /// A parallel mode with a worker count.
  struct Key: Hashable {
    let mode: ScalingMode
    let workers: Int
  }

  /// The serial walls, and the checksum every mode must match (nil before the first block).
  var serial: [Double] = []
  var checksum: UInt64?
  /// Each parallel mode's walls.
  var parallel: [Key: [Double]] = [:]
  /// The OpenMP reference's walls with each team size, and C's serial walls taken beside them.
  var openmp: [Int: (parallel: [Double], serial: [Double])] = [:]
}
