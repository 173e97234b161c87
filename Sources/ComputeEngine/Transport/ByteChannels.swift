import Foundation
import Multiprocessing

/// Channels of binary-encoded messages (`BinaryEncoder`), for `Codable` inputs and outputs of
/// any size.
final class ByteChannels<Input: Codable, Output: Codable>: WorkerTransport, @unchecked Sendable {
  struct Handles: Codable {
    var tasks: ByteRing.Handle
    var results: ByteRing.Handle
  }

  let tasks: ByteRing
  let results: ByteRing

  init(capacity: Int) throws {
    tasks = try ByteRing(capacity: capacity)
    results = try ByteRing(capacity: capacity)
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
      indices: [], outputs: [], failures: [TaskFailure(index: TaskID(rawValue: 0), message: "")])
    if let bytes = try? encoder.encode(tasks) {
      _ = try? decoder.decode(TaskBatch<Input>.self, from: bytes)
      _ = try? decoder.decode(LenientTaskBatch<Input>.self, from: bytes)
    }
    if let bytes = try? encoder.encode(results) {
      _ = try? decoder.decode(ResultMessage<Output>.self, from: bytes)
      _ = try? decoder.decode(LenientResultMessage<Output>.self, from: bytes)
    }
  }

  init(handleData: Data) throws {
    let handles = try BinaryDecoder().decode(Handles.self, from: handleData)
    tasks = try ByteRing(handles.tasks)
    results = try ByteRing(handles.results)
  }

  var handleData: Data {
    // Handles are plain Codable values: encoding cannot fail.
    try! BinaryEncoder().encode(Handles(tasks: tasks.handle, results: results.handle))
  }

  var hasResults: Bool { results.hasData }
  var resultsNeverWait: Bool { false }

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
    try withoutActuallyEscaping(workerGone) { try tasks.send(message, peerGone: $0) }
  }

  func drain(
    succeed: (TaskID, Output) -> Void, succeedRun: (OutputRun) -> Void, fail: (TaskID, PoolError) -> Void
  ) {
    while results.hasData, let bytes = try? results.receive(timeout: drainTimeout) {
      // Plain indices: this code runs unspecialised, where iterators and tuples cost a
      // metadata lookup per element.
      let failures: [TaskFailure]
      if let message = try? BinaryDecoder().decode(ResultMessage<Output>.self, from: bytes) {
        for position in 0..<min(message.indices.count, message.outputs.count) {
          succeed(message.indices[position], message.outputs[position])
        }
        failures = message.failures
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
      } else {
        continue  // Only damaged bytes get here: both ends are this code.
      }
      for position in 0..<failures.count { fail(failures[position].index, failures[position].error) }
    }
  }

  func close() {
    tasks.close()
  }

  func sendBoardMarker() {}

  func serve(
    chunkSize: Int, maxTasks: Int?, spin: Duration, status: WorkerStatus, board: BoardRole?,
    kernel: (Input) throws -> Output, wakeParent: () -> Void
  ) throws {
    var processed = 0
    var replies = ResultMessage<Output>()
    var lastSent = monotonicNanoseconds()
    func send() throws {
      do {
        try results.send(replies)
      } catch is EncodingError {
        // Nothing was written. The outputs that cannot be encoded become their tasks' failures.
        var kept = ResultMessage<Output>(failures: replies.failures)
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
      lastSent = monotonicNanoseconds()
      wakeParent()
    }
    func run(_ index: TaskID, _ input: Input) {
      status.start(index)
      do {
        replies.outputs.append(try kernel(input))
        replies.indices.append(index)
      } catch {
        replies.failures.append(TaskFailure(index: index, message: "\(error)"))
      }
    }
    var started = 0
    /// Runs the tasks of one message; returns how many it held, nil at the end.
    func runMessage() throws -> Int? {
      // Politely, as the slot channels' workers wait (see `SlotChannels.serve`).
      guard let message = try tasks.receive(spin: spin, yielding: true) else { return nil }
      started = monotonicNanoseconds()
      do {
        let batch = try BinaryDecoder().decode(TaskBatch<Input>.self, from: message)
        for offset in 0..<batch.inputs.count { run(batch.first.advanced(by: offset), batch.inputs[offset]) }
        return batch.inputs.count
      } catch is DecodingError {
        // Decoded again input by input, so that only the inputs at fault fail.
        let batch = try BinaryDecoder().decode(LenientTaskBatch<Input>.self, from: message)
        for offset in 0..<batch.inputs.count {
          if let input = batch.inputs[offset].value {
            run(batch.first.advanced(by: offset), input)
          } else {
            let reason = "the input could not be decoded: \(batch.inputs[offset].error ?? "")"
            replies.failures.append(TaskFailure(index: batch.first.advanced(by: offset), message: reason, coding: true))
          }
        }
        return batch.inputs.count
      }
    }
    // A message is one chunk. The worker takes every chunk already there (as a slot ring's
    // pop takes every task), times them for the dispatcher, and answers them in one message,
    // or every ``PoolLimits/longTaskNanoseconds`` when they take longer.
    while var count = try runMessage() {
      var taken = 0
      while true {
        let now = monotonicNanoseconds()
        status.taskNanoseconds = max(1, (now - started) / max(1, count))
        status.current = -1
        taken += count
        processed += count
        if now - lastSent >= PoolLimits.longTaskNanoseconds { try send() }
        if let maxTasks, processed >= maxTasks { break }
        guard taken < chunkSize, tasks.hasData, let next = try runMessage() else { break }
        count = next
      }
      if !replies.indices.isEmpty || !replies.failures.isEmpty { try send() }
      if let maxTasks, processed >= maxTasks { return }
    }
  }
}
