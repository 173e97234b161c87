import Foundation
import Multiprocessing
import SystemCalls

/// Channels of typed slots, for `BitwiseCopyable` inputs and outputs: no serialisation, and
/// whole batches copied as bytes. The worker's status is a shared line (``SharedStatus``).
final class SlotChannels<Input: BitwiseCopyable, Output: BitwiseCopyable>: WorkerTransport, WorkerLink,
  @unchecked Sendable
{
  // @unchecked: each instance is one end, used by one thread (the dispatcher's, under the
  // pool's lock, or the worker's).
  struct Handles: Codable {
    var tasks: SlotRing<TaskSlot<Input>>.Handle
    var results: SlotRing<ResultSlot<Output>>.Handle
    var failures: ByteRing.Handle
    var status: SharedStatus.Handle
  }

  let tasks: SlotRing<TaskSlot<Input>>
  let results: SlotRing<ResultSlot<Output>>
  let failures: ByteRing
  /// The worker's status line, and the doorbell it rings.
  let shared: SharedStatus
  private let taskBuffer = UnsafeMutableBufferPointer<TaskSlot<Input>>.allocate(capacity: PoolLimits.maxChunk)
  private let resultBuffer = UnsafeMutableBufferPointer<ResultSlot<Output>>.allocate(capacity: PoolLimits.maxChunk)
  /// Worker: the outputs kept in `resultBuffer` since the last flush.
  private var produced = 0

  init(capacity: Int, shared: SharedStatus) throws {
    self.shared = shared
    tasks = try SlotRing(capacity: capacity, mode: .singleProducerSingleConsumer)
    results = try SlotRing(capacity: capacity, mode: .singleProducerSingleConsumer)
    failures = try ByteRing(capacity: 64 * 1024)
    // A worker reports a kernel's error through a byte ring: run that path once here, before
    // any fork (see MessageChannels.warmUp).
    _ = try? BinaryEncoder().encode(TaskFailure(index: TaskID(rawValue: 0), message: ""))
  }

  /// Decodes a worker's ``handleData``; the returned closure opens the channels (in the
  /// worker: the decoding may run where it is forked from, see ``PoolKernel/prepareRun(encodedArguments:)``).
  static func opener(_ handleData: Data) throws -> () throws -> SlotChannels {
    let handles = try BinaryDecoder().decode(Handles.self, from: handleData)
    return { try SlotChannels(handles) }
  }

  private init(_ handles: Handles) throws {
    tasks = try SlotRing(handles.tasks)
    results = try SlotRing(handles.results)
    failures = try ByteRing(handles.failures)
    shared = try SharedStatus(handles.status)
  }

  deinit {
    taskBuffer.deallocate()
    resultBuffer.deallocate()
  }

  var handleData: Data {
    // Handles are plain Codable values: encoding cannot fail.
    try! BinaryEncoder().encode(
      Handles(tasks: tasks.handle, results: results.handle, failures: failures.handle, status: shared.handle))
  }

  var hasResults: Bool { results.count > 0 || failures.hasData }
  var resultsNeverWait: Bool { true }
  var status: WorkerStatus { shared.status() }
  var startFailure: String? { shared.startFailure }
  var wakeDescriptor: Int32? { nil }

  func send(jobID: Int, range: Range<Int>, inputs: [Input], mayWait: Bool, workerGone: () -> Bool) throws {
    // Chunks are at most PoolLimits.maxChunk long.
    for (position, local) in range.enumerated() {
      taskBuffer[position] = TaskSlot(index: TaskID(job: jobID, local: local), input: inputs[local])
    }
    try tasks.push(contentsOf: UnsafeBufferPointer(rebasing: taskBuffer[0..<range.count]))
  }

  func drain(
    succeed: (TaskID, Output) -> Void, succeedRun: (OutputRun) -> Void, fail: (TaskID, PoolError) -> Void
  ) {
    let slotStride = MemoryLayout<ResultSlot<Output>>.stride
    let outputOffset = MemoryLayout<ResultSlot<Output>>.offset(of: \.output)!
    while true {
      let count = results.tryPop(into: resultBuffer)
      guard count > 0 else { break }
      // Results of one chunk come back in order: hand over each run of consecutive tasks.
      var start = 0
      while start < count {
        let first = resultBuffer[start].index
        var end = start + 1
        while end < count, resultBuffer[end].index == first.advanced(by: end - start) { end += 1 }
        succeedRun(
          OutputRun(
            firstIndex: first, count: end - start,
            outputs: UnsafeRawPointer(resultBuffer.baseAddress! + start) + outputOffset, stride: slotStride,
            byteCount: MemoryLayout<Output>.size))
        start = end
      }
    }
    while failures.hasData, let failure = try? failures.receive(TaskFailure.self, timeout: drainTimeout) {
      fail(failure.index, failure.error)
    }
  }

  func close() {
    tasks.close()
  }

  func sendBoardMarker() {
    // Only the task's number is read from a marker: its input bytes stay zero.
    let slot = UnsafeMutableRawPointer(taskBuffer.baseAddress!)
    slot.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<TaskSlot<Input>>.stride)
    slot.storeBytes(
      of: TaskID(rawValue: 0), toByteOffset: MemoryLayout<TaskSlot<Input>>.offset(of: \.index)!, as: TaskID.self)
    // The pool uses the board only while no other job is out, so the ring has room; it is
    // closed only once the pool shuts down, when the marker no longer matters.
    _ = try? tasks.tryPush(taskBuffer[0])
  }

  // MARK: The worker's end

  func receive(upTo limit: Int, spin: Duration) throws -> ReceivedTasks? {
    // The received tasks go where the parent's end would gather a chunk to send.
    let room = UnsafeMutableBufferPointer(start: taskBuffer.baseAddress, count: min(limit, taskBuffer.count))
    let count = try tasks.pop(into: room, spin: spin, yielding: true)
    return count > 0 ? ReceivedTasks(runnable: count, taken: count) : nil
  }

  func run(
    _ kernel: (Input) throws -> Output, count: Int, wakeParent: () -> Void, willRun: (TaskID) throws -> Bool,
    didRun: (Int) throws -> Void
  ) throws {
    for position in 0..<count {
      let task = taskBuffer[position].index
      guard try willRun(task) else { continue }
      do {
        // A batch holds at most PoolLimits.maxChunk tasks, and the runtime flushes after each.
        resultBuffer[produced] = ResultSlot(index: task, output: try kernel(taskBuffer[position].input))
        produced += 1
      } catch {
        try fail(task, message: "\(error)", wakeParent: wakeParent)
      }
      try didRun(position)
    }
  }

  /// Sends a task's failure at once, having woken the parent first: the failure ring may be
  /// full, and only the parent makes room (an `async` job on the board has no caller
  /// collecting, and the pool's thread may sleep without a timeout).
  func fail(_ task: TaskID, message: String, wakeParent: () -> Void) throws {
    wakeParent()
    try failures.send(TaskFailure(index: task, message: message))
  }

  func flush() throws -> Bool {
    guard produced > 0 else { return false }
    try results.push(contentsOf: UnsafeBufferPointer(start: resultBuffer.baseAddress, count: produced))
    produced = 0
    return true
  }

  func status(timed: Bool) -> WorkerStatus { shared.status(timed: timed) }
  func reportIn() { shared.status().reportedIn = true }
  func reportStartFailure(_ message: String) { shared.recordStartFailure(message) }
  func wakeParent() { shared.wakeParent() }
  var callerCollects: Bool { shared.callerCollects }
}

extension SlotChannels.Handles {
  /// Decodes the handles in order, as ``encode(to:)`` wrote them.
  init(from decoder: any Decoder) throws {
    var fields = try decoder.unkeyedContainer()
    tasks = try fields.decode(SlotRing<TaskSlot<Input>>.Handle.self)
    results = try fields.decode(SlotRing<ResultSlot<Output>>.Handle.self)
    failures = try fields.decode(ByteRing.Handle.self)
    status = try fields.decode(SharedStatus.Handle.self)
  }

  /// Encodes the handles in order, without keys (as ``SharedStatus/Handle``).
  func encode(to encoder: any Encoder) throws {
    var fields = encoder.unkeyedContainer()
    try fields.encode(tasks)
    try fields.encode(results)
    try fields.encode(failures)
    try fields.encode(status)
  }
}
