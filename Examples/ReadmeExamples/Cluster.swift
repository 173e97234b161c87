import ComputeEngine
import ComputeEngineMPI
import Multiprocessing

/// README, "Across machines: the pool over Open MPI" (compiled, not run: it needs mpirun).
let clusterSquare = PoolKernel<Int, Int>("cluster-square") { $0 &* $0 }

func clusterExample() throws {
  // main: bootstrapMultiprocessing(entryPoints: [clusterSquare])
  let pool = try ClusterPool(kernel: clusterSquare)  // every rank: its local pool, then MPI
  let squares = try pool.serve { driver in try driver.map(Array(0..<100_000)) }
  if let squares { print(squares.count, "squares, computed by", pool.rankCount, "ranks") }  // rank 0
}
