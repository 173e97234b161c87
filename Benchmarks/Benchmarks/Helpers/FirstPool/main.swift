import BenchmarkSupport
import ComputeEngine
import Foundation
import Multiprocessing

// A process's first pool, from its making to its first result (the machine's topology, the
// runtime's first-time work and the library's warm-ups included), in microseconds: what only
// a fresh process can time. Stretched by BENCHMARK_SLOWDOWN, as the benchmarks are.
bootstrapMultiprocessing(entryPoints: BenchmarkEntryPoints.all)
var pool: ProcessPool<Int, Int>?
let elapsed = try BenchmarkSlowdown.stretched {
  pool = try ProcessPool<Int, Int> { $0 + 1 }
  guard try pool?.map([1]) == [2] else { fatalError("the first pool's map gave a wrong result") }
}
print(Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12)
pool?.terminate()
try pool?.join()
