import ComputeEngine
import Foundation
import Multiprocessing

/// How a ``ClusterPool``'s inputs and outputs travel between ranks: `BitwiseCopyable` values
/// as their bytes, `Codable` ones in `BinaryEncoder`'s form.
struct ClusterCodec<Input: Sendable, Output: Sendable>: Sendable {
  let encodeInputs: @Sendable (ArraySlice<Input>) throws -> [UInt8]
  let decodeInputs: @Sendable (ArraySlice<UInt8>, Int) throws -> [Input]
  let encodeOutputs: @Sendable ([Output]) throws -> [UInt8]
  let decodeOutputs: @Sendable (ArraySlice<UInt8>, Int) throws -> [Output]

  /// Values as their bytes: one copy each way, no coding.
  static func raw() -> ClusterCodec where Input: BitwiseCopyable, Output: BitwiseCopyable {
    ClusterCodec(
      encodeInputs: { inputs in inputs.withUnsafeBytes { Array($0) } },
      decodeInputs: { bytes, count in try rawValues(bytes, count) },
      encodeOutputs: { outputs in outputs.withUnsafeBytes { Array($0) } },
      decodeOutputs: { bytes, count in try rawValues(bytes, count) })
  }

  /// Values in `BinaryEncoder`'s form.
  static func binary() -> ClusterCodec where Input: Codable, Output: Codable {
    ClusterCodec(
      encodeInputs: { inputs in Array(try BinaryEncoder().encode(Array(inputs))) },
      decodeInputs: { bytes, count in try decoded([Input].self, bytes, count) },
      encodeOutputs: { outputs in Array(try BinaryEncoder().encode(outputs)) },
      decodeOutputs: { bytes, count in try decoded([Output].self, bytes, count) })
  }
}

/// `count` values of `T` from their bytes.
private func rawValues<T: BitwiseCopyable>(_ bytes: ArraySlice<UInt8>, _ count: Int) throws -> [T] {
  guard bytes.count == count * MemoryLayout<T>.stride else {
    throw ClusterError.protocolViolation("\(bytes.count) bytes for \(count) values of \(MemoryLayout<T>.stride)")
  }
  return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
    bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
    initialized = count
  }
}

/// `count` values decoded from `BinaryEncoder`'s form.
private func decoded<T: Decodable>(_ type: [T].Type, _ bytes: ArraySlice<UInt8>, _ count: Int) throws -> [T] {
  let values = try BinaryDecoder().decode(type, from: Data(bytes))
  guard values.count == count else {
    throw ClusterError.protocolViolation("\(values.count) values where \(count) were announced")
  }
  return values
}

/// A task that failed on another rank, as it travels back: the ``PoolError`` in a form that
/// can be encoded.
struct RemoteFailure: Codable, Equatable {
  enum Kind: UInt8, Codable {
    case kernel, coding, exited, signaled, timedOut, closed, terminated, invalidArgument, system, initializer, cancelled
  }
  var index: Int
  var kind: Kind
  var pid: Int32 = 0
  var code: Int32 = 0
  var nanoseconds: Int64 = 0
  var message = ""

  /// The failure of task `index`.
  init(index: Int, _ error: PoolError) {
    self.index = index
    switch error {
    case .kernelFailed(let message): (kind, self.message) = (.kernel, message)
    case .codingFailed(let message): (kind, self.message) = (.coding, message)
    case .workerDied(let pid, .exited(let code)): (kind, self.pid, self.code) = (.exited, pid, code)
    case .workerDied(let pid, .signaled(let signal)): (kind, self.pid, self.code) = (.signaled, pid, signal)
    case .taskTimedOut(let pid, let timeout):
      (kind, self.pid) = (.timedOut, pid)
      nanoseconds = Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
    case .closed: kind = .closed
    case .terminated: kind = .terminated
    case .invalidArgument(let message): (kind, self.message) = (.invalidArgument, message)
    case .system(let call, let errno): (kind, self.message, code) = (.system, call, errno.rawValue)
    case .initializerFailed(let message): (kind, self.message) = (.initializer, message)
    case .cancelled: kind = .cancelled
    case .memberFailed, .memberDied, .teamStopped, .stuckAfterFork:
      // A team's errors are never a pool task's own; should one arrive, its message travels.
      (kind, self.message) = (.kernel, error.description)
    }
  }

  /// The error as the driver reports it.
  var error: PoolError {
    switch kind {
    case .kernel: .kernelFailed(message)
    case .coding: .codingFailed(message)
    case .exited: .workerDied(pid: pid, status: .exited(code))
    case .signaled: .workerDied(pid: pid, status: .signaled(code))
    case .timedOut: .taskTimedOut(pid: pid, timeout: .nanoseconds(nanoseconds))
    case .closed: .closed
    case .terminated: .terminated
    case .invalidArgument: .invalidArgument(message)
    case .system: .system(call: message, errno: .init(rawValue: code))
    case .initializer: .initializerFailed(message)
    case .cancelled: .cancelled
    }
  }
}

/// The pool's messages between ranks, as bytes: a few 64-bit header words, then payloads.
enum ClusterMessage {
  /// Driver → rank: a ``bundle(_:)`` of chunks, each the tasks `first ..< first + count` of
  /// the job followed by their inputs.
  static let chunk: Int32 = 1
  /// Rank → driver: a ``bundle(_:)`` of the results of the chunks of one chunk message.
  static let results: Int32 = 2
  /// Driver → rank: no more chunks; finalize.
  static let stop: Int32 = 3
  /// Driver → rank → driver: the same bytes back, to time the raw round trip.
  static let echo: Int32 = 4

  /// Header words followed by `payloads`.
  static func bytes(words: [Int], payloads: [[UInt8]]) -> [UInt8] {
    var bytes = [UInt8]()
    bytes.reserveCapacity(words.count * 8 + payloads.reduce(0) { $0 + $1.count })
    for word in words { withUnsafeBytes(of: Int64(word).littleEndian) { bytes.append(contentsOf: $0) } }
    for payload in payloads { bytes.append(contentsOf: payload) }
    return bytes
  }

  /// `messages` as one: their count, then each one's length and bytes (the chunks a rank
  /// is sent at once, and their results).
  static func bundle(_ messages: [[UInt8]]) -> [UInt8] {
    var bytes = Self.bytes(words: [messages.count], payloads: [])
    for message in messages { bytes += Self.bytes(words: [message.count], payloads: [message]) }
    return bytes
  }

  /// The messages of a ``bundle(_:)``.
  static func unbundle(_ bytes: [UInt8]) throws -> [[UInt8]] {
    let (words, _) = try split(bytes, words: 1)
    var messages: [[UInt8]] = []
    var offset = 8
    for _ in 0..<max(words[0], 0) {
      let (length, _) = try split(Array(bytes[min(offset, bytes.count)...].prefix(8)), words: 1)
      guard length[0] >= 0, offset + 8 + length[0] <= bytes.count else {
        throw ClusterError.protocolViolation("a bundle's message runs past its end")
      }
      messages.append(Array(bytes[offset + 8..<offset + 8 + length[0]]))
      offset += 8 + length[0]
    }
    return messages
  }

  /// The first `count` header words of `bytes`, and what follows them.
  static func split(_ bytes: [UInt8], words count: Int) throws -> (words: [Int], rest: ArraySlice<UInt8>) {
    guard bytes.count >= count * 8 else {
      throw ClusterError.protocolViolation("a message of \(bytes.count) bytes, shorter than its \(count) header words")
    }
    let words = (0..<count).map { index in
      Int(Int64(littleEndian: bytes[index * 8..<index * 8 + 8].withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }))
    }
    return (words, bytes[(count * 8)...])
  }
}
