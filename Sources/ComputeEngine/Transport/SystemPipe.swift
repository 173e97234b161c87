import Foundation
import Multiprocessing
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// One direction of a message link over an operating-system pipe: each message is its length
/// (8 bytes) and its bytes; a length of all ones ends the stream. The pool's second link
/// (``PipeChannels``), beside the shared-memory rings: the worker — forked from a template
/// made before the pipe, or spawned — reopens the pipe through `/proc/PID/fd` of the process
/// that made it.
final class SystemPipe: MessagePipe, @unchecked Sendable {
  // @unchecked: each end is used by one thread (the dispatcher's, under the pool's lock, or
  // the worker's); `ended` is that thread's.
  /// The process that made the pipe, and its read end there.
  struct Handle: Codable, Sendable {
    var pid: Int32
    var descriptor: Int32
  }

  /// The maker's two non-blocking ends, or the one descriptor a worker reopened for both.
  private let readEnd: FileDescriptor
  private let writeEnd: FileDescriptor
  /// How many bytes the pipe holds.
  private let capacity: Int
  /// Whether the end of the stream was read.
  private var ended = false

  /// The length that ends the stream.
  private static let endMark = UInt64.max

  init(capacity: Int) throws {
    (readEnd, writeEnd) = try FileDescriptor.pipeClosingOnExec(nonBlocking: true)
    // Below the asked size when the system's limit is lower: sends then wait sooner.
    if let size = try? writeEnd.pipeCapacity(setTo: capacity) {
      self.capacity = size
    } else {
      self.capacity = try writeEnd.pipeCapacity()
    }
  }

  init(_ handle: Handle) throws {
    // Opened for reading and writing: a pipe reopened through /proc is a new open of it,
    // which a read-only open would make wait for a writer.
    let end = try FileDescriptor.openClosingOnExec(
      descriptor: handle.descriptor, ofProcess: handle.pid, flags: O_RDWR)
    (readEnd, writeEnd) = (end, end)
    capacity = try end.pipeCapacity()
  }

  deinit {
    readEnd.release()
    if writeEnd != readEnd { writeEnd.release() }
  }

  var handle: Handle { Handle(pid: getpid(), descriptor: readEnd.rawValue) }
  var hasData: Bool { ((try? readEnd.unreadBytes()) ?? 0) > 0 }
  var pollDescriptor: Int32? { readEnd.rawValue }
  var freeBytes: Int { capacity - ((try? readEnd.unreadBytes()) ?? capacity) }

  func send(_ message: Data, timeout: Duration?, peerGone: (() -> Bool)?) throws {
    let deadline = timeout.map { ContinuousClock.now + $0 }
    try withUnsafeBytes(of: UInt64(message.count)) { try write($0, until: deadline, peerGone: peerGone) }
    try message.withUnsafeBytes { try write($0, until: deadline, peerGone: peerGone) }
  }

  func send(_ value: some Encodable, timeout: Duration?) throws {
    try send(try BinaryEncoder().encode(value), timeout: timeout, peerGone: nil)
  }

  func receive(timeout: Duration?, spin: Duration, yielding: Bool) throws -> Data? {
    guard !ended else { return nil }
    let deadline = timeout.map { ContinuousClock.now + $0 }
    var length: UInt64 = 0
    guard try withUnsafeMutableBytes(of: &length, { try read(into: $0, until: deadline) }), length != Self.endMark
    else {
      ended = true
      return nil
    }
    var message = Data(count: Int(length))
    guard try message.withUnsafeMutableBytes({ try read(into: $0, until: deadline) }) else {
      ended = true
      return nil
    }
    return message
  }

  /// Writes the end of the stream after what was sent, waiting up to ``closeBound`` for room
  /// while the reader drains the pipe (the pool closes its workers' pipes once they took every
  /// task, so there is room at once). A reader that reads nothing for that long gets no end:
  /// the pool kills such a worker at its shutdown.
  func close() {
    try? withUnsafeBytes(of: Self.endMark) { try write($0, until: .now + Self.closeBound, peerGone: nil) }
  }

  /// How long a close waits for room for the end of the stream.
  static let closeBound = Duration.seconds(2)

  /// Writes every byte of `bytes`, waiting for room while the pipe is full.
  private func write(
    _ bytes: UnsafeRawBufferPointer, until deadline: ContinuousClock.Instant?, peerGone: (() -> Bool)?
  ) throws {
    var done = 0
    while done < bytes.count {
      let count = Glibc.write(writeEnd.rawValue, bytes.baseAddress! + done, bytes.count - done)
      if count > 0 {
        done += count
        continue
      }
      guard errno == EAGAIN || errno == EINTR else { throw RingError.peerGone }
      // Full: wait in slices, looking whether the reader is gone between them.
      let slice = deadline.map { min($0 - .now, .milliseconds(5)) } ?? .milliseconds(5)
      if !SystemCall.pollWritable(writeEnd.rawValue, timeout: max(slice, .zero)) {
        if peerGone?() == true { throw RingError.peerGone }
        if let deadline, ContinuousClock.now >= deadline { throw RingError.timedOut }
      }
    }
  }

  /// Fills `bytes`, waiting for them; false at the end of the stream before any was read.
  private func read(into bytes: UnsafeMutableRawBufferPointer, until deadline: ContinuousClock.Instant?) throws -> Bool
  {
    var done = 0
    while done < bytes.count {
      let count = Glibc.read(readEnd.rawValue, bytes.baseAddress! + done, bytes.count - done)
      if count > 0 {
        done += count
        continue
      }
      if count == 0 { return false }
      guard errno == EAGAIN || errno == EINTR else { throw RingError.closed }
      let left = deadline.map { $0 - .now }
      if let left, left <= .zero { throw RingError.timedOut }
      _ = SystemCall.pollReadable([readEnd.rawValue], timeout: left)
    }
    return true
  }
}
