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
      // p90 moved ±8 % (fork), ±15 % (forkserver), ±25 % (spawn) over five quiet runs.
      thresholds: BenchmarkTolerance.p90(method == .spawn ? 35 : method == .forkserver ? 30 : 25))
    registerBenchmark("start+join-\(method)", configuration: configuration) { benchmark in
      for _ in benchmark.scaledIterations {
        let process = Process(startMethod: method, entryPoint: BenchmarkEntryPoints.empty, arguments: 0)
        try process.start()
        try process.join()
      }
    }
  }
}
