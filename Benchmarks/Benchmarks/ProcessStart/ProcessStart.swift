import Benchmark
import BenchmarkSupport
import Multiprocessing

/// Start + join of an empty target, per start method. Targets on the project's 2-vCPU
/// machine: fork ≤ 0.5 ms, forkserver ≤ 1 ms, spawn ≤ 5 ms (Python: 2.9 / 25 / 96 ms).
let benchmarks: @Sendable () -> Void = {
  BenchmarkEntryPoints.prepare()
  for method in StartMethod.allCases {
    let configuration = Benchmark.Configuration(
      metrics: [.wallClock], timeUnits: .microseconds, warmupIterations: 5, maxDuration: .seconds(3),
      thresholds: p90Tolerance)
    registerBenchmark("start+join-\(method)", configuration: configuration) { benchmark in
      for _ in benchmark.scaledIterations {
        let process = Process(startMethod: method, entryPoint: BenchmarkEntryPoints.empty, arguments: 0)
        try process.start()
        try process.join()
      }
    }
  }
}
