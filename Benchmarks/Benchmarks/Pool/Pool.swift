import Benchmark
import BenchmarkSupport
import ComputeEngine
import Kernels

/// The process pool. Targets on the project's 2-vCPU machine: map overhead per task
/// ≤ 0.02 µs chunked and ≤ 1 µs with chunk size 1 (Python 0.31 and 39 µs), a warm 2-task map
/// ≤ 10 µs; cold start to the first result ≤ 5 ms (Python 50 ms; issue 29: 1 ms), a process's
/// first pool ≤ 2 ms (issue 29). A `Codable` map travels in
/// the binary form.
/// Tolerances follow the p90's spread over ten runs of the claim board (five for chunk size
/// 1): automatic chunks ±50 % (their p90 moved ±39 %, as a run found its workers awake or
/// asleep between rounds), chunk size 1, cold start and first pool ±35 % (±24 %), the reference kernel
/// ±30 % (±17 %), the others ±25 %.
let benchmarks: @Sendable () -> Void = {
  BenchmarkEntryPoints.prepare()
  nonisolated(unsafe) var trivial: ProcessPool<Int, Int>?

  registerBenchmark(
    "map-trivial-100k-tasks-automatic-chunks",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 30, thresholds: BenchmarkTolerance.p90(50),
      setup: { trivial = try ProcessPool<Int, Int> { $0 &+ 1 } }, teardown: { trivial?.terminate() })
  ) { _ in
    _ = try trivial!.map(Array(0..<100_000))
  }

  registerBenchmark(
    "map-trivial-20k-tasks-chunk-size-1",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 30, thresholds: BenchmarkTolerance.p90(35),
      setup: { trivial = try ProcessPool<Int, Int> { $0 &+ 1 } }, teardown: { trivial?.terminate() })
  ) { _ in
    _ = try trivial!.map(Array(0..<20_000), chunkSize: 1)
  }

  // A map in an inner loop: two tasks, one per worker, then the next map at once (the claim
  // board's round trip; target ≤ 10 µs each).
  registerBenchmark(
    "warm-map-2-tasks-1000-round-trips",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 30, thresholds: BenchmarkTolerance.p90(),
      setup: { trivial = try ProcessPool<Int, Int> { $0 &+ 1 } }, teardown: { trivial?.terminate() })
  ) { _ in
    for round in 0..<1000 { _ = try trivial!.map([round, round + 1], chunkSize: 1) }
  }

  nonisolated(unsafe) var words: ProcessPool<String, [Int]>?
  let wordInputs = (0..<20_000).map { "word \($0)" }
  registerBenchmark(
    "map-codable-string-to-array-20k-tasks",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 30, thresholds: BenchmarkTolerance.p90(),
      setup: { words = try ProcessPool<String, [Int]> { [$0.utf8.count, Int($0.utf8.first ?? 0)] } },
      teardown: { words?.terminate() })
  ) { _ in
    _ = try words!.map(wordInputs)
  }

  registerBenchmark(
    "cold-start-to-first-result",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 30, thresholds: BenchmarkTolerance.p90(35))
  ) { _ in
    let pool = try ProcessPool<Int, Int> { $0 }
    _ = try pool.map([1])
    pool.terminate()
  }

  // A process's first pool (target ≤ 2 ms, the topology included), timed in a fresh run of
  // FirstPool each iteration: the figure it prints, in microseconds, is the metric.
  let firstPool = BenchmarkMetric.custom("first-pool-microseconds", polarity: .prefersSmaller, useScalingFactor: false)
  Benchmark(
    "first-pool-of-a-process",
    configuration: .init(
      metrics: [firstPool], maxDuration: .seconds(10), maxIterations: 30,
      thresholds: [firstPool: .init(relative: [.p90: 35])])
  ) { benchmark in
    benchmark.measurement(firstPool, Int(try HelperProgram.samples("FirstPool", arguments: [], expected: 1)[0]))
  }

  registerBenchmark(
    "reference-kernel-py-size-every-core",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 20, thresholds: BenchmarkTolerance.p90(30))
  ) { _ in
    let size = MonteCarloPi.Size.py
    let pool = try ProcessPool<Int, UInt64> { MonteCarloPi.unit(UInt64($0), samples: size.samples) }
    let checksum = try pool.map(Array(0..<size.units)).reduce(0, &+)
    precondition(checksum == size.checksum)
    pool.terminate()
  }
}
