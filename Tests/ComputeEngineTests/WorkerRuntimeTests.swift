import Foundation
import Testing

@testable import ComputeEngine

/// The worker's loop over a link that lives in memory: what the runtime does is the same
/// whatever carries the tasks, so a link of plain arrays shows it without a process.
@Suite struct WorkerRuntimeTests {
  /// A link whose tasks come from a list of batches, and whose outputs, failures and
  /// flushes are recorded.
  final class MemoryLink: WorkerLink {
    var batches: [[(TaskID, Int)]]
    var received: [(TaskID, Int)] = []
    var kept: [(TaskID, Int)] = []
    var sent: [[(TaskID, Int)]] = []
    var failures: [(TaskID, String)] = []
    var limits: [Int] = []
    /// The worker's status line, kept in this process.
    let line = InBandStatus()
    var startFailure: String?

    init(batches: [[(TaskID, Int)]]) { self.batches = batches }

    func status(timed: Bool) -> WorkerStatus { line.status(timed: timed) }
    func reportIn() { line.status().reportedIn = true }
    func reportStartFailure(_ message: String) { startFailure = message }
    func wakeParent() {}
    var callerCollects: Bool { false }

    func receive(upTo limit: Int, spin: Duration) throws -> ReceivedTasks? {
      limits.append(limit)
      guard !batches.isEmpty else { return nil }
      received = Array(batches.removeFirst().prefix(limit))
      return ReceivedTasks(runnable: received.count, taken: received.count)
    }

    func run(
      _ kernel: (Int) throws -> Int, count: Int, wakeParent: () -> Void, willRun: (TaskID) throws -> Bool,
      didRun: (Int) throws -> Void
    ) throws {
      for position in 0..<count {
        let (task, input) = received[position]
        guard try willRun(task) else { continue }
        do { kept.append((task, try kernel(input))) } catch {
          try fail(task, message: "\(error)", wakeParent: wakeParent)
        }
        try didRun(position)
      }
    }

    func fail(_ task: TaskID, message: String, wakeParent: () -> Void) throws {
      failures.append((task, message))
    }

    func flush() throws -> Bool {
      guard !kept.isEmpty else { return false }
      sent.append(kept)
      kept = []
      return true
    }
  }

  struct Odd: Error, CustomStringConvertible {
    var description: String { "odd" }
  }

  static func tasks(job: Int, _ inputs: Range<Int>) -> [(TaskID, Int)] {
    inputs.map { (TaskID(job: job, local: $0), $0) }
  }

  @Test func everyTaskRunsOnceItsOutputsGoBackPerBatchAndFailuresAreReported() throws {
    let link = MemoryLink(batches: [Self.tasks(job: 1, 0..<3), Self.tasks(job: 1, 3..<20)])
    var wakes = 0
    let runtime = WorkerRuntime<Int, Int>(
      chunkSize: 1024, maxTasks: nil, spin: .zero, status: link.status(timed: true), claimBoard: nil,
      kernel: { input in
        if input % 5 == 4 { throw Odd() }
        return input * 10
      }, wakeParent: { wakes += 1 })
    try runtime.serve(link)
    #expect(link.sent.map { $0.map(\.0.local) } == [[0, 1, 2], [3, 5, 6, 7, 8, 10, 11, 12, 13, 15, 16, 17, 18]])
    #expect(link.sent.joined().allSatisfy { $0.1 == $0.0.local * 10 })
    #expect(link.failures.map(\.0.local) == [4, 9, 14, 19])
    #expect(link.failures.allSatisfy { $0.1 == "odd" })
    #expect(wakes == 2, "one wake-up per batch sent")
    #expect(link.line.status().current == -1, "no task marked running once served")
    #expect(link.line.status().taskNanoseconds > 0, "the tasks were timed for the dispatcher")
  }

  @Test func theQuotaLimitsWhatIsTakenAndEndsTheLoop() throws {
    let link = MemoryLink(batches: [Self.tasks(job: 2, 0..<3), Self.tasks(job: 2, 3..<6), Self.tasks(job: 2, 6..<9)])
    let runtime = WorkerRuntime<Int, Int>(
      chunkSize: 1024, maxTasks: 5, spin: .zero, status: link.status(timed: true), claimBoard: nil, kernel: { $0 },
      wakeParent: {})
    try runtime.serve(link)
    #expect(link.limits == [5, 2], "never more than the quota left")
    #expect(link.sent.joined().map(\.0.local) == [0, 1, 2, 3, 4])
    #expect(link.batches.count == 1, "the loop ended at the quota, leaving the last batch")
  }

  @Test func aMarkerClaimsTheBoardInsteadOfRunningTheKernel() throws {
    let link = MemoryLink(batches: [[(TaskID(rawValue: 0), 0)] + Self.tasks(job: 3, 0..<2)])
    var claims = 0
    var ran: [Int] = []
    let runtime = WorkerRuntime<Int, Int>(
      chunkSize: 1024, maxTasks: nil, spin: .zero, status: link.status(timed: true),
      claimBoard: { fail in
        claims += 1
        try fail(TaskID(job: 9, local: 1), "from the board")
        return false
      },
      kernel: { input in
        ran.append(input)
        return input
      }, wakeParent: {})
    try runtime.serve(link)
    #expect(claims == 1)
    #expect(ran == [0, 1], "the marker's input never reached the kernel")
    #expect(link.failures.map(\.1) == ["from the board"], "the board's failures go through the link")
  }
}
