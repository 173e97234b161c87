import Foundation
import Multiprocessing

/// One direction of a ``MessageChannels`` link: whole byte messages, in order, from one
/// process to another. `ByteRing` carries them through shared memory; ``SystemPipe`` through
/// an operating-system pipe, the pool's second link.
protocol MessagePipe: AnyObject, Sendable {
  /// What another process reopens the pipe from.
  associatedtype Handle: Codable, Sendable

  /// A new pipe that holds about `capacity` bytes.
  init(capacity: Int) throws
  /// The pipe `handle` names, reopened in this process.
  init(_ handle: Handle) throws
  /// What another process reopens the pipe from.
  var handle: Handle { get }
  /// Whether a message (or part of one) waits to be received.
  var hasData: Bool { get }
  /// How many bytes a send could write now without waiting.
  var freeBytes: Int { get }
  /// A descriptor that polls readable when a message waits, where the pipe has one.
  var pollDescriptor: Int32? { get }

  /// Sends `message`, waiting for room at most `timeout` (nil: as long as it takes), and
  /// giving up with `RingError.peerGone` when `peerGone` says the reader is gone.
  func send(_ message: Data, timeout: Duration?, peerGone: (() -> Bool)?) throws
  /// Sends `value` in `BinaryEncoder`'s form.
  func send(_ value: some Encodable, timeout: Duration?) throws
  /// Receives the next message, waiting at most `timeout` (nil: as long as it takes), after
  /// spinning for `spin` where the pipe can; nil once the pipe is closed and drained.
  func receive(timeout: Duration?, spin: Duration, yielding: Bool) throws -> Data?
  /// Closes the pipe: its reader gets what was sent, then nil.
  func close()
}

extension MessagePipe {
  /// Sends `value`, waiting for room as long as it takes.
  func send(_ value: some Encodable) throws {
    try send(value, timeout: nil)
  }

  /// Receives the next message, waiting as long as it takes.
  func receive(spin: Duration, yielding: Bool) throws -> Data? {
    try receive(timeout: nil, spin: spin, yielding: yielding)
  }

  /// Receives the next message, waiting at most `timeout`.
  func receive(timeout: Duration) throws -> Data? {
    try receive(timeout: timeout, spin: Spin.limit, yielding: false)
  }
}

extension ByteRing: MessagePipe {
  /// None: a ring in shared memory is looked at, not polled.
  var pollDescriptor: Int32? { nil }
}
