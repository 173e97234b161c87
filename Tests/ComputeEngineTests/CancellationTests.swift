import Foundation
import MetricsTestKit
import Multiprocessing
import Testing

@testable import ComputeEngine

#if canImport(Glibc)
  import Glibc
#endif

/// Cancelling an `async` call ends it at once and gives its job up: inputs no worker has
/// taken are not run, those running finish unobserved, and the pool goes on.
@Suite(.timeLimit(.minutes(2))) struct CancellationTests {
  /// 200 inputs (the pool's automatic chunks are then of 7 inputs).
  static let count = 200

  /// A pool of 2 workers whose kernel counts its runs of each input in `runs` and takes
  /// 100 ms — 10 s of work for a map, so that it still runs when the test, whose loops wait on
  /// cooperative threads that the suite's blocking tests can hold for seconds on two CPUs,
  /// gets to cancel it (with 20 ms, a map ran to its end first); `Int`s go on the claim board,
  /// `String`s are pushed.
  struct Probe {
    let runs: SharedArray<Int>
    let metrics = TestMetrics()
    let ints: ProcessPool<Int, Int>?
    let strings: ProcessPool<String, String>?

    init(codable: Bool, link: PoolLink) throws {
      let runs = try SharedArray(repeating: 0, count: CancellationTests.count + 3, lock: true)
      self.runs = runs
      let telemetry = PoolTelemetry(label: "cancel", metricsFactory: metrics)
      @Sendable func run(_ input: Int) -> Int {
        _ = try? runs.withLock { $0[input] += 1 }
        usleep(100_000)
        return input
      }
      if codable {
        (ints, strings) = (
          nil,
          try linkedPool(link, placement: .cores(2), telemetry: telemetry) { (text: String) in String(run(Int(text)!)) }
        )
      } else {
        (ints, strings) = (try ProcessPool<Int, Int>(placement: .cores(2), telemetry: telemetry) { run($0) }, nil)
      }
    }

    /// Maps `inputs` (pushed one at a time for strings); returns the outputs as `Int`s.
    func map(_ inputs: [Int]) async throws -> [Int] {
      if let ints { return try await ints.map(inputs) }
      return try await strings!.map(inputs.map(String.init), chunkSize: 1).map { Int($0)! }
    }

    func terminate() {
      ints?.terminate()
      strings?.terminate()
    }

    /// Waits (up to 5 s) until `jobs` jobs have finished in the pool.
    func waitForJobs(_ jobs: Int) { CancellationTests.waitForJobs(jobs, in: metrics) }

    func counter(_ name: String) throws -> Int64 {
      try metrics.expectCounter("multiprocessing_pool_tasks_\(name)", [("pool", "cancel")]).totalValue
    }
  }

  /// Inputs run at most: those started before the cancellation, and those the workers held
  /// then (a board chunk of 7 each, or a pushed chunk or two).
  static let heldAtCancellation = 16

  /// Waits (up to 30 s) until `jobs` jobs have finished in the pool that reports to `metrics`.
  static func waitForJobs(_ jobs: Int, in metrics: TestMetrics) {
    let deadline = ContinuousClock.now + .seconds(30)
    let finished = {
      (try? metrics.expectTimer("multiprocessing_pool_job_duration", [("pool", "cancel")]).values.count) ?? 0
    }
    while finished() < jobs, ContinuousClock.now < deadline { usleep(1000) }
    #expect(finished() == jobs, "jobs finished in the pool")
  }

  /// On the board (`Int`s), pushed (`String`s), and pushed over the pipe link.
  static let paths: [(codable: Bool, link: PoolLink)] = [(false, .sharedMemory), (true, .sharedMemory), (true, .pipes)]

  @Test(arguments: Self.paths)
  func cancellingAnAsyncMapGivesItsJobUp(codable: Bool, link: PoolLink) async throws {
    let probe = try Probe(codable: codable, link: link)
    defer { probe.terminate() }
    let call = Task { try await probe.map(Array(0..<Self.count)) }
    // Cancelled once the job runs (100 ms in, at the soonest): the map's task may wait for a
    // cooperative thread for long while the suite's blocking tests hold them.
    try await Task.sleep(for: .milliseconds(100))
    let running = ContinuousClock.now + .seconds(90)
    while probe.runs.prefix(Self.count).reduce(0, +) == 0, ContinuousClock.now < running {
      try await Task.sleep(for: .milliseconds(1))
    }
    call.cancel()
    // The pool's thread gives the job up as `cancel()` returns: only inputs the workers held
    // may start now.
    let atCancellation = probe.runs.prefix(Self.count).reduce(0, +)
    let outcome = await call.result
    guard case .failure(let error) = outcome, error is CancellationError else {
      Issue.record("a cancelled map should throw CancellationError, not end with \(outcome)")
      return
    }
    // The pool goes on, and the job given up finishes in it.
    #expect(try await probe.map(Array(Self.count..<Self.count + 3)) == Array(Self.count..<Self.count + 3))
    probe.waitForJobs(2)
    let ran = Array(probe.runs.prefix(Self.count))
    #expect(ran.allSatisfy { $0 <= 1 }, "runs per input: \(ran)")
    let runCount = ran.reduce(0, +)
    #expect(
      runCount - atCancellation <= Self.heldAtCancellation,
      "inputs that ran: \(atCancellation) before the cancellation, \(runCount) in all")
    // Those that did not run failed as cancelled; the others (and the next job's) succeeded.
    #expect(try probe.counter("succeeded") == Int64(runCount + 3))
    #expect(try probe.counter("failed") == Int64(Self.count - runCount))
    #expect(
      try probe.metrics.expectMeter("multiprocessing_pool_tasks_outstanding", [("pool", "cancel")]).lastValue == 0)
  }

  /// A worker that dies holding a chunk of a job given up: the chunk's pending tasks are not
  /// handed to another worker, and the job still finishes. On the board, and pushed (in
  /// chunks of 7, as the board's here).
  @Test(arguments: Self.paths)
  func aDeathAfterTheCancellationRunsNothingMore(codable: Bool, link: PoolLink) async throws {
    let count = Self.count
    let runs = try SharedArray(repeating: 0, count: count + 1, lock: true)
    let cancelled = try SharedArray(repeating: 0, count: 1, lock: true)
    let metrics = TestMetrics()
    let telemetry = PoolTelemetry(label: "cancel", metricsFactory: metrics)
    // Input 1 (in the first chunk, of 7 inputs) dies once the call is cancelled.
    @Sendable func run(_ input: Int) -> Int {
      _ = try? runs.withLock { $0[input] += 1 }
      usleep(20_000)
      if input == 1 {
        while (try? cancelled.withLock { $0[0] }) == 0 { usleep(1000) }
        kill(getpid(), SIGKILL)
      }
      return input
    }
    let ints = try ProcessPool<Int, Int>(placement: .cores(2), telemetry: telemetry) { run($0) }
    defer { ints.terminate() }
    let strings: ProcessPool<String, String> = try linkedPool(link, placement: .cores(2), telemetry: telemetry) {
      String(run(Int($0)!))
    }
    defer { strings.terminate() }
    @Sendable func map(_ inputs: [Int]) async throws -> [Int] {
      guard codable else { return try await ints.map(inputs) }
      return try await strings.map(inputs.map(String.init), chunkSize: 7).map { Int($0)! }
    }
    let call = Task { try await map(Array(0..<count)) }
    // Cancelled once input 1 has started (so that its worker holds the first chunk).
    // Long: the map's task and this loop run on the cooperative threads, which the suite's
    // blocking tests can hold for tens of seconds on two CPUs (a CI run cancelled the map
    // before it had started, after 10 s).
    let started = ContinuousClock.now + .seconds(90)
    while (try runs.withLock { $0[1] }) == 0, ContinuousClock.now < started {
      try await Task.sleep(for: .milliseconds(1))
    }
    call.cancel()
    try cancelled.withLock { $0[0] = 1 }
    guard case .failure(let error) = await call.result, error is CancellationError else {
      Issue.record("a cancelled map should throw CancellationError")
      return
    }
    Self.waitForJobs(1, in: metrics)
    #expect(try await map([count]) == [count])
    let ran = Array(runs.prefix(count))
    #expect(ran[1] == 1 && ran[2..<7].allSatisfy { $0 == 0 }, "runs of the dead worker's chunk: \(ran[0..<7])")
    #expect(ran.allSatisfy { $0 <= 1 })
  }

  @Test func aCallCancelledBeforeItStartsRunsNothing() async throws {
    let probe = try Probe(codable: false, link: .sharedMemory)
    defer { probe.terminate() }
    let call = Task {
      withUnsafeCurrentTask { $0?.cancel() }
      return try await probe.map(Array(0..<Self.count))
    }
    guard case .failure(let error) = await call.result, error is CancellationError else {
      Issue.record("a map called from a cancelled task should throw CancellationError")
      return
    }
    #expect(try await probe.map([Self.count]) == [Self.count])
    #expect(Array(probe.runs.prefix(Self.count)).allSatisfy { $0 == 0 })
  }

  /// A stream's job is given up as its consumer leaves even while the system's shared queue
  /// is busy: the pool's own thread gives it up. (Handed to that queue, the give-up waited
  /// behind its busy work, and the workers ran on meanwhile: 20 and more inputs.)
  @Test func aStreamIsGivenUpWhileTheSharedQueueIsBusy() async throws {
    let probe = try Probe(codable: false, link: .sharedMemory)
    defer { probe.terminate() }
    let blockers = 16
    var seen = 0
    for try await _ in probe.ints!.mapUnordered(Array(0..<Self.count), chunkSize: 1) {
      seen += 1
      guard seen == 3 else { continue }
      // Work that holds the shared queue's threads for 1.5 s (15 inputs' time per worker),
      // queued just before the consumer leaves: the queue makes no new threads for it here.
      for _ in 0..<blockers { DispatchQueue.global().async { usleep(1_500_000) } }
      break
    }
    let atCancellation = probe.runs.prefix(Self.count).reduce(0, +)
    probe.waitForJobs(1)
    let runCount = probe.runs.prefix(Self.count).reduce(0, +)
    #expect(
      runCount - atCancellation <= Self.heldAtCancellation,
      "inputs that ran: \(atCancellation) when the consumer stopped, \(runCount) in all")
  }

  /// A consumer that stops reading an unordered map gives its job up too.
  @Test func aConsumerThatStopsGivesAnUnorderedMapUp() async throws {
    let probe = try Probe(codable: false, link: .sharedMemory)
    defer { probe.terminate() }
    var seen = 0
    for try await _ in probe.ints!.mapUnordered(Array(0..<Self.count), chunkSize: 1) {
      seen += 1
      if seen == 3 { break }
    }
    // The loop's end dropped the stream, which gave the job up.
    let atCancellation = probe.runs.prefix(Self.count).reduce(0, +)
    probe.waitForJobs(1)
    let runCount = probe.runs.prefix(Self.count).reduce(0, +)
    #expect(
      runCount >= 3 && runCount - atCancellation <= Self.heldAtCancellation,
      "inputs that ran: \(atCancellation) when the consumer stopped, \(runCount) in all")
    #expect(try probe.counter("failed") == Int64(Self.count - runCount))
  }

  /// An unordered map that ends with its first failure gives the rest of its job up.
  @Test func anUnorderedMapEndedByAFailureGivesItsJobUp() async throws {
    let count = Self.count
    let runs = try SharedArray(repeating: 0, count: count, lock: true)
    let metrics = TestMetrics()
    let telemetry = PoolTelemetry(label: "cancel", metricsFactory: metrics)
    struct Refused: Error {}
    let pool = try ProcessPool<Int, Int>(placement: .cores(2), telemetry: telemetry) { input in
      _ = try? runs.withLock { $0[input] += 1 }
      usleep(20_000)
      if input == 3 { throw Refused() }
      return input
    }
    defer { pool.terminate() }
    var atFailure = 0
    do {
      for try await _ in pool.mapUnordered(Array(0..<count), chunkSize: 1) {}
      Issue.record("the stream should throw input 3's failure")
    } catch {
      atFailure = runs.reduce(0, +)
      #expect(error as? PoolError == .kernelFailed("Refused()"))
    }
    Self.waitForJobs(1, in: metrics)
    let runCount = runs.reduce(0, +)
    #expect(
      runCount - atFailure <= Self.heldAtCancellation,
      "inputs that ran: \(atFailure) when the stream threw, \(runCount) in all")
  }
}
