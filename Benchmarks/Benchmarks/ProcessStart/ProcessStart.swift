import Benchmark
import BenchmarkSupport
import Multiprocessing

/// Start + join of an empty target, per start method. Targets on the project's 2-vCPU
/// machine (issue 29): fork ≤ 2 × the C floor (measured beside it: `fork-over-c-floor`),
/// forkserver ≤ 0.4 ms, spawn ≤ 2.5 ms (Python: 2.9 / 25 / 96 ms).
let benchmarks: @Sendable () -> Void = {
  BenchmarkEntryPoints.prepare()
  for method in StartMethod.allCases {
    let configuration = Benchmark.Configuration(
      metrics: [.wallClock], timeUnits: .microseconds, warmupIterations: 5, maxDuration: .seconds(3),
      // p90 moved ±8 % (fork), ±15 % (forkserver), ±25 % (spawn) over five quiet runs.
      thresholds: BenchmarkTolerance.p90(method == .spawn ? 35 : method == .forkserver ? 30 : 25))
    registerBenchmark("start+join-\(method)", configuration: configuration) { benchmark in
      for _ in benchmark.scaledIterations { try startAndJoin(method) }
    }
  }

  // Issue 29's target: fork's start + join ≤ 2 × the C floor's, medians of the same run. Each
  // iteration times 25 of each, in turns of 5; the figure is fork's median over the floor's,
  // in percent. `BENCHMARK_SLOWDOWN` stretches the forks alone.
  BenchmarkRatio.register("fork-over-c-floor", metric: "fork-over-c-floor-percent", turns: 5) {
    (
      try (0..<5).map { _ in try BenchmarkSlowdown.stretched { try startAndJoin(.fork) } },
      try CFloor.samples(5)
    )
  }
}

/// Starts and joins a process of `method` that runs the empty entry point.
func startAndJoin(_ method: StartMethod) throws {
  let process = Process(startMethod: method, entryPoint: BenchmarkEntryPoints.empty, arguments: 0)
  try process.start()
  try process.join()
}
