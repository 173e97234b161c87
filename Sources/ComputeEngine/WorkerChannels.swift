import Foundation
import Multiprocessing

/// How long the dispatcher waits for the rest of a message a worker has begun to write; a
/// worker that dies in the middle of one is handled as dead.
let drainTimeout = Duration.seconds(2)

extension PoolError {
  /// The kernel's own message for ``kernelFailed(_:)``, else the description.
  var message: String {
    if case .kernelFailed(let message) = self { return message }
    return description
  }
}

/// One task: its number in the pool and its input.
struct TaskSlot<Input: BitwiseCopyable>: BitwiseCopyable {
  var index: Int
  var input: Input
}

/// One successful result: the task's number and its output.
struct ResultSlot<Output: BitwiseCopyable>: BitwiseCopyable {
  var index: Int
  var output: Output
}

/// A failed task: its number and the kernel's error message.
struct TaskFailure: Codable, Sendable {
  var index: Int
  var message: String
}

/// A task or a result, for the `Codable` channels.
struct Indexed<Value: Codable>: Codable {
  var index: Int
  var value: Value?
  var failure: String?
}

/// The channels between the parent and one worker: tasks one way, results the other. The
/// parent creates them, the worker reopens them (from ``handleData`` when spawned).
/// Subclasses carry `BitwiseCopyable` values through ``SlotRing``s and `Codable` ones
/// through ``ByteRing``s.
class WorkerChannels<Input, Output>: @unchecked Sendable {
  // @unchecked: each end is used by one thread (the dispatcher, or the worker).

  /// The encoded handles a spawned worker reopens the channels from.
  var handleData: Data { fatalError("abstract") }
  /// Whether results may be waiting.
  var hasResults: Bool { fatalError("abstract") }

  /// Parent: sends `inputs[range]` as tasks `jobID << 32 | i` (there is always room: the
  /// dispatcher sends no more than fits).
  func send(jobID: Int, range: Range<Int>, inputs: [Input]) throws { fatalError("abstract") }
  /// Parent: hands every waiting result to `deliver`, without blocking.
  func drain(_ deliver: (Int, Result<Output, PoolError>) -> Void) { fatalError("abstract") }
  /// Parent: no more tasks; the worker exits once it has done those sent.
  func close() { fatalError("abstract") }
  /// Worker: the next tasks, waiting for at least one; nil once closed and drained.
  func receive(max: Int) -> [(index: Int, input: Input)]? { fatalError("abstract") }
  /// Worker: sends results.
  func reply(_ results: [(index: Int, result: Result<Output, PoolError>)]) throws { fatalError("abstract") }
}

/// Channels of typed slots, for `BitwiseCopyable` inputs and outputs: no serialisation.
final class SlotChannels<Input: BitwiseCopyable, Output: BitwiseCopyable>: WorkerChannels<Input, Output>,
  @unchecked Sendable
{
  struct Handles: Codable {
    var tasks: SlotRing<TaskSlot<Input>>.Handle
    var results: SlotRing<ResultSlot<Output>>.Handle
    var failures: ByteRing.Handle
  }

  let tasks: SlotRing<TaskSlot<Input>>
  let results: SlotRing<ResultSlot<Output>>
  let failures: ByteRing
  private var taskBuffer: [TaskSlot<Input>] = []
  private var resultBuffer: [ResultSlot<Output>] = []

  init(capacity: Int) throws {
    tasks = try SlotRing(capacity: capacity, mode: .singleProducerSingleConsumer)
    results = try SlotRing(capacity: capacity, mode: .singleProducerSingleConsumer)
    failures = try ByteRing(capacity: 64 * 1024)
  }

  init(handleData: Data) throws {
    let handles = try JSONDecoder().decode(Handles.self, from: handleData)
    tasks = try SlotRing(handles.tasks)
    results = try SlotRing(handles.results)
    failures = try ByteRing(handles.failures)
  }

  override var handleData: Data {
    // Handles are plain Codable values: encoding cannot fail.
    try! JSONEncoder().encode(Handles(tasks: tasks.handle, results: results.handle, failures: failures.handle))
  }

  override var hasResults: Bool { results.count > 0 || failures.hasData }

  override func send(jobID: Int, range: Range<Int>, inputs: [Input]) throws {
    taskBuffer.removeAll(keepingCapacity: true)
    for local in range { taskBuffer.append(TaskSlot(index: jobID << 32 | local, input: inputs[local])) }
    try tasks.push(contentsOf: taskBuffer)
  }

  override func drain(_ deliver: (Int, Result<Output, PoolError>) -> Void) {
    resultBuffer.removeAll(keepingCapacity: true)
    while let slot = results.tryPop() { deliver(slot.index, .success(slot.output)) }
    while failures.hasData, let failure = try? failures.receive(TaskFailure.self, timeout: drainTimeout) {
      deliver(failure.index, .failure(.kernelFailed(failure.message)))
    }
  }

  override func close() {
    tasks.close()
  }

  override func receive(max: Int) -> [(index: Int, input: Input)]? {
    let received = [TaskSlot<Input>](unsafeUninitializedCapacity: max) { buffer, count in
      count = (try? tasks.pop(into: buffer)) ?? 0
    }
    guard !received.isEmpty else { return nil }
    return received.map { ($0.index, $0.input) }
  }

  override func reply(_ batch: [(index: Int, result: Result<Output, PoolError>)]) throws {
    resultBuffer.removeAll(keepingCapacity: true)
    for item in batch {
      switch item.result {
      case .success(let output): resultBuffer.append(ResultSlot(index: item.index, output: output))
      case .failure(let error): try failures.send(TaskFailure(index: item.index, message: error.message))
      }
    }
    try results.push(contentsOf: resultBuffer)
  }
}

/// Channels of JSON messages, for `Codable` inputs and outputs of any size.
final class ByteChannels<Input: Codable, Output: Codable>: WorkerChannels<Input, Output>, @unchecked Sendable {
  struct Handles: Codable {
    var tasks: ByteRing.Handle
    var results: ByteRing.Handle
  }

  let tasks: ByteRing
  let results: ByteRing

  init(capacity: Int) throws {
    tasks = try ByteRing(capacity: capacity)
    results = try ByteRing(capacity: capacity)
  }

  init(handleData: Data) throws {
    let handles = try JSONDecoder().decode(Handles.self, from: handleData)
    tasks = try ByteRing(handles.tasks)
    results = try ByteRing(handles.results)
  }

  override var handleData: Data {
    // Handles are plain Codable values: encoding cannot fail.
    try! JSONEncoder().encode(Handles(tasks: tasks.handle, results: results.handle))
  }

  override var hasResults: Bool { results.hasData }

  override func send(jobID: Int, range: Range<Int>, inputs: [Input]) throws {
    try tasks.send(range.map { Indexed(index: jobID << 32 | $0, value: inputs[$0], failure: nil) })
  }

  override func drain(_ deliver: (Int, Result<Output, PoolError>) -> Void) {
    while results.hasData, let batch = try? results.receive([Indexed<Output>].self, timeout: drainTimeout) {
      for item in batch {
        if let value = item.value {
          deliver(item.index, .success(value))
        } else {
          deliver(item.index, .failure(.kernelFailed(item.failure ?? "unknown error")))
        }
      }
    }
  }

  override func close() {
    tasks.close()
  }

  override func receive(max: Int) -> [(index: Int, input: Input)]? {
    guard let batch = try? tasks.receive([Indexed<Input>].self) else { return nil }
    return batch.compactMap { item in item.value.map { (item.index, $0) } }
  }

  override func reply(_ batch: [(index: Int, result: Result<Output, PoolError>)]) throws {
    try results.send(
      batch.map { item in
        switch item.result {
        case .success(let output): Indexed(index: item.index, value: output, failure: nil)
        case .failure(let error): Indexed<Output>(index: item.index, value: nil, failure: error.message)
        }
      })
  }
}
