import CSystemShims
import Foundation
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

extension FileDescriptor {
  /// A pipe whose ends close on exec (and, with `nonBlocking`, never block): the doorbells
  /// and handshakes of the package.
  package static func pipeClosingOnExec(
    nonBlocking: Bool = false
  ) throws(Errno) -> (readEnd: FileDescriptor, writeEnd: FileDescriptor) {
    try pipe(options: nonBlocking ? [.closeOnExec, .nonBlocking] : [.closeOnExec])
  }

  /// A connected pair of Unix sockets of `type` (`SOCK_STREAM`, `SOCK_SEQPACKET`) that close
  /// on exec.
  package static func socketPairClosingOnExec(
    type: Int32
  ) throws(Errno) -> (FileDescriptor, FileDescriptor) {
    var ends: [Int32] = [-1, -1]
    _ = try SystemCall.retrying { socketpair(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) }
    return (FileDescriptor(rawValue: ends[0]), FileDescriptor(rawValue: ends[1]))
  }

  /// Opens `path` with `flags` (close-on-exec is added).
  package static func openClosingOnExec(_ path: String, flags: Int32) throws(Errno) -> FileDescriptor {
    FileDescriptor(rawValue: try SystemCall.retrying { Glibc.open(path, flags | O_CLOEXEC) })
  }

  /// Opens `/proc/PID/fd/FD`, descriptor `descriptor` of process `pid`, with `flags`
  /// (close-on-exec is added): a new open file description of the same file.
  ///
  /// A pool worker opens its channels this way first thing after its fork; the path is made
  /// in C (`cs_open_descriptor_of_process`): a fork child must build no new type, and a
  /// forked child maps again each piece of code it runs (docs/performance.md), where string
  /// interpolation's were ten of a worker's page faults.
  package static func openClosingOnExec(
    descriptor: Int32, ofProcess pid: pid_t, flags: Int32
  ) throws(Errno) -> FileDescriptor {
    FileDescriptor(rawValue: try SystemCall.shim { cs_open_descriptor_of_process(pid, descriptor, flags) })
  }

  /// A second descriptor for the same open file, closed on exec (plain `dup` loses the flag).
  package func duplicateClosingOnExec() throws(Errno) -> FileDescriptor {
    FileDescriptor(rawValue: try SystemCall.retrying { fcntl(rawValue, F_DUPFD_CLOEXEC, 0) })
  }

  /// Closes the descriptor, dropping the result: on Linux `close` releases the descriptor
  /// whatever it reports (`EINTR`, or `EIO` for data that nothing here writes through), so
  /// there is nothing to retry — a retry could close a descriptor another thread just
  /// opened — and nothing the caller could do.
  package func release() {
    _ = Glibc.close(rawValue)
  }

  /// Reads into `buffer`, retrying `EINTR`: the count read, 0 at end of file.
  package func readSome(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
    try SystemCall.retrying { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
  }

  /// Writes every byte of `buffer`, despite short writes and interruptions.
  package func writeAll(_ buffer: UnsafeRawBufferPointer) throws(Errno) {
    var offset = 0
    while offset < buffer.count {
      offset += try SystemCall.retrying {
        Glibc.write(rawValue, buffer.baseAddress! + offset, buffer.count - offset)
      }
    }
  }

  /// How many bytes wait to be read on this descriptor (a pipe's or a socket's).
  package func unreadBytes() throws(Errno) -> Int {
    Int(try SystemCall.shim { cs_unread_bytes(rawValue) })
  }

  /// The capacity of the pipe this descriptor is an end of, set to at least `bytes` when
  /// given (rounded up to pages; at most `/proc/sys/fs/pipe-max-size` for other users than root).
  package func pipeCapacity(setTo bytes: Int? = nil) throws(Errno) -> Int {
    if let bytes { return Int(try SystemCall.shim { cs_set_pipe_capacity(rawValue, Int32(clamping: bytes)) }) }
    return Int(try SystemCall.shim { cs_pipe_capacity(rawValue) })
  }

  /// Writes every byte of `data`.
  package func writeAll(_ data: Data) throws(Errno) {
    try data.withUnsafeBytes { buffer in Result { () throws(Errno) in try writeAll(buffer) } }.get()
  }

  /// Reads until end of file.
  package func readToEnd() throws(Errno) -> Data {
    // A page on the stack at a time: a forked child reads its description this way, and each
    // page of a large heap buffer it zeroed was a page fault.
    var data = Data()
    return try withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 16) { (buffer) throws(Errno) -> Data in
      while true {
        let count = try readSome(into: buffer)
        if count == 0 { return data }
        data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
      }
    }
  }

  /// Fills `buffer` completely; false at end of file before it was full.
  package func readExactly(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Bool {
    var got = 0
    while got < buffer.count {
      let count = try readSome(into: UnsafeMutableRawBufferPointer(rebasing: buffer[got...]))
      if count == 0 { return false }
      got += count
    }
    return true
  }

  /// Reads one `Int32`; nil at end of file or on an error (the writer is gone).
  package func readInt32() -> Int32? {
    var value: Int32 = 0
    let complete = withUnsafeMutableBytes(of: &value) { try? readExactly(into: $0) }
    return complete == true ? value : nil
  }

  /// Sends one `Int32` on a socket; false when the other end is gone. Without `SIGPIPE`: a
  /// fork server writing to a client that closed its end would otherwise die of it.
  @discardableResult
  package func sendInt32(_ value: Int32) -> Bool {
    withUnsafeBytes(of: value) { bytes in
      (try? SystemCall.retrying { Glibc.send(rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) })
        == bytes.count
    }
  }

  /// Writes one byte to a doorbell pipe. The result is dropped on purpose: a full pipe
  /// (`EAGAIN`) already holds a wake-up, and a closed one has no sleeper left to wake.
  package func ring() {
    var byte: UInt8 = 1
    _ = try? SystemCall.retrying { Glibc.write(rawValue, &byte, 1) }
  }

  /// Empties a non-blocking doorbell pipe or signalfd (reads until `EAGAIN` or end of file).
  /// The buffer holds 32 of a signalfd's 128-byte records: a smaller one than a record makes
  /// its read fail with `EINVAL`, and the signal would stay pending for ever.
  package func drain() {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while let count = try? buffer.withUnsafeMutableBytes({ (bytes) throws(Errno) in try readSome(into: bytes) }),
      count > 0
    {}
  }

  /// Sends `bytes` and up to 4 descriptors as one message on a Unix socket.
  package func send(_ bytes: [UInt8], descriptors: [FileDescriptor]) throws(Errno) {
    let raw = descriptors.map { $0.rawValue }
    _ = try SystemCall.shim { cs_send_with_fds(rawValue, bytes, bytes.count, raw, Int32(raw.count)) }
  }

  /// Receives one message into `bytes` with up to 4 descriptors: the byte count (0 at end of
  /// stream) and the descriptors. A message longer than `bytes` is refused whole (its
  /// descriptors closed) with `EMSGSIZE`.
  package func receive(into bytes: inout [UInt8]) throws(Errno) -> (count: Int, descriptors: [FileDescriptor]) {
    var fds: [Int32] = [-1, -1, -1, -1]
    var fdCount: Int32 = 0
    let capacity = bytes.count
    let count = try SystemCall.shim { cs_receive_with_fds(rawValue, &bytes, capacity, &fds, 4, &fdCount) }
    return (count, fds.prefix(Int(fdCount)).map(FileDescriptor.init(rawValue:)))
  }
}
