import Foundation
import Multiprocessing

/// One task: its number in the pool and its input.
struct TaskSlot<Input: BitwiseCopyable>: BitwiseCopyable {
  var index: TaskID
  var input: Input
}

/// One successful result: the task's number and its output.
struct ResultSlot<Output: BitwiseCopyable>: BitwiseCopyable {
  var index: TaskID
  var output: Output
}

/// Outputs of consecutive tasks, as bitwise copies in a buffer: task `firstIndex + k` has its
/// output's `byteCount` bytes at `outputs + k * stride`.
struct OutputRun {
  var firstIndex: TaskID
  var count: Int
  var outputs: UnsafeRawPointer
  var stride: Int
  var byteCount: Int
}

/// A failed task: its number and the kernel's error message.
struct TaskFailure: Codable, Sendable {
  var index: TaskID
  var message: String
  /// Whether the input or output could not be encoded or decoded (rather than the kernel
  /// throwing).
  var coding = false

  /// What the caller gets for this failure.
  var error: PoolError { coding ? .codingFailed(message) : .kernelFailed(message) }
}

/// Why `value` cannot be encoded, or nil when it can: to find the values at fault once a
/// whole message could not be encoded.
func encodingFailure(of value: some Encodable) -> String? {
  do {
    _ = try BinaryEncoder().encode(value)
    return nil
  } catch {
    return "\(error)"
  }
}

/// A value decoded on its own, so that one that cannot be decoded fails alone: `value`, or
/// why there is none.
struct Lenient<Value: Decodable>: Decodable {
  var value: Value?
  var error: String?

  init(from decoder: any Decoder) throws {
    do { value = try Value(from: decoder) } catch { self.error = "\(error)" }
  }
}

/// A ``TaskBatch`` whose inputs are decoded one by one.
struct LenientTaskBatch<Input: Decodable>: Decodable {
  var first: TaskID
  var inputs: [Lenient<Input>]
}

/// A ``ResultMessage`` whose outputs are decoded one by one.
struct LenientResultMessage<Output: Decodable>: Decodable {
  var indices: [TaskID]
  var outputs: [Lenient<Output>]
  var failures: [TaskFailure]
  var status: StatusReport?
}

/// A chunk's message would have to wait for a worker that is busy with earlier ones: the
/// dispatcher, which also supervises, must not block on it.
struct WorkerBusy: Error {}

/// The inputs of a chunk that could not be encoded: each failing task's number in its job,
/// with the reason; `error` is what encoding the whole chunk threw.
struct UnsendableInputs: Error {
  var reasons: [Int: String]
  var error: String
}

/// A chunk of tasks for the `Codable` channels: task `first + k` has input `inputs[k]`.
struct TaskBatch<Input: Codable>: Codable {
  var first: TaskID
  var inputs: [Input]
}

/// The results a worker sends at once, for the `Codable` channels: task `indices[k]` gave
/// `outputs[k]`, and the tasks in `failures` failed; over a link without a shared status
/// line, with the worker's status when it changed.
struct ResultMessage<Output: Codable>: Codable {
  var indices: [TaskID] = []
  var outputs: [Output] = []
  var failures: [TaskFailure] = []
  var status: StatusReport?
}

extension TaskFailure {
  /// Decodes the fields in order, as ``encode(to:)`` wrote them.
  init(from decoder: any Decoder) throws {
    var fields = try decoder.unkeyedContainer()
    index = try fields.decode(TaskID.self)
    message = try fields.decode(String.self)
    coding = try fields.decode(Bool.self)
  }

  /// Encodes the fields in order, without keys (as ``WorkerPlan``).
  func encode(to encoder: any Encoder) throws {
    var fields = encoder.unkeyedContainer()
    try fields.encode(index)
    try fields.encode(message)
    try fields.encode(coding)
  }
}
