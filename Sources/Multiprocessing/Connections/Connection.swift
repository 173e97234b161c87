import CSystemShims
import Foundation
import SystemCalls
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// One end of a pipe between processes: Python's `multiprocessing.connection.Connection`, as
/// ``pipe(duplex:)`` (Python's `Pipe()`) makes them.
///
/// Messages are framed (a length, then the bytes): ``send(_:)`` and ``recv(_:)`` carry
/// `Codable` values in `BinaryEncoder`'s form, ``sendBytes(_:)`` and ``recvBytes()`` raw
/// bytes. A receive waits for a whole message; ``poll(timeout:)`` says whether one is there,
/// and ``wait(for:sentinels:timeout:)`` waits on several connections and process sentinels at
/// once, as Python's `multiprocessing.connection.wait`.
///
/// A forked child uses the ends it inherited; a spawned or fork-server child reopens an end
/// from its ``handle`` (through `/proc/PID/fd` of the process that made the pipe, which must
/// still be running). As with any pipe, the reader sees the end of the stream only once every
/// holder of the other end has closed it — a parent that hands an end to a child should close
/// its own copy. Each end may be used by several threads of one process (a message is sent
/// and received whole), but not by two processes at once.
///
/// ```swift
/// let (parentEnd, childEnd) = try Connection.pipe()
/// let child = Process { try childEnd.send(try childEnd.recv(Int.self) * 2) }
/// try child.start()
/// childEnd.close()
/// try parentEnd.send(21)
/// print(try parentEnd.recv(Int.self))   // 42
/// ```
public final class Connection: @unchecked Sendable {
  // @unchecked: the descriptors are guarded by `lock`; a read or a write holds its own lock
  // for a whole message.

  /// What a spawned or fork-server child reopens an end from.
  ///
  /// In the process that made it, a handle keeps its connection (and so its descriptors)
  /// open: a child started with it in its arguments can reopen it even after the connection
  /// was released, for as long as its `Process` holds the arguments.
  public struct Handle: Codable, Sendable, Hashable {
    /// The process that holds the descriptors.
    public var pid: Int32
    /// Its descriptor for reading (nil for a sending-only end).
    public var readDescriptor: Int32?
    /// Its descriptor for writing (nil for a receiving-only end).
    public var writeDescriptor: Int32?
    /// The connection, in the process that made the handle (see `ObjectKeeper`).
    let keeper: ObjectKeeper
  }

  /// The largest message, in bytes.
  public static let maxMessage = 1 << 30

  // Fork-safe: a forked child's copy of a connection another thread of the parent was using
  // would otherwise wait for ever on the copied lock.
  private let lock = ForkSafeLock()
  private let reading = ForkSafeLock()
  private let writing = ForkSafeLock()
  private var readEnd: FileDescriptor?
  private var writeEnd: FileDescriptor?
  private let canRead: Bool
  private let canWrite: Bool
  private let framing: Framing

  /// How a message's length travels before its bytes.
  enum Framing {
    /// 8 bytes, little-endian: a pipe's.
    case native
    /// Python's: 4 bytes, big-endian, or -1 and then 8 bytes for a message over 2 GiB — a
    /// socket's (``Listener``, ``connect(to:authKey:)``), so that Python's
    /// `multiprocessing.connection` talks to it.
    case python
  }

  private init(readEnd: FileDescriptor?, writeEnd: FileDescriptor?, framing: Framing = .native) {
    self.readEnd = readEnd
    self.writeEnd = writeEnd
    self.framing = framing
    canRead = readEnd != nil
    canWrite = writeEnd != nil
  }

  /// A connection over a connected stream socket, in Python's framing: it reads `socket` and
  /// writes a duplicate of it (each end is closed on its own).
  convenience init(socket: FileDescriptor) throws(ConnectionError) {
    let writeEnd: FileDescriptor
    do { writeEnd = try socket.duplicateClosingOnExec() } catch {
      socket.release()
      throw .system(call: "fcntl", errno: error)
    }
    self.init(readEnd: socket, writeEnd: writeEnd, framing: .python)
  }

  /// Two connected ends: each both sends and receives (`duplex`, the default), or the first
  /// only receives and the second only sends.
  ///
  /// - Throws: ``ConnectionError/system(call:errno:)`` when out of descriptors.
  public static func pipe(duplex: Bool = true) throws(ConnectionError) -> (Connection, Connection) {
    do throws(Errno) {
      let forward = try FileDescriptor.pipeClosingOnExec(nonBlocking: false)
      guard duplex else {
        return (
          Connection(readEnd: forward.readEnd, writeEnd: nil), Connection(readEnd: nil, writeEnd: forward.writeEnd)
        )
      }
      let backward: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
      do { backward = try FileDescriptor.pipeClosingOnExec(nonBlocking: false) } catch {
        forward.readEnd.release()
        forward.writeEnd.release()
        throw error
      }
      return (
        Connection(readEnd: forward.readEnd, writeEnd: backward.writeEnd),
        Connection(readEnd: backward.readEnd, writeEnd: forward.writeEnd)
      )
    } catch {
      throw .system(call: "pipe", errno: error)
    }
  }

  /// An end reopened from `handle` in another process (or duplicated in the same one).
  ///
  /// - Throws: ``ConnectionError/system(call:errno:)``, `ENOENT` when the process that holds
  ///   the end has gone.
  public convenience init(_ handle: Handle) throws(ConnectionError) {
    func open(_ descriptor: Int32?, _ flags: Int32) throws(ConnectionError) -> FileDescriptor? {
      guard let descriptor else { return nil }
      do {
        if handle.pid == getpid() { return try FileDescriptor(rawValue: descriptor).duplicateClosingOnExec() }
        return try FileDescriptor.openClosingOnExec(descriptor: descriptor, ofProcess: handle.pid, flags: flags)
      } catch {
        throw .system(call: "open", errno: error)
      }
    }
    let read = try open(handle.readDescriptor, O_RDONLY)
    let write: FileDescriptor?
    do { write = try open(handle.writeDescriptor, O_WRONLY) } catch {
      read?.release()
      throw error
    }
    self.init(readEnd: read, writeEnd: write)
  }

  deinit { close() }

  /// What another process reopens this end from.
  public var handle: Handle {
    lock.withLock {
      Handle(
        pid: getpid(), readDescriptor: readEnd?.rawValue, writeDescriptor: writeEnd?.rawValue,
        keeper: ObjectKeeper(self))
    }
  }

  /// Whether this end can receive (all but the sending end of a one-way pipe).
  public var readable: Bool { canRead }
  /// Whether this end can send (all but the receiving end of a one-way pipe).
  public var writable: Bool { canWrite }

  /// The descriptor a receive reads, for `poll`; nil once closed or for a sending-only end.
  public var fileDescriptor: Int32? { lock.withLock { readEnd?.rawValue } }

  /// Closes this end (its copies in other processes stay open).
  public func close() {
    lock.withLock {
      readEnd?.release()
      writeEnd?.release()
      (readEnd, writeEnd) = (nil, nil)
    }
  }

  // MARK: Sending

  /// Sends `value` in `BinaryEncoder`'s form, as one message.
  ///
  /// - Throws: ``ConnectionError/codingFailed(_:)`` (nothing was sent), ``ConnectionError/peerGone``,
  ///   ``ConnectionError/closed``, ``ConnectionError/wrongDirection(_:)``.
  public func send<T: Encodable>(_ value: T) throws(ConnectionError) {
    let bytes: Data
    do { bytes = try BinaryEncoder().encode(value) } catch { throw .codingFailed("\(error)") }
    try bytes.withUnsafeBytes { buffer in Result { () throws(ConnectionError) in try sendMessage(buffer) } }.get()
  }

  /// Sends `value` in `BinaryEncoder`'s form unless the pipe has no room for its start: false
  /// then, with nothing sent. Once begun, a message is sent whole, waiting for room if need be
  /// (one up to 4 KiB with its length goes in one write, all at once or not at all). For an
  /// end from ``nonBlockingWriter()``; on a blocking end it waits as ``send(_:)``.
  package func trySend<T: Encodable>(_ value: T) throws(ConnectionError) -> Bool {
    let bytes: Data
    do { bytes = try BinaryEncoder().encode(value) } catch { throw .codingFailed("\(error)") }
    return try trySendBytes(bytes)
  }

  /// Sends `message`, bytes already in `BinaryEncoder`'s form, as ``trySend(_:)`` sends a
  /// value: false, with nothing sent, when the pipe has no room for its start.
  package func trySendBytes(_ message: Data) throws(ConnectionError) -> Bool {
    do throws(ConnectionError) {
      try message.withUnsafeBytes { buffer in Result { () throws(ConnectionError) in try sendMessage(buffer) } }.get()
      return true
    } catch .system(_, .resourceTemporarilyUnavailable) {
      return false
    }
  }

  /// A second sending end on the same pipe whose writes never wait for room at their start
  /// (see ``trySend(_:)``): a new open file of the pipe, non-blocking, this end's own flags
  /// untouched.
  package func nonBlockingWriter() throws(ConnectionError) -> Connection {
    guard canWrite else { throw .wrongDirection("send") }
    guard let end = lock.withLock({ writeEnd }) else { throw .closed }
    do {
      let writer = try FileDescriptor.openClosingOnExec(
        "/proc/self/fd/\(end.rawValue)", flags: O_WRONLY | O_NONBLOCK)
      return Connection(readEnd: nil, writeEnd: writer, framing: framing)
    } catch {
      throw .system(call: "open", errno: error)
    }
  }

  /// Waits until the pipe has room for a write, or `timeout` passes; whether it has.
  package func waitUntilWritable(timeout: Duration?) throws(ConnectionError) -> Bool {
    guard canWrite else { throw .wrongDirection("send") }
    guard let end = lock.withLock({ writeEnd }) else { throw .closed }
    return SystemCall.pollWritable(end.rawValue, timeout: timeout)
  }

  /// Sends `bytes` as one message.
  public func sendBytes(_ bytes: [UInt8]) throws(ConnectionError) {
    try bytes.withUnsafeBytes { buffer in Result { () throws(ConnectionError) in try sendMessage(buffer) } }.get()
  }

  private func sendMessage(_ payload: UnsafeRawBufferPointer) throws(ConnectionError) {
    guard canWrite else { throw .wrongDirection("send") }
    guard payload.count <= Self.maxMessage else { throw .messageTooLarge(payload.count) }
    try writing.withLock { () throws(ConnectionError) in
      guard let end = lock.withLock({ writeEnd }) else { throw .closed }
      // Length and bytes in one write: a pipe writes up to PIPE_BUF (4096) bytes at once or
      // not at all, so a sender killed mid-send leaves no half message when it is small.
      let header = Self.header(payload.count, framing)
      let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: header.count + payload.count, alignment: 8)
      defer { frame.deallocate() }
      header.withUnsafeBytes { frame.copyMemory(from: $0) }
      if payload.count > 0 {
        (frame.baseAddress! + header.count).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
      }
      try write(UnsafeRawBufferPointer(frame), to: end)
    }
  }

  /// The bytes of a message's length in `framing`.
  private static func header(_ count: Int, _ framing: Framing) -> [UInt8] {
    switch framing {
    case .native: withUnsafeBytes(of: UInt64(count).littleEndian) { Array($0) }
    case .python where count <= Int(Int32.max): withUnsafeBytes(of: Int32(count).bigEndian) { Array($0) }
    case .python:
      withUnsafeBytes(of: Int32(-1).bigEndian) { Array($0) }
        + withUnsafeBytes(of: UInt64(count).bigEndian) { Array($0) }
    }
  }

  /// Writes all of `buffer`. On a non-blocking end, a write with no room before its first byte
  /// throws `EAGAIN` (nothing written); one begun waits for room until it is whole.
  private func write(_ buffer: UnsafeRawBufferPointer, to end: FileDescriptor) throws(ConnectionError) {
    var offset = 0
    while offset < buffer.count {
      do {
        offset += try SystemCall.shim {
          cs_write_nosigpipe(end.rawValue, buffer.baseAddress! + offset, buffer.count - offset)
        }
      } catch .brokenPipe {
        throw .peerGone
      } catch .badFileDescriptor {
        throw .closed
      } catch .resourceTemporarilyUnavailable where offset > 0 {
        _ = SystemCall.pollWritable(end.rawValue, timeout: nil)
      } catch {
        throw .system(call: "write", errno: error)
      }
    }
  }

  // MARK: Receiving

  /// Receives the next message and decodes it as `type`.
  ///
  /// - Throws: ``ConnectionError/endOfStream`` once every writer closed,
  ///   ``ConnectionError/codingFailed(_:)`` for a message that is not a `type` (it is taken
  ///   all the same), ``ConnectionError/closed``, ``ConnectionError/wrongDirection(_:)``.
  public func recv<T: Decodable>(_ type: T.Type = T.self) throws(ConnectionError) -> T {
    let bytes = try receiveMessage()
    do { return try BinaryDecoder().decode(type, from: Data(bytes)) } catch { throw .codingFailed("\(error)") }
  }

  /// Receives the next message's bytes.
  public func recvBytes() throws(ConnectionError) -> [UInt8] {
    try receiveMessage()
  }

  /// Receives the next message's bytes, refusing one longer than `maxLength` (Python's
  /// `recv_bytes(maxlength)`): such a message is read and dropped whole, so the connection
  /// stays usable and the next call receives the next message.
  ///
  /// - Throws: ``ConnectionError/messageOverLimit(length:limit:)`` for a longer message, or
  ///   as ``recvBytes()``.
  public func recvBytes(maxLength: Int) throws(ConnectionError) -> [UInt8] {
    try receiveMessage(limit: max(maxLength, 0))
  }

  /// Receives the next message's bytes into `buffer` (Python's `recv_bytes_into`), without
  /// allocating, and returns their count.
  ///
  /// - Throws: ``ConnectionError/bufferTooShort(_:)`` with the whole message when it does not
  ///   fit (it is taken, and the connection reads on), or as ``recvBytes()``.
  public func recvBytes(into buffer: UnsafeMutableRawBufferPointer) throws(ConnectionError) -> Int {
    try nextMessage { (end, count) throws(ConnectionError) -> Int in
      guard count <= buffer.count else { throw .bufferTooShort(try readWhole(count, from: end)) }
      try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]), from: end)
      return count
    }
  }

  private func receiveMessage(limit: Int = Connection.maxMessage) throws(ConnectionError) -> [UInt8] {
    try nextMessage { (end, count) throws(ConnectionError) -> [UInt8] in
      guard count <= limit else {
        // Read and dropped whole, so that the next message starts where the next read does.
        var left = count
        var scratch = [UInt8](repeating: 0, count: min(count, 1 << 16))
        while left > 0 {
          let part = min(left, scratch.count)
          try scratch.withUnsafeMutableBytes { buffer in
            Result { () throws(ConnectionError) in
              try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<part]), from: end)
            }
          }.get()
          left -= part
        }
        throw .messageOverLimit(length: count, limit: limit)
      }
      return try readWhole(count, from: end)
    }
  }

  /// Holds the reading lock while `body` reads the next message, whose length it is given.
  private func nextMessage<R>(
    _ body: (FileDescriptor, Int) throws(ConnectionError) -> R
  ) throws(ConnectionError) -> R {
    guard canRead else { throw .wrongDirection("receive") }
    return try reading.withLock { () throws(ConnectionError) -> R in
      guard let end = lock.withLock({ readEnd }) else { throw .closed }
      let count = try messageLength(from: end)
      guard count <= Self.maxMessage else { throw .messageTooLarge(count) }
      return try body(end, count)
    }
  }

  /// Reads the next message's length, in this connection's framing.
  private func messageLength(from end: FileDescriptor) throws(ConnectionError) -> Int {
    func value<T: FixedWidthInteger>(_: T.Type) throws(ConnectionError) -> T {
      var value: T = 0
      try withUnsafeMutableBytes(of: &value) { bytes in
        Result { () throws(ConnectionError) in try read(into: bytes, from: end) }
      }.get()
      return value
    }
    switch framing {
    case .native:
      return Int(clamping: UInt64(littleEndian: try value(UInt64.self)))
    case .python:
      let short = Int32(bigEndian: try value(Int32.self))
      if short < -1 { throw .codingFailed("the peer sent a negative message length, \(short)") }
      guard short == -1 else { return Int(short) }
      return Int(clamping: UInt64(bigEndian: try value(UInt64.self)))
    }
  }

  /// The next `count` bytes, as a new array.
  private func readWhole(_ count: Int, from end: FileDescriptor) throws(ConnectionError) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    try bytes.withUnsafeMutableBytes { buffer in
      Result { () throws(ConnectionError) in try read(into: buffer, from: end) }
    }.get()
    return bytes
  }

  private func read(into buffer: UnsafeMutableRawBufferPointer, from end: FileDescriptor) throws(ConnectionError) {
    let complete: Bool
    do { complete = try end.readExactly(into: buffer) } catch {
      throw error == .badFileDescriptor ? .closed : .system(call: "read", errno: error)
    }
    guard complete else { throw .endOfStream }
  }

  /// Whether a message (or the end of the stream) can be received without waiting: at once
  /// (`.zero`, the default), within `timeout`, or waiting as long as it takes (`nil`).
  public func poll(timeout: Duration? = .zero) throws(ConnectionError) -> Bool {
    guard canRead else { throw .wrongDirection("receive") }
    guard let descriptor = fileDescriptor else { throw .closed }
    return !SystemCall.pollReadable([descriptor], timeout: timeout).isEmpty
  }

  /// Waits until one of `connections` can receive or one of `sentinels` (a process's
  /// ``Process/sentinel``) is ready, or `timeout` passes: Python's
  /// `multiprocessing.connection.wait`. Returns those ready, empty after the timeout.
  public static func wait(
    for connections: [Connection], sentinels: [Int32] = [], timeout: Duration? = nil
  ) -> (connections: [Connection], sentinels: [Int32]) {
    let descriptors = connections.map { $0.fileDescriptor ?? -1 }
    let ready = Set(SystemCall.pollReadable(descriptors.filter { $0 >= 0 } + sentinels, timeout: timeout))
    return (
      zip(connections, descriptors).filter { ready.contains($0.1) }.map { $0.0 },
      sentinels.filter { ready.contains($0) }
    )
  }
}
