import ComputeEngine
import Foundation
import Logging
import MetricsTestKit
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A pool reports deaths, replacements and timeouts to the logger and metrics it is given.
@Suite(.timeLimit(.minutes(2))) struct PoolTelemetryTests {
  @Test func aDeadWorkerIsCountedLoggedAndReplaced() throws {
    let metrics = TestMetrics()
    let log = LogRecorder()
    let telemetry = PoolTelemetry(label: "solver", logger: Logger(label: "test") { _ in log }, metricsFactory: metrics)
    let pool = try ProcessPool<Int, Int>(telemetry: telemetry) { value in
      if value == 13 { kill(getpid(), SIGKILL) }
      return value * 2
    }
    defer { pool.terminate() }
    let results = try pool.mapResults(Array(0..<40), chunkSize: 4)
    #expect(results.filter { (try? $0.get()) == nil }.count == 1)
    let dimensions = [("pool", "solver")]
    #expect(try metrics.expectCounter("multiprocessing_pool_tasks_succeeded", dimensions).totalValue == 39)
    #expect(try metrics.expectCounter("multiprocessing_pool_tasks_failed", dimensions).totalValue == 1)
    #expect(try metrics.expectCounter("multiprocessing_pool_workers_died", dimensions).totalValue == 1)
    #expect(try metrics.expectTimer("multiprocessing_pool_job_duration", dimensions).values.count == 1)
    #expect(try metrics.expectMeter("multiprocessing_pool_tasks_outstanding", dimensions).lastValue == 0)
    // The task fails before its slot is refilled: wait for the replacement.
    let deadline = ContinuousClock.now + .seconds(5)
    let replaced = { (try? metrics.expectCounter("multiprocessing_pool_workers_replaced", dimensions).totalValue) ?? 0 }
    while replaced() < 1, ContinuousClock.now < deadline { usleep(1000) }
    #expect(replaced() == 1)

    let ended = log.events.filter { $0.message == "a pool worker ended" }
    #expect(ended.count == 1)
    #expect(ended.first?.level == .warning)
    #expect(ended.first?.metadata["status"]?.hasPrefix("killed by signal 9") == true, "\(ended)")
    #expect(ended.first?.metadata["pool"] == "solver")
    #expect(ended.first?.metadata["pid"].map { Int32("\($0)") != nil } == true)
    #expect(log.events.contains { $0.message == "replaced a pool worker" && $0.level == .notice })
  }

  @Test func aTimedOutTaskIsCountedAndLogged() throws {
    let metrics = TestMetrics()
    let log = LogRecorder()
    let pool = try ProcessPool<Int, Int>(
      taskTimeout: .milliseconds(200),
      telemetry: PoolTelemetry(logger: Logger(label: "test") { _ in log }, metricsFactory: metrics)
    ) { value in
      if value == 1 { sleep(30) }
      return value
    }
    defer { pool.terminate() }
    let results = try pool.mapResults([0, 1, 2], chunkSize: 1)
    guard case .failure(.taskTimedOut) = results[1] else {
      Issue.record("expected a timeout, got \(results[1])")
      return
    }
    #expect(try metrics.expectCounter("multiprocessing_pool_tasks_timed_out", [("pool", "pool")]).totalValue == 1)
    #expect(try metrics.expectCounter("multiprocessing_pool_tasks_failed", [("pool", "pool")]).totalValue == 1)
    let killed = log.events.filter { $0.message == "killed a pool worker whose task ran past the timeout" }
    #expect(killed.count == 1 && killed.first?.level == .warning)
    #expect(killed.first?.metadata["task"] == "job 1, task 1", "\(killed)")
  }
}

/// A log handler that keeps every event.
final class LogRecorder: LogHandler, @unchecked Sendable {
  // @unchecked: `recorded` is guarded by `lock`; the settings are set once, before use.
  struct Event {
    let level: Logger.Level
    let message: String
    let metadata: [String: String]
  }
  private let lock = NSLock()
  private var recorded: [Event] = []
  var metadata: Logger.Metadata = [:]
  var logLevel: Logger.Level = .trace

  var events: [Event] { lock.withLock { recorded } }

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    let merged = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
    lock.withLock { recorded.append(Event(level: event.level, message: "\(event.message)", metadata: merged)) }
  }
}
