import Benchmark
import BenchmarkSupport
import Multiprocessing

/// SlotRing between two processes. Targets on the project's 2-vCPU machine: SPSC batched
/// ≥ 200 M items/s, per item ≥ 50 M/s, MPMC ≥ 20 M/s, ping-pong round trip ≤ 1 µs.
let benchmarks: @Sendable () -> Void = {
  BenchmarkEntryPoints.prepare()
  let items = 1_000_000

  for (name, batch) in [("per-item", 1), ("batches-of-64", 64)] {
    registerBenchmark(
      "spsc-\(name)-1M-items",
      configuration: .init(
        metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 20, thresholds: BenchmarkTolerance.p90())
    ) { _ in
      let ring = try SlotRing<UInt64>(capacity: 4096, mode: .singleProducerSingleConsumer)
      let producer = Process(startMethod: .fork) {
        BenchmarkCPUs.pin(to: 1)
        let values = [UInt64](repeating: 1, count: batch)
        for _ in 0..<items / batch {
          if batch == 1 { try ring.push(1) } else { try ring.push(contentsOf: values) }
        }
      }
      try BenchmarkCPUs.on(0) {
        try producer.start()
        var buffer = [UInt64](repeating: 0, count: batch)
        var received = 0
        while received < items {
          received += try buffer.withUnsafeMutableBufferPointer { try ring.pop(into: $0) }
        }
        try producer.join()
      }
    }
  }

  registerBenchmark(
    "mpmc-2-producers-1M-items",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 20, thresholds: BenchmarkTolerance.p90())
  ) { _ in
    let ring = try SlotRing<UInt64>(capacity: 4096, mode: .multiProducerMultiConsumer)
    let producers = (0..<2).map { _ in
      Process(startMethod: .fork) {
        BenchmarkCPUs.pin(to: 1)
        for _ in 0..<items / 2 { try ring.push(1) }
      }
    }
    try BenchmarkCPUs.on(0) {
      for producer in producers { try producer.start() }
      for _ in 0..<items { _ = ring.pop() }
      for producer in producers { try producer.join() }
    }
  }

  registerBenchmark(
    "ping-pong-10k-round-trips",
    configuration: .init(
      metrics: [.wallClock], timeUnits: .milliseconds, maxIterations: 20, thresholds: BenchmarkTolerance.p90())
  ) { _ in
    let there = try SlotRing<UInt64>(capacity: 16, mode: .singleProducerSingleConsumer)
    let back = try SlotRing<UInt64>(capacity: 16, mode: .singleProducerSingleConsumer)
    let echo = Process(startMethod: .fork) {
      BenchmarkCPUs.pin(to: 1)
      while let value = there.pop() { try back.push(value) }
    }
    try BenchmarkCPUs.on(0) {
      try echo.start()
      for round in 0..<10_000 {
        try there.push(UInt64(round))
        _ = back.pop()
      }
      there.close()
      try echo.join()
    }
  }
}
