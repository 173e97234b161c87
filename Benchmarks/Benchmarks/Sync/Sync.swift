import Benchmark
import BenchmarkSupport
import Multiprocessing

/// Process-shared synchronisation. Targets on the project's 2-vCPU machine: uncontended
/// Lock acquire+release ≤ 40 ns (Python 81 ns); locked increments from two processes
/// ≥ 15 M/s with `Lock`, and `RLock` within 1.3× of `Lock` (issue 29; Python 0.95 M/s).
let benchmarks: @Sendable () -> Void = {
  BenchmarkEntryPoints.prepare()

  registerBenchmark(
    "lock-acquire+release",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .nanoseconds, scalingFactor: .mega, thresholds: BenchmarkTolerance.p90())
  ) { benchmark in
    let lock = try Lock()
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
      try lock.acquire()
      try lock.release()
    }
  }

  registerBenchmark(
    "sharedvalue-locked-increments-2x100k",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 20, thresholds: BenchmarkTolerance.p90())
  ) { benchmark in
    try lockedIncrements(try SharedValue(0))
  }

  // Issue 29's target: `RLock` (the `SharedValue` default) within 1.3 × `Lock` on the same
  // job, 2 processes × 100k locked increments, in turns of one each; the figure is RLock's
  // median over Lock's, in percent. `BENCHMARK_SLOWDOWN` stretches the RLock runs alone.
  BenchmarkRatio.register(
    "rlock-over-lock-locked-increments-2x100k", metric: "rlock-over-lock-percent", turns: 3
  ) {
    (
      [try BenchmarkSlowdown.stretched { try lockedIncrements(try SharedValue(0)) }],
      [try ContinuousClock().measure { try lockedIncrements(try SharedValue(0, lock: try Lock())) }]
    )
  }

  // The atomic increments' p90 moved ±15 % over five quiet runs.
  registerBenchmark(
    "sharedvalue-atomic-increments-2x1M",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 20, thresholds: BenchmarkTolerance.p90(30))
  ) { benchmark in
    let counter = try SharedValue(0, lock: false)
    try inTwoProcesses { for _ in 0..<1_000_000 { counter.add(1) } }
    precondition(counter.load() == 2_000_000)
  }

  registerBenchmark(
    "event-ping-pong-1000-round-trips",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .microseconds, maxIterations: 50, thresholds: BenchmarkTolerance.p90())
  ) { benchmark in
    let ping = try Multiprocessing.Event()
    let pong = try Multiprocessing.Event()
    let child = Process(startMethod: .fork) {
      BenchmarkCPUs.pin(to: 1)
      for _ in 0..<1000 {
        ping.wait()
        ping.clear()
        pong.set()
      }
    }
    try BenchmarkCPUs.on(0) {
      try child.start()
      for _ in 0..<1000 {
        ping.set()
        pong.wait()
        pong.clear()
      }
      try child.join()
    }
  }
}

/// 100k locked increments of `counter` by each of two processes.
func lockedIncrements(_ counter: SharedValue<Int>) throws {
  try inTwoProcesses { for _ in 0..<100_000 { try counter.withLock { $0 += 1 } } }
  precondition(counter.value == 200_000)
}

/// Runs `body` in two forked processes at once, each on a CPU of its own, and waits for both.
func inTwoProcesses(_ body: @escaping () throws -> Void) throws {
  let children = (0..<2).map { side in
    Process(startMethod: .fork) {
      BenchmarkCPUs.pin(to: side)
      try body()
    }
  }
  for child in children { try child.start() }
  for child in children { try child.join() }
}
