import Foundation
import Multiprocessing

/// Channels of binary-encoded messages (`BinaryEncoder`), for `Codable` inputs and outputs of
/// any size: a chunk's tasks one way, its outputs and failures the other, each message through
/// a ``MessagePipe``. The worker's status is a shared line (``SharedStatus``, over the rings)
/// or comes in the messages (``InBandStatus``, over the pipes).
final class MessageChannels<Input: Codable, Output: Codable, Pipe: MessagePipe>: WorkerTransport, WorkerLink,
  @unchecked Sendable
{
  // @unchecked: each instance is one end, used by one thread (the dispatcher's, under the
  // pool's lock, or the worker's).
  struct Handles: Codable {
    var tasks: Pipe.Handle
    var results: Pipe.Handle
    /// The shared status line; nil: the status comes in the messages.
    var status: SharedStatus.Handle?
  }

  /// Where the worker's status is: a line both ends map (with the doorbell the worker rings),
  /// or a line at each end that the worker's messages carry across.
  enum StatusRoute {
    case shared(SharedStatus)
    case inBand(InBandStatus)

    var shared: SharedStatus? { if case .shared(let status) = self { status } else { nil } }
    var inBand: InBandStatus? { if case .inBand(let status) = self { status } else { nil } }

    /// This end's line.
    func status(timed: Bool = true) -> WorkerStatus {
      switch self {
      case .shared(let status): status.status(timed: timed)
      case .inBand(let status): status.status(timed: timed)
      }
    }

    /// Why the worker could not start, if it said.
    var startFailure: String? {
      switch self {
      case .shared(let status): status.startFailure
      case .inBand(let status): status.startFailure
      }
    }

    /// The route for `shared`, a line; nil: the messages.
    init(_ shared: SharedStatus?) { self = shared.map(Self.shared) ?? .inBand(InBandStatus()) }
  }

  let tasks: Pipe
  let results: Pipe
  let route: StatusRoute
  /// Worker: the chunks received last, as decoded, and the outputs and failures not yet sent.
  /// Only the worker's one thread touches them: unchecked, each task's two appends no longer
  /// pay for a dynamic exclusivity check (Codable kernel, same-run A/B: 0.81 -> 0.78 µs per
  /// task, as before the worker runtime; at chunk size 1, 5.2 -> 4.6 µs).
  @exclusivity(unchecked) private var received: [TaskBatch<Input>] = []
  @exclusivity(unchecked) private var replies = ResultMessage<Output>()

  /// New channels; `shared`: the worker's status line, or nil to send the status in the
  /// messages (for pipes that can be polled: the pool's thread is then woken by the results).
  init(capacity: Int, shared: SharedStatus?) throws {
    tasks = try Pipe(capacity: capacity)
    results = try Pipe(capacity: capacity)
    route = StatusRoute(shared)
    Self.warmUp()
  }

  /// Runs the encoding paths a worker takes, once, in the parent before any worker is forked.
  ///
  /// A forked child has only the thread that forked; if another thread of the parent held
  /// the Swift runtime's metadata lock at that moment, the child deadlocks the first time it
  /// instantiates generic metadata the parent never did (seen with JSON's keyed containers).
  /// Metadata the parent already made is found without that lock.
  private static func warmUp() {
    let encoder = BinaryEncoder()
    let decoder = BinaryDecoder()
    let tasks = TaskBatch<Input>(first: TaskID(rawValue: 0), inputs: [])
    let results = ResultMessage<Output>(
      indices: [], outputs: [], failures: [TaskFailure(index: TaskID(rawValue: 0), message: "")],
      status: StatusReport(current: -1, startedAt: 0, taskNanoseconds: 0, reportedIn: true, startFailure: ""))
    if let bytes = try? encoder.encode(tasks) {
      _ = try? decoder.decode(TaskBatch<Input>.self, from: bytes)
      _ = try? decoder.decode(LenientTaskBatch<Input>.self, from: bytes)
    }
    if let bytes = try? encoder.encode(results) {
      _ = try? decoder.decode(ResultMessage<Output>.self, from: bytes)
      _ = try? decoder.decode(LenientResultMessage<Output>.self, from: bytes)
    }
  }

  /// Decodes a worker's ``handleData``; the returned closure opens the channels (in the
  /// worker: the decoding may run where it is forked from, see ``PoolKernel/prepareRun(encodedArguments:)``).
  static func opener(_ handleData: Data) throws -> () throws -> MessageChannels {
    let handles = try BinaryDecoder().decode(Handles.self, from: handleData)
    return { try MessageChannels(handles) }
  }

  private init(_ handles: Handles) throws {
    tasks = try Pipe(handles.tasks)
    results = try Pipe(handles.results)
    route = StatusRoute(try handles.status.map(SharedStatus.init))
  }

  var handleData: Data {
    // Handles are plain Codable values: encoding cannot fail.
    try! BinaryEncoder().encode(Handles(tasks: tasks.handle, results: results.handle, status: route.shared?.handle))
  }

  var hasResults: Bool { results.hasData }
  var resultsNeverWait: Bool { false }
  var status: WorkerStatus { route.status() }
  var startFailure: String? { route.startFailure }
  var wakeDescriptor: Int32? { route.inBand == nil ? nil : results.pollDescriptor }

  func send(jobID: Int, range: Range<Int>, inputs: [Input], mayWait: Bool, workerGone: () -> Bool) throws {
    let message: Data
    do {
      message = try BinaryEncoder().encode(
        TaskBatch(first: TaskID(job: jobID, local: range.lowerBound), inputs: Array(inputs[range])))
    } catch let error as EncodingError {
      // Nothing was written (a message is encoded before it is sent). Find the inputs at
      // fault, so that only their tasks fail.
      var reasons: [Int: String] = [:]
      for local in range { reasons[local] = encodingFailure(of: inputs[local]) }
      throw UnsendableInputs(reasons: reasons, error: "\(error)")
    }
    guard mayWait || message.count + 8 <= tasks.freeBytes else { throw WorkerBusy() }
    try withoutActuallyEscaping(workerGone) { try tasks.send(message, timeout: nil, peerGone: $0) }
  }

  func drain(
    succeed: (TaskID, Output) -> Void, succeedRun: (OutputRun) -> Void, fail: (TaskID, PoolError) -> Void
  ) {
    while results.hasData, let bytes = try? results.receive(timeout: drainTimeout) {
      // Plain indices: this code runs unspecialised, where iterators and tuples cost a
      // metadata lookup per element.
      let failures: [TaskFailure]
      let report: StatusReport?
      if let message = try? BinaryDecoder().decode(ResultMessage<Output>.self, from: bytes) {
        for position in 0..<min(message.indices.count, message.outputs.count) {
          succeed(message.indices[position], message.outputs[position])
        }
        failures = message.failures
        report = message.status
      } else if let message = try? BinaryDecoder().decode(LenientResultMessage<Output>.self, from: bytes) {
        // Decoded again output by output, so that only the outputs at fault fail.
        for position in 0..<min(message.indices.count, message.outputs.count) {
          if let output = message.outputs[position].value {
            succeed(message.indices[position], output)
          } else {
            let reason = "the output could not be decoded: \(message.outputs[position].error ?? "")"
            fail(message.indices[position], .codingFailed(reason))
          }
        }
        failures = message.failures
        report = message.status
      } else {
        continue  // Only damaged bytes get here: both ends are this code.
      }
      if let report { route.inBand?.apply(report) }
      for position in 0..<failures.count { fail(failures[position].index, failures[position].error) }
    }
  }

  func close() {
    tasks.close()
  }

  func sendBoardMarker() {}

  // MARK: The worker's end

  func receive(upTo limit: Int, spin: Duration) throws -> ReceivedTasks? {
    received.removeAll(keepingCapacity: true)
    // A message is one chunk. The worker takes every chunk already there (as a slot ring's
    // pop takes every task), while fewer than `limit` tasks were taken.
    guard var message = try tasks.receive(spin: spin, yielding: true) else { return nil }
    var (taken, runnable) = (0, 0)
    while true {
      let (count, decoded) = try decode(message)
      taken += count
      runnable += decoded
      guard taken < limit, tasks.hasData, let next = try tasks.receive(spin: spin, yielding: true) else { break }
      message = next
    }
    return ReceivedTasks(runnable: runnable, taken: taken)
  }

  /// Adds the tasks of one message to those received; returns how many it held and how many
  /// of them were decoded. Those whose input cannot be decoded fail with the next flush.
  private func decode(_ message: Data) throws -> (count: Int, decoded: Int) {
    do {
      let batch = try BinaryDecoder().decode(TaskBatch<Input>.self, from: message)
      received.append(batch)
      return (batch.inputs.count, batch.inputs.count)
    } catch is DecodingError {
      // Decoded again input by input, so that only the inputs at fault fail.
      let batch = try BinaryDecoder().decode(LenientTaskBatch<Input>.self, from: message)
      var decoded = 0
      for offset in 0..<batch.inputs.count {
        if let input = batch.inputs[offset].value {
          received.append(TaskBatch(first: batch.first.advanced(by: offset), inputs: [input]))
          decoded += 1
        } else {
          let reason = "the input could not be decoded: \(batch.inputs[offset].error ?? "")"
          replies.failures.append(TaskFailure(index: batch.first.advanced(by: offset), message: reason, coding: true))
        }
      }
      return (batch.inputs.count, decoded)
    }
  }

  func run(
    _ kernel: (Input) throws -> Output, count: Int, wakeParent: () -> Void, willRun: (TaskID) throws -> Bool,
    didRun: (Int) throws -> Void
  ) throws {
    // Plain indices: this code runs unspecialised, where iterators cost a metadata lookup
    // per element.
    var position = 0
    for chunk in 0..<received.count {
      let first = received[chunk].first
      let inputs = received[chunk].inputs
      for offset in 0..<inputs.count {
        guard position < count else { return }
        let task = first.advanced(by: offset)
        if try willRun(task) {
          // Over a link without a shared line, the pool learns of the task before it runs,
          // so that it knows which task a worker that dies was running.
          if let report = route.inBand?.report() { try results.send(ResultMessage<Output>(status: report)) }
          do {
            replies.outputs.append(try kernel(inputs[offset]))
            replies.indices.append(task)
          } catch {
            fail(task, message: "\(error)", wakeParent: wakeParent)
          }
          try didRun(position)
        }
        position += 1
      }
    }
  }

  /// Holds the failure for the next flush: the results and failures go in one message.
  func fail(_ task: TaskID, message: String, wakeParent: () -> Void) {
    replies.failures.append(TaskFailure(index: task, message: message))
  }

  func flush() throws -> Bool {
    if let inBand = route.inBand { replies.status = inBand.report() }
    guard !replies.indices.isEmpty || !replies.failures.isEmpty || replies.status != nil else { return false }
    do {
      try results.send(replies)
    } catch is EncodingError {
      // Nothing was written. The outputs that cannot be encoded become their tasks' failures.
      var kept = ResultMessage<Output>(failures: replies.failures, status: replies.status)
      for position in 0..<replies.outputs.count {
        if let reason = encodingFailure(of: replies.outputs[position]) {
          kept.failures.append(TaskFailure(index: replies.indices[position], message: reason, coding: true))
        } else {
          kept.indices.append(replies.indices[position])
          kept.outputs.append(replies.outputs[position])
        }
      }
      try results.send(kept)
    }
    replies = ResultMessage()
    return true
  }

  func status(timed: Bool) -> WorkerStatus { route.status(timed: timed) }

  func reportIn() throws {
    status(timed: false).reportedIn = true
    if let report = route.inBand?.report() { try results.send(ResultMessage<Output>(status: report)) }
  }

  func reportStartFailure(_ message: String) {
    switch route {
    case .shared(let status): status.recordStartFailure(message)
    case .inBand(let status):
      guard var report = status.report(always: true) else { return }
      report.startFailure = message
      // The worker ends next: a report that cannot go leaves the pool with its exit status.
      try? results.send(ResultMessage<Output>(status: report), timeout: drainTimeout)
    }
  }

  func wakeParent() { route.shared?.wakeParent() }

  var callerCollects: Bool { route.shared?.callerCollects ?? false }
}

/// The `Codable` channels through shared-memory rings: what pools of `Codable` values use.
typealias ByteChannels<Input: Codable, Output: Codable> = MessageChannels<Input, Output, ByteRing>

/// The same messages through operating-system pipes: the pool's second link, which its
/// behavioural tests run over too (``PoolLink/pipes``).
typealias PipeChannels<Input: Codable, Output: Codable> = MessageChannels<Input, Output, SystemPipe>
