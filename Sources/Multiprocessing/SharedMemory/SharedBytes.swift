import CSystemShims
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Byte hand-over through descriptors: memfds that carry a payload to a new process, and
/// reading or writing whole buffers despite short transfers and interruptions.
enum SharedBytes {
  /// A memfd (close-on-exec) holding `bytes`, positioned at its start.
  static func memfd(named name: String, holding bytes: Data) throws -> Int32 {
    let fd = cs_memfd_create(name, cs_MFD_CLOEXEC)
    guard fd >= 0 else { throw ProcessError.system(call: "memfd_create", errno: -fd) }
    do {
      try writeAll(fd, bytes)
      guard lseek(fd, 0, SEEK_SET) == 0 else { throw ProcessError.system(call: "lseek", errno: errno) }
    } catch {
      close(fd)
      throw error
    }
    return fd
  }

  /// Writes every byte of `bytes` to `fd`.
  static func writeAll(_ fd: Int32, _ bytes: Data) throws {
    try bytes.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
        if written < 0 {
          if errno == EINTR { continue }
          throw ProcessError.system(call: "write", errno: errno)
        }
        offset += written
      }
    }
  }

  /// Reads from `fd` until end of file.
  static func readAll(_ fd: Int32) throws -> Data {
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
      let count = read(fd, &buffer, buffer.count)
      if count < 0 {
        if errno == EINTR { continue }
        throw ProcessError.system(call: "read", errno: errno)
      }
      if count == 0 { return data }
      data.append(contentsOf: buffer[0..<count])
    }
  }

  /// Reads exactly one `Int32`, or nil at end of file (or on error).
  static func readInt32(_ fd: Int32) -> Int32? {
    var value: Int32 = 0
    var got = 0
    while got < 4 {
      let count = withUnsafeMutableBytes(of: &value) { read(fd, $0.baseAddress! + got, 4 - got) }
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { return nil }
      got += count
    }
    return value
  }

  /// Writes one `Int32`; false when the other end is gone.
  @discardableResult
  static func writeInt32(_ fd: Int32, _ value: Int32) -> Bool {
    (try? writeAll(fd, withUnsafeBytes(of: value) { Data($0) })) != nil
  }
}
